"""OCPI commands and charging profiles for the own CPO, and the admin API's OCPP calls."""

from __future__ import annotations

from typing import Any

from tests.ocpp.harness import at, charger, send_command, send_profile, wait_for, world

TOKEN = {
    "country_code": "NL",
    "party_id": "EM1",
    "uid": "TOK1",
    "type": "RFID",
    "contract_id": "NL-EM1-CTOK1",
    "issuer": "Example eMSP",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2026-01-01T00:00:00Z",
}


def _results(w: Any, tag: str) -> list[dict[str, Any]]:
    return [c.body for c in w.emsp.calls if c.path.endswith(f"/{tag}")]


async def test_unlock_reserve_cancel_and_refusals(database_url: str) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CPC"])
        url = f"{w.emsp.base_url}/2.2.1/cmdresult"
        # Not connected: REJECTED at once.
        answer = await send_command(
            w, "START_SESSION", {"response_url": f"{url}/x", "token": TOKEN, "location_id": "LOC1"}
        )
        assert answer["data"]["result"] == "REJECTED"
        async with charger(w, "CPC") as cp:
            await cp.boot()
            answer = await send_command(
                w,
                "UNLOCK_CONNECTOR",
                {
                    "response_url": f"{url}/u",
                    "location_id": "LOC1",
                    "evse_uid": "CPC-1",
                    "connector_id": "1",
                },
            )
            assert answer["data"]["result"] == "ACCEPTED"
            await wait_for(lambda: _results(w, "u"))
            assert _results(w, "u")[0]["result"] == "ACCEPTED"
            answer = await send_command(
                w,
                "RESERVE_NOW",
                {
                    "response_url": f"{url}/r",
                    "token": TOKEN,
                    "expiry_date": "2030-01-01T00:00:00Z",
                    "reservation_id": "RES1",
                    "location_id": "LOC1",
                    "evse_uid": "CPC-1",
                },
            )
            assert answer["data"]["result"] == "ACCEPTED"
            await wait_for(lambda: _results(w, "r"))
            assert _results(w, "r")[0]["result"] == "ACCEPTED"
            answer = await send_command(
                w, "CANCEL_RESERVATION", {"response_url": f"{url}/c", "reservation_id": "RES1"}
            )
            assert answer["data"]["result"] == "ACCEPTED"
            await wait_for(lambda: _results(w, "c"))
            assert _results(w, "c")[0]["result"] == "ACCEPTED"
            assert cp.calls_seen == ["UnlockConnector", "ReserveNow", "CancelReservation"]
            # The charger refuses a remote start: REJECTED.
            cp.accept_remote = False
            await send_command(
                w,
                "START_SESSION",
                {"response_url": f"{url}/s1", "token": TOKEN, "location_id": "LOC1"},
            )
            await wait_for(lambda: _results(w, "s1"))
            assert _results(w, "s1")[0]["result"] == "REJECTED"
            # Unknown session for STOP_SESSION.
            answer = await send_command(
                w, "STOP_SESSION", {"response_url": f"{url}/t", "session_id": "NOPE"}
            )
            assert answer["data"]["result"] == "UNKNOWN_SESSION"


async def test_remote_start_without_transaction_fails(database_url: str) -> None:
    async with world(database_url, {"ocpp_command_timeout_seconds": 1}) as w:
        await w.setup_site(["CPF"])
        async with charger(w, "CPF") as cp:
            await cp.boot()
            cp._remote_start = _never  # accepts, then never starts the transaction
            await send_command(
                w,
                "START_SESSION",
                {
                    "response_url": f"{w.emsp.base_url}/2.2.1/cmdresult/f",
                    "token": TOKEN,
                    "location_id": "LOC1",
                },
            )
            await wait_for(lambda: _results(w, "f"), timeout=5)
            assert _results(w, "f")[0]["result"] == "FAILED"


async def _never(*args: Any) -> None:
    return None


