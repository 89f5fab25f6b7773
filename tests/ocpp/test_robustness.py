"""Handshake refusals, malformed frames, repeats, late offline transactions, restarts."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from tests.conftest import running_party
from tests.hub.network import EMSP_ENDPOINTS, register
from tests.ocpp.harness import (
    PASSWORD,
    World,
    at,
    charger,
    ocpp_hub,
    open_ws,
    wait_for,
    world,
)
from tests.peers import FakeParty


def _evse_status(w: World, uid: str) -> str | None:
    patches = [c for c in w.pushes("locations", "PATCH") if c.path.endswith(f"/{uid}")]
    return patches[-1].body["status"] if patches else None


async def _refused(w: World, cp: str, protocols: list[str], password: str | None) -> bool:
    try:
        ws = (
            await open_ws(w, cp, protocols[0], password)
            if protocols
            else await connect(w.ws_url + cp, proxy=None, open_timeout=5)
        )
    except websockets.InvalidStatus as exc:
        assert exc.response.status_code == 403
        return True
    await ws.close()
    return False


async def test_handshake_refusals(database_url: str) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CPA"])
        assert await _refused(w, "CPA", [], PASSWORD)  # no subprotocol
        assert await _refused(w, "CPA", ["ocpp1.5"], PASSWORD)  # unsupported one
        assert await _refused(w, "NOPE", ["ocpp1.6"], PASSWORD)  # unknown charger
        assert await _refused(w, "CPA", ["ocpp1.6"], "wrong-password-123")
        assert await _refused(w, "CPA", ["ocpp1.6"], None)
        ws = await open_ws(w, "CPA", "ocpp2.0.1")
        assert ws.subprotocol == "ocpp2.0.1"
        await ws.close()
        ws = await open_ws(w, "CPA", "ocpp1.6")
        assert ws.subprotocol == "ocpp1.6"
        await ws.close()
        # The password is stored hashed.
        ctx = w.hub.app.state.hub
        from app.ocpp.service import get_charger

        async with ctx.sessions() as session:
            row = await get_charger(session, "CPA")
            assert row is not None and row.password_hash is not None
            assert PASSWORD not in row.password_hash


async def test_unknown_chargers_allowed_for_demo(database_url: str) -> None:
    async with world(database_url, {"ocpp_allow_unknown_chargers": True}) as w:
        async with charger(w, "DEMO1", password=None) as cp:
            await cp.boot()
        r = await w.http.get(f"{w.hub.base_url}/admin/chargers/DEMO1", headers=w.admin)
        assert r.status_code == 200
        assert r.json()["vendor"] == "VR"


async def _exchange(ws: Any, frame: str) -> list[Any]:
    await ws.send(frame)
    return list(json.loads(await ws.recv()))


@pytest.mark.parametrize(
    ("protocol", "violation"),
    [("ocpp1.6", "FormationViolation"), ("ocpp2.0.1", "FormatViolation")],
)
async def test_malformed_frames_get_callerror_and_connection_stays(
    database_url: str, protocol: str, violation: str
) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CPM"])
        ws = await open_ws(w, "CPM", protocol)
        answer = await _exchange(ws, '[2, "abc", "Heartbeat", {')
        assert answer[0] == 4 and answer[2] == violation
        answer = await _exchange(ws, '[2, "id-2", "MadeUpAction", {}]')
        assert answer[:3] == [4, "id-2", "NotImplemented"]
        answer = await _exchange(ws, '[2, "id-3", "Heartbeat", {"bogus": 1}]')
        assert answer[0] == 4 and answer[1] == "id-3"
        answer = await _exchange(ws, '[2, "id-4"]')
        assert answer[0] == 4 and answer[2] == "ProtocolError"
        # Still open: a proper Heartbeat is answered.
        answer = await _exchange(ws, '[2, "id-5", "Heartbeat", {}]')
        assert answer[0] == 3 and answer[1] == "id-5" and "currentTime" in answer[2]
        await ws.close()


async def test_repeated_start_and_unknown_stop(database_url: str) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CPR"])
        async with charger(w, "CPR") as cp:
            await cp.boot()
            first = await cp.start_tx("TOK1", at(0))
            again = await cp.start_tx("TOK1", at(0))
            assert first.id_tag_info["status"] == "Accepted"
            assert again.transaction_id == first.transaction_id
            from ocpp.v16 import call as call16

            answer = await cp.call(
                call16.StopTransaction(meter_stop=5, timestamp=at(1), transaction_id=987654)
            )
            assert answer is not None  # accepted (and logged), no CALLERROR
            cp.tx_id = first.transaction_id
            await cp.stop_tx(6000, at(10))
            await cp.stop_tx(6000, at(10))  # a repeated stop changes nothing
            await wait_for(lambda: w.pushes("cdrs", "POST"))
        assert len(w.pushes("sessions", "PUT")) == 1
        assert len(w.pushes("cdrs", "POST")) == 1
        assert w.pushes("cdrs", "POST")[0].body["total_cost"]["excl_vat"] == 2.5


async def test_unknown_and_real_time_tokens(database_url: str) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CPT"])
        await w.push_token("RT1", whitelist="NEVER")
        await w.push_token("BAD", whitelist="ALWAYS", valid=False)
        from ocpp.v16 import call as call16

        async with charger(w, "CPT") as cp:
            await cp.boot()
            unknown = await cp.call(call16.Authorize(id_tag="WHO"))
            assert unknown.id_tag_info["status"] == "Invalid"
            blocked = await cp.call(call16.Authorize(id_tag="BAD"))
            assert blocked.id_tag_info["status"] == "Blocked"
            local = await cp.call(call16.Authorize(id_tag="TOK1"))
            assert local.id_tag_info["status"] == "Accepted"
            assert not [c for c in w.emsp.calls if c.path.endswith("/authorize")]
            # NEVER: the eMSP is asked in real time.
            w.emsp.answers["tokens"] = {"allowed": "NOT_ALLOWED", "token": {}}
            refused = await cp.call(call16.Authorize(id_tag="RT1"))
            assert refused.id_tag_info["status"] == "Invalid"
            w.emsp.answers["tokens"] = {
                "allowed": "ALLOWED",
                "token": {},
                "authorization_reference": "REF42",
            }
            allowed = await cp.start_tx("RT1", at(0))
            assert allowed.id_tag_info["status"] == "Accepted"
            asked = [c for c in w.emsp.calls if c.path.endswith("/RT1/authorize")]
            assert len(asked) == 2
            assert asked[-1].body["location_id"] == "LOC1"
            await wait_for(lambda: w.pushes("sessions", "PUT"))
            session = w.pushes("sessions", "PUT")[0].body
            assert session["auth_method"] == "AUTH_REQUEST"
            assert session["authorization_reference"] == "REF42"


async def test_ocpp201_offline_transaction_sent_late_once(database_url: str) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CSO"])
        async with charger(w, "CSO", "ocpp2.0.1") as cs:
            await cs.boot()
            cs.tx_id = "OFFLINE-1"
            for _ in range(2):  # the queue is sent again: nothing happens twice
                cs.seq = 0
                await cs.event(
                    "Started", 100, at(0), id_tag="TOK1", offline=True, trigger="Authorized"
                )
                await cs.event("Updated", 5100, at(2), offline=True)
                await cs.event("Ended", 10100, at(4), offline=True, stopped_reason="Local")
            await wait_for(lambda: w.pushes("cdrs", "POST"))
        assert len(w.pushes("sessions", "PUT")) == 1
        assert len(w.pushes("cdrs", "POST")) == 1
        cdr = w.pushes("cdrs", "POST")[0].body
        assert cdr["start_date_time"] == at(0)
        assert cdr["end_date_time"] == at(4)
        assert cdr["total_energy"] == 10.0
        assert cdr["total_cost"]["excl_vat"] == 4.0


async def test_ocpp201_token_after_plug_in(database_url: str) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CSP"])
        async with charger(w, "CSP", "ocpp2.0.1") as cs:
            await cs.boot()
            cs.tx_id = "PLUG-1"
            # No reading at the start; the register is at 50 kWh when the first one comes.
            await cs.event("Started", 0, at(0), trigger="CablePluggedIn", with_meter=False)
            assert not w.pushes("sessions", "PUT")
            answer = await cs.event("Updated", 50000, at(1), id_tag="TOK1", trigger="Authorized")
            assert answer.id_token_info["status"] == "Accepted"
            await cs.event("Ended", 53000, at(5), stopped_reason="EVDisconnected")
            await wait_for(lambda: w.pushes("cdrs", "POST"))
        assert w.pushes("cdrs", "POST")[0].body["total_energy"] == 3.0


async def test_missed_heartbeats_show_unknown_until_back(database_url: str) -> None:
    ocpp = {"ocpp_heartbeat_interval_seconds": 1, "ocpp_heartbeat_grace_factor": 1.0}
    async with world(database_url, ocpp) as w:
        await w.setup_site(["CPH"])
        async with charger(w, "CPH") as cp:
            await cp.boot()
            await wait_for(lambda: _evse_status(w, "CPH-1") == "AVAILABLE")
            # Silent for longer than the interval: the hub drops it and shows UNKNOWN.
            await wait_for(lambda: _evse_status(w, "CPH-1") == "UNKNOWN", timeout=5)
        async with charger(w, "CPH") as cp:
            # Back: its last reported status is shown again.
            await wait_for(lambda: _evse_status(w, "CPH-1") == "AVAILABLE", timeout=5)


async def test_hub_restart_mid_transaction(database_url: str) -> None:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=15))
        emsp = await stack.enter_async_context(
            running_party(
                FakeParty(
                    roles=[("EMSP", "NL", "EM1")],
                    endpoints=[*EMSP_ENDPOINTS, ("tokens", "SENDER")],
                )
            )
        )
        async with ocpp_hub(database_url) as hub:
            await register(http, hub, emsp)
            w = World(hub, emsp, http)
            await w.setup_site(["CPX"])
            async with charger(w, "CPX") as cp:
                await cp.boot()
                started = await cp.start_tx("TOK1", at(0))
                await cp.meter_values(5000, at(2))
                await wait_for(lambda: w.pushes("sessions", "PATCH"))
        # The hub is gone; a new one on the same database takes over.
        async with ocpp_hub(database_url) as hub:
            w = World(hub, emsp, http)
            async with charger(w, "CPX") as cp:
                cp.tx_id = started.transaction_id
                await cp.boot()
                await cp.meter_values(9000, at(4))
                await cp.stop_tx(11000, at(5))
                await wait_for(lambda: w.pushes("cdrs", "POST"))
        assert len(emsp.pushes("sessions", "PUT")) == 1
        cdr = emsp.pushes("cdrs", "POST")[0].body
        assert cdr["total_energy"] == 10.0
        assert cdr["total_cost"]["excl_vat"] == 4.0
