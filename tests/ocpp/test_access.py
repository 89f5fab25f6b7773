"""Sessions on the hub's own chargers are stopped and profiled only by their token's eMSP."""

from __future__ import annotations

from typing import Any

from tests.conftest import running_party, token_header
from tests.hub.network import EMSP_ENDPOINTS, register
from tests.ocpp.harness import World, at, charger, send_command, wait_for, world
from tests.peers import FakeParty


async def _as(w: World, party: FakeParty, method: str, path: str, **kw: Any) -> dict[str, Any]:
    assert party.hub_token
    response = await w.http.request(
        method, w.ocpi(path), headers=token_header(party.hub_token), **kw
    )
    return dict(response.json())


async def test_another_emsp_cannot_stop_or_profile_an_own_charger_session(
    database_url: str,
) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CPX"])
        other = FakeParty(
            roles=[("EMSP", "DE", "EM2")],
            endpoints=[*EMSP_ENDPOINTS, ("commands", "SENDER"), ("chargingprofiles", "SENDER")],
        )
        async with running_party(other), charger(w, "CPX") as cp:
            await register(w.http, w.hub, other)
            await cp.boot()
            await cp.start_tx("TOK1", at(0))  # the driver of eMSP NL*EM1 badges
            await wait_for(lambda: w.pushes("sessions", "PUT"))
            session_id = w.pushes("sessions", "PUT")[0].body["id"]
            back = f"{other.base_url}/2.2.1/commands/x"

            for session in (session_id, "NOPE"):
                answer = await _as(
                    w,
                    other,
                    "POST",
                    "receiver/commands/STOP_SESSION",
                    json={"response_url": back, "session_id": session},
                )
                assert answer["data"]["result"] == "UNKNOWN_SESSION", answer
                profile = {
                    "response_url": back,
                    "charging_profile": {
                        "charging_rate_unit": "W",
                        "charging_profile_period": [{"start_period": 0, "limit": 7400.0}],
                    },
                }
                answer = await _as(
                    w, other, "PUT", f"receiver/chargingprofiles/{session}", json=profile
                )
                assert answer["data"] == {"result": "UNKNOWN_SESSION", "timeout": 0}, answer
            assert "RemoteStopTransaction" not in cp.calls_seen
            assert "SetChargingProfile" not in cp.calls_seen

            # The token's own eMSP stops it.
            answer = await send_command(
                w, "STOP_SESSION", {"response_url": back, "session_id": session_id}
            )
            assert answer["data"]["result"] == "ACCEPTED"
            await wait_for(lambda: "RemoteStopTransaction" in cp.calls_seen)