async def test_charging_profile_becomes_set_charging_profile(database_url: str) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CPP"])
        async with charger(w, "CPP") as cp:
            await cp.boot()
            await cp.start_tx("TOK1", at(0))
            await wait_for(lambda: w.pushes("sessions", "PUT"))
            session_id = w.pushes("sessions", "PUT")[0].body["id"]
            answer = await send_profile(
                w,
                "PUT",
                session_id,
                {
                    "charging_profile": {
                        "charging_rate_unit": "W",
                        "charging_profile_period": [{"start_period": 0, "limit": 7400.0}],
                    }
                },
            )
            assert answer["data"]["result"] == "ACCEPTED"
            await wait_for(lambda: [c for c in w.emsp.calls if c.path.endswith("/put")])
            result = next(c for c in w.emsp.calls if c.path.endswith("/put")).body
            assert result == {"result": "ACCEPTED"}
            assert "SetChargingProfile" in cp.calls_seen
            answer = await send_profile(w, "GET", session_id, None, duration=600)
            assert answer["data"]["result"] == "ACCEPTED"
            await wait_for(lambda: [c for c in w.emsp.calls if c.path.endswith("/get")])
            active = next(c for c in w.emsp.calls if c.path.endswith("/get")).body
            assert active["result"] == "ACCEPTED"
            assert active["profile"]["start_date_time"] == at(0)
            assert active["profile"]["charging_profile"]["charging_profile_period"] == [
                {"start_period": 0, "limit": 7400.0}
            ]
            answer = await send_profile(w, "DELETE", session_id, None)
            assert answer["data"]["result"] == "ACCEPTED"
            await wait_for(lambda: [c for c in w.emsp.calls if c.path.endswith("/delete")])
            cleared = next(c for c in w.emsp.calls if c.path.endswith("/delete")).body
            assert cleared == {"result": "ACCEPTED"}
            answer = await send_profile(w, "DELETE", "UNKNOWN-SESSION", None)
            assert answer["data"]["result"] == "UNKNOWN_SESSION"


async def test_admin_calls_and_listing(database_url: str) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CPA16", "CPA201"])
        base = f"{w.hub.base_url}/admin/chargers"
        r = await w.admin_post(
            "chargers/CPA16/calls/GetConfiguration", {"key": ["HeartbeatInterval"]}
        )
        assert r.status_code == 409  # not connected
        async with charger(w, "CPA16") as cp16, charger(w, "CPA201", "ocpp2.0.1") as cp201:
            await cp16.boot()
            await cp201.boot()
            r = await w.admin_post(
                "chargers/CPA16/calls/GetConfiguration", {"key": ["HeartbeatInterval"]}
            )
            assert r.status_code == 200, r.text
            assert r.json()["configurationKey"][0]["value"] == "300"
            r = await w.admin_post(
                "chargers/CPA201/calls/GetVariables",
                {
                    "getVariableData": [
                        {
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                        }
                    ]
                },
            )
            assert r.status_code == 200, r.text
            assert r.json()["getVariableResult"][0]["attributeValue"] == "300"
            # A call of the other version, and an unknown action: refused.
            r = await w.admin_post("chargers/CPA16/calls/GetVariables", {})
            assert r.status_code == 422
            # The charger does not implement Reset: its CALLERROR comes back as 502.
            r = await w.admin_post("chargers/CPA16/calls/Reset", {"type": "Soft"})
            assert r.status_code == 502
            listing = (await w.http.get(base, headers=w.admin)).json()
            assert {c["charge_point_id"]: c["connected"] for c in listing} == {
                "CPA16": True,
                "CPA201": True,
            }
            assert {c["ocpp_version"] for c in listing} == {"1.6", "2.0.1"}
        r = await w.admin_post("chargers", {"charge_point_id": "CPA16"})
        assert r.status_code == 409
        r = await w.admin_post("chargers", {"charge_point_id": "bad id!"})
        assert r.status_code == 422
        r = await w.http.get(base, headers={})
        assert r.status_code == 401
