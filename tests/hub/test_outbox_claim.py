"""The outbox's claim, outcomes and recovery, on the database (SQLite or PostgreSQL).

The delivery worker is off: these tests call the service functions the worker calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import col, select

from app.hub.context import HubContext
from app.hub.outbox import service as outbox
from app.hub.outbox.models import Delivery, DeliveryStatus
from app.hub.outbox.presence import Presence, recover_gone
from app.ocpi.headers import PartyRef
from tests.conftest import USE_POSTGRES, invite, running_hub

CPO = PartyRef("NL", "CPO")


@pytest.fixture
async def ctx(database_url: str) -> AsyncIterator[tuple[HubContext, list[int]]]:
    async with (
        running_hub(database_url, delivery_enabled=False) as hub,
        httpx.AsyncClient() as http,
    ):
        for name in ("Receiver A", "Receiver B"):
            await invite(http, hub, name)
        context: HubContext = hub.app.state.hub
        async with context.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT id FROM platform WHERE local IS NULL ORDER BY id")
            )
            platforms = [int(r[0]) for r in rows]
        yield context, platforms


def push(platform_id: int, key: str, method: str = "PATCH", *, full: bool = False) -> outbox.Push:
    return outbox.Push(
        platform_id=platform_id,
        module="locations",
        method=method,
        path=f"NL/CPO/{key}",
        object_ref=f"locations:NL*CPO:{key}:",
        body={"status": method, "key": key},
        from_party=CPO,
        to_party=None,
        full=full,
    )


async def queue(ctx: HubContext, pushes: list[outbox.Push]) -> None:
    async with ctx.sessions() as session:
        await outbox.enqueue(session, pushes)
        await session.commit()


async def claim(ctx: HubContext, limit: int = 100, instance: str | None = "me") -> list[Delivery]:
    async with ctx.sessions() as session:
        return await outbox.claim(session, ctx.settings, limit, instance)


async def all_rows(ctx: HubContext) -> list[Delivery]:
    async with ctx.sessions() as session:
        return list((await session.exec(select(Delivery).order_by(col(Delivery.id)))).all())


async def test_rows_keep_the_order_of_the_pushes_and_leave_one_at_a_time_per_object(
    ctx: tuple[HubContext, list[int]],
) -> None:
    hub, (a, b) = ctx
    await queue(hub, [push(a, "L1"), push(b, "L1"), push(a, "L2")])
    await queue(hub, [push(a, "L1", "PUT", full=False), push(b, "L2")])
    rows = await all_rows(hub)
    assert [(r.platform_id, r.path, r.method) for r in rows] == [
        (a, "NL/CPO/L1", "PATCH"),
        (b, "NL/CPO/L1", "PATCH"),
        (a, "NL/CPO/L2", "PATCH"),
        (a, "NL/CPO/L1", "PUT"),
        (b, "NL/CPO/L2", "PATCH"),
    ]
    assert len({r.request_id for r in rows}) == 5
    assert rows[0].correlation_id == rows[1].correlation_id

    first = await claim(hub)
    # The second row for receiver A and L1 waits for the first.
    assert [r.id for r in first] == [rows[i].id for i in (0, 1, 2, 4)]
    assert all(r.status == DeliveryStatus.SENDING and r.attempts == 1 for r in first)
    assert all(r.leased_by == "me" and r.lease_until is not None for r in first)
    assert await claim(hub) == []

    async with hub.sessions() as session:
        recorded = await outbox.finish_many(
            session,
            [
                outbox.Outcome(first[0].id or 0, 1, DeliveryStatus.DELIVERED),
                outbox.Outcome(first[1].id or 0, 1, DeliveryStatus.DELIVERED),
                # An outcome of an attempt that is not the row's latest is not recorded.
                outbox.Outcome(first[2].id or 0, 2, DeliveryStatus.DELIVERED),
                outbox.Outcome(first[3].id or 0, 1, DeliveryStatus.FAILED, "refused"),
            ],
        )
        await session.commit()
    assert recorded == 3
    second = await claim(hub)
    assert [r.id for r in second] == [rows[3].id]
    by_id = {r.id: r for r in await all_rows(hub)}
    assert by_id[rows[0].id].status == DeliveryStatus.DELIVERED
    assert by_id[rows[0].id].delivered_at is not None
    assert by_id[rows[0].id].leased_by is None
    assert by_id[rows[2].id].status == DeliveryStatus.SENDING
    assert by_id[rows[4].id].status == DeliveryStatus.FAILED
    assert by_id[rows[4].id].last_error == "refused"


async def test_a_full_version_supersedes_pending_rows_of_its_receivers_only(
    ctx: tuple[HubContext, list[int]],
) -> None:
    hub, (a, b) = ctx
    await queue(hub, [push(a, "L1"), push(b, "L1")])
    await claim(hub, limit=1)  # receiver A's row is on its way: it is not superseded
    await queue(hub, [push(a, "L1"), push(b, "L1")])
    await queue(hub, [push(a, "L1", "PUT", full=True)])
    statuses = [(r.platform_id, r.status) for r in await all_rows(hub)]
    assert statuses == [
        (a, DeliveryStatus.SENDING),
        (b, DeliveryStatus.PENDING),
        (a, DeliveryStatus.SUPERSEDED),
        (b, DeliveryStatus.PENDING),
        (a, DeliveryStatus.PENDING),
    ]


async def test_rows_of_a_gone_instance_are_taken_back_at_once(
    ctx: tuple[HubContext, list[int]],
) -> None:
    hub, (a, b) = ctx
    await queue(hub, [push(a, "L1"), push(b, "L1"), push(a, "L2")])
    await claim(hub, limit=2, instance="gone")
    await claim(hub, limit=1, instance="alive")
    async with hub.sessions() as session:
        # Leases still run: only the rows of an instance that is not live come back.
        assert not await outbox.anything_due(session)
        assert await outbox.recover(session) == 0
        assert await outbox.recover(session, {"alive"}) == 2
        await session.commit()
    rows = await all_rows(hub)
    assert [(r.status, r.leased_by, r.attempts) for r in rows] == [
        (DeliveryStatus.PENDING, None, 1),
        (DeliveryStatus.PENDING, None, 1),
        (DeliveryStatus.SENDING, "alive", 1),
    ]
    async with hub.sessions() as session:
        assert await outbox.anything_due(session)
    again = await claim(hub, instance="new")
    assert [(r.id, r.attempts) for r in again] == [(rows[0].id, 2), (rows[1].id, 2)]


@pytest.mark.skipif(not USE_POSTGRES, reason="PostgreSQL planner")
async def test_the_claim_plan_does_not_depend_on_statistics(
    ctx: tuple[HubContext, list[int]],
) -> None:
    """Statistics of an empty outbox (as a new hub has), then thousands of rows: the claim still
    walks the index of pending rows in order, sorting and scanning nothing whole."""
    hub, (a, b) = ctx
    async with hub.engine.connect() as conn:
        await conn.execute(text("ANALYZE delivery"))
        await conn.commit()
    for batch in range(10):
        pushes = [push(p, f"L{batch}-{i}") for i in range(200) for p in (a, b)]
        await queue(hub, pushes)
    stmt = outbox.claim_statement(hub.settings, 100, "me", postgres=True)
    async with hub.engine.connect() as conn:
        await conn.execute(outbox._PLAN_SETTINGS)
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        sql = str(compiled)
        params = compiled.params
        # asyncpg's $n placeholders, numbered in the order of ``positiontup``.
        values = [params[name] for name in compiled.positiontup or []]
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        plan = "\n".join(r[0] for r in await driver.fetch(f"EXPLAIN {sql}", *values))
        await conn.rollback()
    assert "ix_delivery_pending_due" in plan, plan
    assert "ix_delivery_open_order" in plan, plan
    assert "Sort" not in plan and "Seq Scan" not in plan and "Bitmap" not in plan, plan


@pytest.mark.skipif(not USE_POSTGRES, reason="presence locks and NOTIFY are PostgreSQL's")
async def test_rows_of_an_instance_whose_presence_ended_are_taken_back_and_queueing_wakes_workers(
    ctx: tuple[HubContext, list[int]],
) -> None:
    hub, (a, b) = ctx
    woken = asyncio.Event()
    lost: list[bool] = []
    presence = Presence(hub, on_notify=woken.set, on_lost=lambda: lost.append(True))
    assert await presence.ensure()
    try:
        # Another instance's commit that queues deliveries wakes this worker.
        await queue(hub, [push(a, "L1"), push(b, "L1")])
        await asyncio.wait_for(woken.wait(), timeout=30)
        await claim(hub, instance=hub.instance_id)
        async with hub.sessions() as session:
            # Its instance holds its lock: its rows stay with it.
            assert await recover_gone(session, "another instance") == 0
            await session.commit()
    finally:
        await presence.close()
    assert lost == []  # a close is not a loss
    async with hub.sessions() as session:
        # The instance is gone (its connection ended): its rows are taken back at once.
        assert await recover_gone(session, "another instance") == 2
        await session.commit()
    assert [r.status for r in await all_rows(hub)] == [DeliveryStatus.PENDING] * 2
