"""Benchmark: delivery throughput of one hub instance against two, on PostgreSQL and Redis.

Run: ``python bench/bench_scale.py [--pushes 2000] [--emsps 3] [--concurrency 20]
[--database-url postgresql://postgres@127.0.0.1:5432/wt_bench] [--redis-url redis://127.0.0.1:6379/0]``.
Not part of the test run.

Each round starts real ``voltroam serve`` subprocesses (one, then two) on a freshly reset
PostgreSQL schema with REDIS_URL set, and runs the fan-out workload of bench/bench_fanout.py (the
same BenchParty eMSPs and CPO, in a second process): the CPO pushes N Location updates to the
first instance, and the delivery workers of every instance share the outbox (FOR UPDATE SKIP
LOCKED). Figures: end-to-end deliveries/s (N*M deliveries, first push until the last receipt) with
one and with two instances, side by side, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
import progress  # noqa: E402
from bench_fanout import run_peers  # noqa: E402
from common import Ratio, header, hub_process, print_ratios, run_in_child  # noqa: E402

from tests.conftest import invite, reset_postgres  # noqa: E402


async def one_round(args: argparse.Namespace, instances: int) -> dict[str, Any]:
    progress.step(f"{instances} instance(s): resetting the database")
    await reset_postgres(args.database_url)
    with tempfile.TemporaryDirectory(prefix="voltroam-scale-") as tmp:
        async with AsyncExitStack() as stack:
            hubs = []
            for k in range(instances):  # one after the other: the first one migrates
                progress.step(f"{instances} instance(s): starting voltroam serve #{k + 1}")
                running = await stack.enter_async_context(
                    hub_process(
                        args.database_url,
                        Path(tmp) / f"hub-{k}",
                        REDIS_URL=args.redis_url,
                        SYNC_AFTER_REGISTRATION="false",
                        DELIVERY_CONCURRENCY=str(args.delivery_concurrency),
                    )
                )
                hubs.append(running.server)
            async with httpx.AsyncClient(timeout=30) as http:
                token_as = [
                    await invite(http, hubs[0], f"Bench eMSP {i}") for i in range(args.emsps)
                ]
                token_as.append(await invite(http, hubs[0], "Bench CPO"))
            cfg = {
                "versions_url": hubs[0].versions_url,
                "token_as": token_as,
                "emsps": args.emsps,
                "pushes": args.pushes,
                "concurrency": args.concurrency,
                "patch_ratio": 0.0,
                "seed": 1,
                "stall_seconds": 20.0,
                "loop": "asyncio",
            }
            progress.step(f"{instances} instance(s): starting the peers in a second process")
            result: dict[str, Any] = await run_in_child(run_peers, cfg)
            progress.step(f"{instances} instance(s): done, stopping the hub")
            return result


def line(label: str, one: str, two: str, extra: str = "") -> str:
    return f"  {label:<30} {one:>16} {two:>16}   {extra}"


async def bench(args: argparse.Namespace) -> None:
    await header(
        "bench_scale",
        f"1 CPO -> hub -> {args.emsps} eMSPs; {args.pushes} Location PUTs to the first "
        f"instance, concurrency {args.concurrency}; DELIVERY_CONCURRENCY "
        f"{args.delivery_concurrency} per instance; one instance, then two; peers in a separate "
        f"process; redis {args.redis_url}",
        args.database_url,
    )
    results = {n: await one_round(args, n) for n in (1, 2)}
    progress.clear()
    one, two = results[1], results[2]
    rate = {n: r["deliveries"] / r["e2e_seconds"] for n, r in results.items()}
    print(line("", "1 instance", "2 instances"))
    print(
        line(
            "push throughput (accepted)",
            f"{one['accepted'] / one['push_seconds']:.1f}/s",
            f"{two['accepted'] / two['push_seconds']:.1f}/s",
        )
    )
    print(
        line(
            "deliveries received",
            f"{one['deliveries']}/{one['expected_deliveries']}",
            f"{two['deliveries']}/{two['expected_deliveries']}",
        )
    )
    print(
        line(
            "end-to-end deliveries",
            f"{rate[1]:.1f}/s",
            f"{rate[2]:.1f}/s",
            f"ratio {rate[2] / rate[1]:.2f}x",
        )
    )
    print(
        line(
            "push-to-receipt p50 / p99",
            f"{one['latency_ms'][0]:.0f}/{one['latency_ms'][2]:.0f} ms",
            f"{two['latency_ms'][0]:.0f}/{two['latency_ms'][2]:.0f} ms",
        )
    )
    print(line("duplicates / missing", f"{one['duplicates']}/{one['missing']}",
               f"{two['duplicates']}/{two['missing']}"))  # fmt: skip
    print_ratios(
        [Ratio("deliveries/s", rate[2], rate[1])], bare="one instance", hub="two instances"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pushes", "-n", type=int, default=2000)
    parser.add_argument("--emsps", "-m", type=int, default=3)
    parser.add_argument("--concurrency", "-c", type=int, default=20)
    parser.add_argument("--delivery-concurrency", type=int, default=32)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="a PostgreSQL database (its public schema is DROPPED); default: DATABASE_URL",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    )
    args = parser.parse_args()
    if not (args.database_url or "").startswith("postgres"):
        parser.error("several instances need PostgreSQL (--database-url postgresql://...)")
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
