"""Two hub apps in one process on one database, with the in-process broker (no Redis): calls
reach a charger held by the other app, a watchdog leaves the other app's chargers alone, and a
charger that moves to the other app is taken over there.

Runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlmodel import col

from app.core.dbtypes import utcnow
from app.hub.broker import LocalBroker
from app.ocpp.models import Charger
from app.ocpp.service import get_charger
from tests.conftest import running_party
from tests.hub.network import EMSP_ENDPOINTS, register
from tests.ocpp.harness import World, charger, ocpp_hub, wait_for
from tests.peers import FakeParty


async def test_call_and_watchdog_across_two_apps(database_url: str) -> None:
    async with (
        httpx.AsyncClient(timeout=15) as http,
        ocpp_hub(database_url) as hub_a,
        ocpp_hub(database_url) as hub_b,
        running_party(FakeParty(roles=[("EMSP", "NL", "EM1")], endpoints=EMSP_ENDPOINTS)) as emsp,
    ):
        await register(http, hub_a, emsp)
        on_a, on_b = World(hub_a, emsp, http), World(hub_b, emsp, http)
        await on_a.setup_site(["CP16"])
        ctx_a, ctx_b = hub_a.app.state.hub, hub_b.app.state.hub
        assert isinstance(ctx_b.broker, LocalBroker) and ctx_a.instance_id != ctx_b.instance_id

        async with charger(on_a, "CP16") as cp:
            await cp.boot()
            async with ctx_b.sessions() as session:
                row = await get_charger(session, "CP16")
                assert row is not None and row.connected and row.instance_id == ctx_a.instance_id

            # B holds no socket: the call goes to A through the broker.
            r = await http.post(
                f"{hub_b.base_url}/admin/chargers/CP16/calls/GetConfiguration",
                json={},
                headers=on_b.admin,
            )
            assert r.status_code == 200, r.text
            assert r.json()["configurationKey"][0]["key"] == "HeartbeatInterval"
            assert await on_b.csms.reachable("CP16") == "1.6"

            # Silent in the database for long: B's watchdog must not mark A's charger gone.
            async with ctx_b.sessions() as session:
                await session.exec(
                    update(Charger)
                    .where(col(Charger.charge_point_id) == "CP16")
                    .values(last_seen_at=utcnow() - timedelta(days=1))
                )
                await session.commit()
            await on_b.csms.watch_once()
            async with ctx_b.sessions() as session:
                row = await get_charger(session, "CP16")
                assert row is not None and row.connected

            # The charger opens a new socket to B while A still has the old one: B takes it over
            # and tells A to close its socket; A's disconnect does not mark it gone.
            async with charger(on_b, "CP16") as cp_b:
                await cp_b.boot()
                await wait_for(lambda: "CP16" not in on_a.csms.connections)
                async with ctx_a.sessions() as session:
                    row = await get_charger(session, "CP16")
                    assert row is not None and row.connected
                    assert row.instance_id == ctx_b.instance_id
                r = await http.post(
                    f"{hub_a.base_url}/admin/chargers/CP16/calls/GetConfiguration",
                    json={},
                    headers=on_a.admin,
                )
                assert r.status_code == 200, r.text

        # Gone from A: held by nobody, and a call through B says so.
        async def released() -> bool:
            async with ctx_b.sessions() as session:
                row = await get_charger(session, "CP16")
                return row is not None and not row.connected and row.instance_id is None

        await wait_for(released)
        r = await http.post(
            f"{hub_b.base_url}/admin/chargers/CP16/calls/GetConfiguration",
            json={},
            headers=on_b.admin,
        )
        assert r.status_code == 409, r.text
