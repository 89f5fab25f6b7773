"""Meter values written in batches: nothing they say is lost on the way to the OCPI Session and
CDR, nor on a clean shutdown; and EVSE numbers beyond OCPP_MAX_EVSES are refused."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from sqlmodel import select

from app.ocpp.models import OcppTransaction
from app.ocpp.service import get_charger
from tests.conftest import running_party
from tests.hub.network import EMSP_ENDPOINTS, register
from tests.ocpp.harness import World, at, charger, ocpp_hub, wait_for, world
from tests.peers import FakeParty

# Readings are never written by the timer in these tests unless they ask for it.
NO_TIMER = {"ocpp_meter_flush_seconds": 3600}


async def _row(w: World, cp: str) -> OcppTransaction:
    async with w.hub.app.state.hub.sessions() as session:
        rows = (
            await session.exec(select(OcppTransaction).where(OcppTransaction.charge_point_id == cp))
        ).all()
        assert len(rows) == 1
        return rows[0]


def _meter201(wh: int, when: str) -> list[dict[str, Any]]:
    return [
        {
            "timestamp": when,
            "sampledValue": [
                {
                    "value": wh,
                    "measurand": "Energy.Active.Import.Register",
                    "unitOfMeasure": {"unit": "Wh"},
                }
            ],
        }
    ]


async def test_readings_between_session_updates_written_by_the_timer(database_url: str) -> None:
    async with world(database_url, {"ocpp_meter_flush_seconds": 0.2}) as w:
        await w.setup_site(["CPB"])
        async with charger(w, "CPB") as cp:
            await cp.boot()
            await cp.start_tx("TOK1", at(0))
            await cp.meter_values(3000, at(0.5))  # 30 s into the period: no Session PATCH
            await wait_for(lambda: _row_wh(w, "CPB", 3000))  # written by a round of the timer
            assert not w.pushes("sessions", "PATCH")
            await cp.meter_values(9000, at(2))  # a period closes: PATCHed at once
            await wait_for(lambda: w.pushes("sessions", "PATCH"))
            assert w.pushes("sessions", "PATCH")[0].body["kwh"] == 8.0
            await cp.stop_tx(9500, at(3))
            await wait_for(lambda: w.pushes("cdrs", "POST"))
        assert w.pushes("cdrs", "POST")[0].body["total_energy"] == 8.5


async def _row_wh(w: World, cp: str, wh: float) -> bool:
    return (await _row(w, cp)).meter_last_wh == wh


async def test_readings_in_memory_reach_the_cdr(database_url: str) -> None:
    """A 2.0.1 transaction ended without a reading: the CDR's energy is the last MeterValues,
    which was only in memory when the Ended event came."""
    async with world(database_url, NO_TIMER) as w:
        await w.setup_site(["CSM"])
        async with charger(w, "CSM", "ocpp2.0.1") as cs:
            await cs.boot()
            cs.tx_id = "MEM-1"
            await cs.event("Started", 1000, at(0), id_tag="TOK1", trigger="Authorized")
            await cs.call(call201.MeterValues(evse_id=1, meter_value=_meter201(2000, at(0.2))))
            await cs.call(call201.MeterValues(evse_id=1, meter_value=_meter201(4000, at(0.5))))
            assert (await _row(w, "CSM")).meter_last_wh == 1000
            await cs.event("Ended", 0, at(0.75), stopped_reason="Local", with_meter=False)
            await wait_for(lambda: w.pushes("cdrs", "POST"))
        assert w.pushes("cdrs", "POST")[0].body["total_energy"] == 3.0
        assert (await _row(w, "CSM")).meter_last_wh == 4000


async def test_clean_shutdown_writes_readings_in_memory(database_url: str) -> None:
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
        async with ocpp_hub(database_url, NO_TIMER) as hub:
            await register(http, hub, emsp)
            w = World(hub, emsp, http)
            await w.setup_site(["CSS"])
            # Closed after the hub: the hub stops (cleanly) while the charger is connected.
            cs = await stack.enter_async_context(charger(w, "CSS", "ocpp2.0.1"))
            await cs.boot()
            cs.tx_id = "SHUT-1"
            await cs.event("Started", 1000, at(0), id_tag="TOK1", trigger="Authorized")
            await cs.call(call201.MeterValues(evse_id=1, meter_value=_meter201(6000, at(0.5))))
            assert (await _row(w, "CSS")).meter_last_wh == 1000
        async with ocpp_hub(database_url, NO_TIMER) as hub:
            w = World(hub, emsp, http)
            row = await _row(w, "CSS")
            assert row.meter_last_wh == 6000
            assert row.meter_last_at is not None and row.meter_last_at.minute == 0
            async with charger(w, "CSS", "ocpp2.0.1") as cs:
                cs.tx_id, cs.seq = "SHUT-1", 5
                await cs.boot()
                # Its running transaction was read when it connected: this reading finds it.
                await cs.call(call201.MeterValues(evse_id=1, meter_value=_meter201(7000, at(0.6))))
                await cs.event("Ended", 0, at(0.75), stopped_reason="Local", with_meter=False)
                await wait_for(lambda: w.pushes("cdrs", "POST"))
        assert emsp.pushes("cdrs", "POST")[0].body["total_energy"] == 6.0


async def test_huge_evse_numbers_get_a_callerror_and_change_nothing(database_url: str) -> None:
    async with world(database_url, {"ocpp_max_evses": 64}) as w:
        await w.setup_site(["CPE"])
        async with charger(w, "CPE") as cp:
            await cp.boot()
            refused: list[Any] = [
                call16.StatusNotification(
                    connector_id=10**9, error_code="NoError", status="Faulted"
                ),
                call16.StatusNotification(connector_id=65, error_code="NoError", status="Faulted"),
                call16.StatusNotification(connector_id=-1, error_code="NoError", status="Faulted"),
                call16.StartTransaction(
                    connector_id=10**9, id_tag="TOK1", meter_start=0, timestamp=at(0)
                ),
                call16.MeterValues(
                    connector_id=10**9,
                    meter_value=[{"timestamp": at(0), "sampledValue": [{"value": "5"}]}],
                ),
            ]
            for message in refused:
                with pytest.raises(PropertyConstraintViolationError):
                    await cp.call(message, suppress=False)
            # The connection stays, and a proper number is still fine.
            await cp.status(64, "Available")
            assert await cp.call(call16.Heartbeat()) is not None
        async with charger(w, "CPE", "ocpp2.0.1") as cs:
            for message in [
                call201.StatusNotification(
                    timestamp=at(0), connector_status="Faulted", evse_id=10**9, connector_id=1
                ),
                call201.MeterValues(evse_id=10**9, meter_value=_meter201(5, at(0))),
                call201.TransactionEvent(
                    event_type="Started",
                    timestamp=at(0),
                    trigger_reason="Authorized",
                    seq_no=0,
                    transaction_info={"transactionId": "BIG-1"},
                    evse={"id": 10**9, "connectorId": 1},
                ),
            ]:
                with pytest.raises(PropertyConstraintViolationError):
                    await cs.call(message, suppress=False)
        async with w.hub.app.state.hub.sessions() as session:
            row = await get_charger(session, "CPE")
            assert row is not None
            assert row.evse_count == 64  # what connector 64 made it, nothing beyond
            assert set(row.statuses) == {"CPE-1", "CPE-64"}
            found = await session.exec(select(OcppTransaction))
            assert found.all() == []


async def test_one_database_slot_serves_many_chargers(database_url: str) -> None:
    """OCPP_DB_CONCURRENCY=1: connections and messages wait for the one slot in turn (none
    holds it while asking for it again), and every message is answered."""
    async with world(
        database_url, {"ocpp_db_concurrency": 1, "ocpp_meter_flush_seconds": 0.1}
    ) as w:
        ids = [f"CPQ{i}" for i in range(6)]
        await w.setup_site(ids)
        async with AsyncExitStack() as stack:
            sims = [await stack.enter_async_context(charger(w, cp)) for cp in ids]
            await asyncio.gather(*(sim.boot() for sim in sims))
            first = sims[0]
            await first.start_tx("TOK1", at(0))
            await asyncio.gather(
                first.meter_values(4000, at(0.5)),
                *(sim.call(call16.Heartbeat()) for sim in sims[1:]),
                *(sim.status(1, "Charging") for sim in sims[1:]),
            )
            await first.stop_tx(6000, at(3))
            await wait_for(lambda: w.pushes("cdrs", "POST"))
        assert w.pushes("cdrs", "POST")[0].body["total_energy"] == 5.0
        async with w.hub.app.state.hub.sessions() as session:
            rows = [await get_charger(session, cp) for cp in ids]
        assert all(row is not None and row.vendor == "VR" for row in rows)
