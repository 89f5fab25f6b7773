"""Benchmark: the outbox claim on PostgreSQL with stale table statistics, beside fresh ones.

Run: ``python bench/bench_claim.py [--rows 100000] [--pending 0.2] [--claims 10]
[--timeout 30] [--database-url postgresql://postgres@127.0.0.1:5432/wt_bench]``
(PostgreSQL only: the database given, or DATABASE_URL; its ``public`` schema is dropped first).
Not part of the test run.

What it reproduces: a hub starts with an empty outbox; its pooled connections prepare the claim's
statements (asyncpg prepares every statement) and, after five executions, PostgreSQL may keep a
generic plan for each, made for the table as it was then; a burst then fills the outbox, and
nothing re-plans until an ANALYZE of the table (which autovacuum runs when it gets to it).

The hub is a real uvicorn server (tests/conftest.py ``running_hub``) with its delivery worker off,
and three receiving platforms (admin invitations). Autovacuum is turned off for the ``delivery``
table for the run (so that the statistics stay what the phase says) and it is ANALYZEd while
empty. Then:

1. a connection runs the claim ten times on the empty outbox (its plans are made and cached);
2. ``--rows`` deliveries are inserted in one statement (no ANALYZE): one CPO's pushes, each to
   the three platforms, about the Locations of ``--objects`` objects (70 % full Location PUTs of
   ~1.5 kB, 30 % EVSE status PATCHes); the oldest are delivered, the newest ``--pending`` share
   still pending, so that most pending rows wait behind an earlier one of their object;
3. ``app.hub.outbox.service.claim`` (the function the delivery worker calls, through a real
   session) is timed ``--claims`` times (limit DELIVERY_BATCH) in each mode below; after each
   claim its rows are put back to pending (not timed), so every claim sees the same table:

   - the connection of step 1, with the plans it cached while the outbox was empty;
   - a new connection, statistics still those of the empty table;
   - a new connection with ``SET plan_cache_mode = force_generic_plan``, same statistics;
   - after ``ANALYZE delivery``: a new connection (fresh statistics: the reference);
   - after it, a new connection with ``force_generic_plan``.

A claim that runs past ``--timeout`` seconds is cancelled (``statement_timeout``) and counted as
taking at least that long; a mode stops after ``--budget`` seconds of claims.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
import progress  # noqa: E402
from bench_fanout import bench_hub, location_body  # noqa: E402
from common import Ratio, default_loop, header, is_postgres, percentile, print_ratios, run  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection  # noqa: E402
from sqlmodel.ext.asyncio.session import AsyncSession  # noqa: E402

from app.hub.outbox import service as outbox  # noqa: E402
from tests.conftest import RunningServer, invite  # noqa: E402

RECEIVERS = 3


@dataclass
class Mode:
    name: str
    ms: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    timeouts: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.ms, 50)


FILL = """
INSERT INTO delivery (platform_id, module, method, path, query, object_ref, body,
    from_country_code, from_party_id, correlation_id, request_id, status, attempts,
    next_attempt_at, created_at, delivered_at)
SELECT
    platforms[1 + i % receivers],
    'locations',
    CASE WHEN push % 10 < 7 THEN 'PUT' ELSE 'PATCH' END,
    'NL/CPO/' || key || CASE WHEN push % 10 < 7 THEN '' ELSE '/' || key || '-1' END,
    '',
    'locations:NL*CPO:' || key || ':',
    CASE WHEN push % 10 < 7 THEN put_body ELSE patch_body END,
    'NL', 'CPO', md5(push::text), md5(i::text),
    CASE WHEN i < delivered THEN 'delivered' ELSE 'pending' END,
    CASE WHEN i < delivered THEN 1 ELSE 0 END,
    now() - interval '1 hour' + i * interval '10 milliseconds',
    now() - interval '1 hour' + i * interval '10 milliseconds',
    CASE WHEN i < delivered THEN now() ELSE NULL END
FROM (
    SELECT i, s.*, i / s.receivers AS push,
        'BENCH-' || lpad(((i / s.receivers) % s.objects)::text, 6, '0') AS key
    FROM (
        SELECT CAST(:platforms AS integer[]) AS platforms,
            CAST(:receivers AS integer) AS receivers,
            CAST(:objects AS integer) AS objects,
            CAST(:delivered AS integer) AS delivered,
            CAST(:put_body AS jsonb) AS put_body,
            CAST(:patch_body AS jsonb) AS patch_body
    ) AS s, generate_series(0, CAST(:rows AS integer) - 1) AS i
) AS g
"""


async def set_up(hub: RunningServer) -> list[int]:
    """Three receiving platforms; autovacuum off for the outbox, which is ANALYZEd empty."""
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(RECEIVERS):
            await invite(http, hub, f"Bench eMSP {i}")
    ctx = hub.app.state.hub
    async with ctx.engine.begin() as conn:
        ids = (await conn.execute(text("SELECT id FROM platform ORDER BY id"))).scalars().all()
        await conn.execute(
            text(
                "ALTER TABLE delivery SET (autovacuum_enabled = off,"
                " toast.autovacuum_enabled = off)"
            )
        )
    async with ctx.engine.connect() as conn:
        await conn.execute(text("ANALYZE delivery"))
        await conn.commit()
    return list(ids)[:RECEIVERS]


async def fill(hub: RunningServer, platforms: list[int], args: argparse.Namespace) -> float:
    stamp = "2024-01-01T00:00:00Z"
    put = location_body("BENCH-000000", stamp)
    patch = {"status": "CHARGING", "last_updated": stamp}
    delivered = round(args.rows * (1 - args.pending))
    began = time.perf_counter()
    async with hub.app.state.hub.engine.begin() as conn:
        await conn.execute(
            text(FILL),
            {
                "platforms": platforms,
                "receivers": RECEIVERS,
                "objects": args.objects,
                "rows": args.rows,
                "delivered": delivered,
                "put_body": json.dumps(put),
                "patch_body": json.dumps(patch),
            },
        )
    return time.perf_counter() - began


async def connect(hub: RunningServer, settings: dict[str, str]) -> AsyncConnection:
    """A connection of its own (its own prepared statements), with session settings."""
    conn = await hub.app.state.hub.engine.connect()
    for name, value in settings.items():
        await conn.exec_driver_sql(f"SET {name} = {value}")
    await conn.commit()
    return conn


async def claim_once(hub: RunningServer, conn: AsyncConnection, mode: Mode | None) -> None:
    """One claim through a session on ``conn``; its rows are put back to pending afterwards."""
    ctx = hub.app.state.hub
    began = time.perf_counter()
    try:
        async with AsyncSession(bind=conn, expire_on_commit=False) as session:
            rows = await outbox.claim(session, ctx.settings, ctx.settings.delivery_batch)
    except DBAPIError as exc:
        await conn.rollback()
        if mode is None:
            raise
        if "statement timeout" in str(exc) or "canceling statement" in str(exc):
            mode.timeouts += 1
            mode.ms.append((time.perf_counter() - began) * 1000)
        else:
            mode.errors.append(str(exc).splitlines()[0][:200])
        return
    elapsed = (time.perf_counter() - began) * 1000
    if mode is not None:
        mode.ms.append(elapsed)
        mode.rows.append(len(rows))
    if rows:
        async with ctx.engine.begin() as other:
            await other.execute(
                text(
                    "UPDATE delivery SET status = 'pending', lease_until = NULL,"
                    " attempts = attempts - 1 WHERE id = ANY(:ids)"
                ),
                {"ids": [r.id for r in rows]},
            )


async def measure(
    hub: RunningServer, conn: AsyncConnection, mode: Mode, args: argparse.Namespace
) -> Mode:
    began = time.perf_counter()
    for k in range(args.claims):
        progress.status(f"{mode.name}: claim {k + 1}/{args.claims}")
        await claim_once(hub, conn, mode)
        if mode.timeouts or mode.errors or time.perf_counter() - began > args.budget:
            break
    await conn.invalidate()  # its cached plans go with it
    await conn.close()
    shown = f"{mode.p50:.1f} ms p50" if mode.ms else "no claim"
    progress.step(f"{mode.name}: {len(mode.ms)} claims, {shown}")
    return mode


async def bench(args: argparse.Namespace) -> list[Mode]:
    await header(
        "bench_claim",
        f"the outbox claim on {args.rows} deliveries ({args.pending:.0%} pending, "
        f"{RECEIVERS} receivers, {args.objects} objects), stale statistics beside fresh ones",
        args.database_url,
        args.loop,
    )
    timeout = {"statement_timeout": f"'{args.timeout:g}s'"}
    generic = timeout | {"plan_cache_mode": "force_generic_plan"}
    progress.step("starting the hub (delivery worker off)")
    async with bench_hub(
        args.database_url, delivery_enabled=False, alive_check_interval_seconds=0
    ) as hub:
        platforms = await set_up(hub)
        cached = await connect(hub, timeout)
        for _ in range(10):
            await claim_once(hub, cached, None)
        progress.step(f"claim run 10 times on the empty outbox; inserting {args.rows} rows")
        seconds = await fill(hub, platforms, args)
        progress.step(f"inserted in {seconds:.1f} s; no ANALYZE")
        modes = [
            await measure(hub, cached, Mode("plans cached while the outbox was empty"), args),
            await measure(hub, await connect(hub, timeout), Mode("stale statistics"), args),
            await measure(
                hub, await connect(hub, generic), Mode("stale statistics, generic plan"), args
            ),
        ]
        async with hub.app.state.hub.engine.connect() as conn:
            await conn.execute(text("ANALYZE delivery"))
            await conn.commit()
        progress.step("ANALYZE delivery")
        modes += [
            await measure(hub, await connect(hub, timeout), Mode("fresh statistics"), args),
            await measure(
                hub, await connect(hub, generic), Mode("fresh statistics, generic plan"), args
            ),
        ]
        async with hub.app.state.hub.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE delivery RESET (autovacuum_enabled)"))
    progress.clear()
    return modes


def report(modes: list[Mode], args: argparse.Namespace) -> None:
    print()
    print(
        f"  {'claim (limit DELIVERY_BATCH)':<42}{'claims':>7}{'p50 ms':>10}{'max ms':>10}"
        f"{'rows':>6}"
    )
    for m in modes:
        rows = f"{percentile(m.rows, 50):.0f}" if m.rows else "-"
        print(
            f"  {m.name:<42}{len(m.ms):>7}{m.p50:>10.1f}{max(m.ms, default=math.nan):>10.1f}"
            f"{rows:>6}"
        )
        if m.timeouts:
            print(f"  {'':<42}cancelled after {args.timeout:g} s (statement_timeout)")
        for error in m.errors[:2]:
            print(f"  {'':<42}error: {error}")
    reference = next(m for m in modes if m.name == "fresh statistics")
    print_ratios(
        [
            Ratio(m.name, m.p50, reference.p50, "ms p50", 1, "lower")
            for m in modes
            if m is not reference
        ],
        bare="fresh statistics",
    )
    print("  (a cancelled claim counts as the time it ran: the ratio is a floor)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="deliveries (100000)")
    parser.add_argument(
        "--pending", type=float, default=0.2, help="share of the newest rows pending (0.2)"
    )
    parser.add_argument(
        "--objects", type=int, default=10_000, help="distinct Locations the rows are about"
    )
    parser.add_argument("--claims", type=int, default=10, help="timed claims per mode (10)")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="statement_timeout of a claim, s (30)"
    )
    parser.add_argument(
        "--budget", type=float, default=60.0, help="seconds of claims per mode at most (60)"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL database (its public schema is DROPPED); default: DATABASE_URL",
    )
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default=default_loop())
    args = parser.parse_args()
    args.database_url = args.database_url or os.environ.get("DATABASE_URL")
    if not is_postgres(args.database_url):
        parser.error("the claim's plans are PostgreSQL's: give --database-url postgresql://...")
    report(run(bench(args), args.loop), args)


if __name__ == "__main__":
    main()
