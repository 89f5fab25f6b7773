"""Benchmark: how long pushes in flight when a hub is killed (``kill -9``) wait to be sent again.

Run: ``python bench/bench_recovery.py [--pushes 20]
[--database-url postgresql://postgres@127.0.0.1:5432/wt_bench]`` (PostgreSQL: the database given,
or DATABASE_URL; its ``public`` schema is dropped first). Not part of the test run.

A ``voltroam serve`` subprocess with the default delivery settings (DELIVERY_LEASE_SECONDS,
OCPI_TIMEOUT_SECONDS, DELIVERY_POLL_SECONDS as a new user gets them), an eMSP and a CPO served in
this process and registered through the real credentials handshake. The CPO pushes ``--pushes``
Location PUTs; the hub accepts them and its delivery worker sends each to the eMSP, which holds
every one unanswered. Once it holds all of them the hub is killed with SIGKILL, and a second
``voltroam serve`` is started on the same database and port. The eMSP now answers at once, and
notes when each held push arrives again (the same X-Request-ID: every attempt of a delivery
carries its own).

Figures: seconds from the restart (the new process started) until each held push was re-sent
(p50, max), also from the kill and from the moment the new instance answered /readyz; beside
them the two references a restart has: the new instance's own start-up (nothing can be re-sent
before it is ready) and the lease a claimed delivery holds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
import progress  # noqa: E402
from bench_fanout import (  # noqa: E402
    BASE,
    CPO_PARTY,
    BenchParty,
    hub_endpoint,
    location_body,
    ocpi_headers,
    register,
)
from common import (  # noqa: E402
    Ratio,
    default_loop,
    free_port,
    header,
    hub_process,
    is_postgres,
    percentile,
    print_ratios,
    reset_postgres,
    run,
)
from fastapi import Request  # noqa: E402

from app.core.settings import Settings  # noqa: E402
from app.ocpi.schemas.common import format_datetime  # noqa: E402
from tests.conftest import invite, serve  # noqa: E402

SETTINGS = {"SYNC_AFTER_REGISTRATION": "false", "ALIVE_CHECK_INTERVAL_SECONDS": "0"}


class HoldingEmsp:
    """While ``holding``, a Location push is noted and never answered; afterwards each push is
    answered at once and the first arrival of each X-Request-ID is noted."""

    def __init__(self, expected: int) -> None:
        self.party = BenchParty(
            "EMSP",
            "DE",
            "EHO",
            endpoints=[("locations", "RECEIVER"), ("hubclientinfo", "RECEIVER")],
            hook=self.hook,
        )
        self.expected = expected
        self.holding = True
        self.held: dict[str, float] = {}  # X-Request-ID -> first arrival (monotonic)
        self.again: dict[str, float] = {}  # X-Request-ID -> arrival after the kill
        self.all_held = asyncio.Event()
        self.all_again = asyncio.Event()
        self.release = asyncio.Event()

    async def hook(self, request: Request, key: tuple[str, datetime], arrived: float) -> None:
        request_id = request.headers.get("x-request-id", "")
        if self.holding:
            self.held.setdefault(request_id, arrived)
            if len(self.held) >= self.expected:
                self.all_held.set()
            await self.release.wait()
            return
        if request_id in self.held:
            self.again.setdefault(request_id, arrived)
            if len(self.again) >= len(self.held):
                self.all_again.set()


async def push(client: httpx.AsyncClient, url: str, token: str, n: int) -> None:
    cc, pid = CPO_PARTY

    async def one(i: int) -> None:
        location_id = f"BENCH-{i:06d}"
        stamp = format_datetime(BASE.replace(minute=i % 60, hour=i // 60))
        response = await client.put(
            f"{url}/{cc}/{pid}/{location_id}",
            json=location_body(location_id, stamp),
            headers=ocpi_headers(token, CPO_PARTY),
        )
        if response.status_code not in (200, 201) or response.json().get("status_code") != 1000:
            raise RuntimeError(f"push refused: HTTP {response.status_code} {response.text[:200]}")

    await asyncio.gather(*(one(i) for i in range(n)))


async def bench(args: argparse.Namespace) -> None:
    await header(
        "bench_recovery",
        f"{args.pushes} pushes held by the eMSP when the hub is killed (SIGKILL); a second "
        "instance is started on the same database",
        args.database_url,
        args.loop,
    )
    await reset_postgres(args.database_url)
    port = free_port()
    emsp = HoldingEmsp(args.pushes)
    cpo = BenchParty("CPO", *CPO_PARTY)
    with tempfile.TemporaryDirectory(prefix="voltroam-recovery-") as tmp:
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
            for party in (emsp.party, cpo):
                party_port = free_port()
                party.base_url = f"http://127.0.0.1:{party_port}"
                await stack.enter_async_context(serve(party.app, party_port))
            # Whatever happens, held requests are answered before the eMSP's server stops.
            stack.callback(emsp.release.set)
            progress.step("starting voltroam serve (default delivery settings)")
            first = await stack.enter_async_context(
                hub_process(args.database_url, Path(tmp) / "first", port, **SETTINGS)
            )
            for party in (emsp.party, cpo):
                token_a = await invite(client, first.server, f"Bench {party.role}")
                await register(client, party, first.server.versions_url, token_a)
            assert cpo.hub_token is not None
            receiver = await hub_endpoint(
                client, first.server.versions_url, cpo.hub_token, "locations", "RECEIVER"
            )
            progress.step(f"pushing {args.pushes} Locations; the eMSP holds every delivery")
            await push(client, receiver, cpo.hub_token, args.pushes)
            await asyncio.wait_for(emsp.all_held.wait(), 60)
            held_for = time.monotonic() - min(emsp.held.values())
            progress.step(f"the eMSP holds {len(emsp.held)}; kill -9 the hub")
            emsp.holding = False
            killed = time.monotonic()
            os.kill(first.process.pid, signal.SIGKILL)
            await asyncio.to_thread(first.process.wait)
            emsp.release.set()
            progress.step("starting a second voltroam serve on the same database and port")
            second = await stack.enter_async_context(
                hub_process(args.database_url, Path(tmp) / "second", port, **SETTINGS)
            )
            ready = second.started + second.ready_seconds
            progress.step(f"second instance ready after {second.ready_seconds:.1f} s; waiting")
            try:
                await asyncio.wait_for(emsp.all_again.wait(), args.wait)
            except TimeoutError:
                progress.step(f"not every push came again within {args.wait:.0f} s")
    progress.clear()
    again = [emsp.again[r] for r in emsp.held if r in emsp.again]
    since_restart = [t - second.started for t in again]
    since_ready = [t - ready for t in again]
    since_kill = [t - killed for t in again]
    lease = Settings.model_fields["delivery_lease_seconds"].default
    print()
    print(f"  pushes held when the hub was killed   {len(emsp.held)} (held {held_for:.1f} s)")
    print(f"  sent again after the restart          {len(again)}/{len(emsp.held)}")
    for label, values in (
        ("from the kill", since_kill),
        ("from the restart", since_restart),
        ("from the new instance ready", since_ready),
    ):
        print(
            f"  re-sent, {label:<28} p50 {percentile(values, 50):6.1f} s"
            f"   max {max(values, default=float('nan')):6.1f} s"
        )
    print(f"  the new instance answered /readyz after {second.ready_seconds:.1f} s")
    print(f"  DELIVERY_LEASE_SECONDS (default)      {lease:g} s")
    worst = max(since_restart, default=float("nan"))
    print_ratios(
        [
            Ratio(
                "re-sent after the restart, max / start-up",
                worst,
                second.ready_seconds,
                "s",
                better="lower",
            ),
            Ratio("re-sent after the restart, max / lease", worst, lease, "s", better="lower"),
        ],
        bare="reference",
        hub="recovery",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pushes", type=int, default=20, help="pushes held at the kill (20)")
    parser.add_argument(
        "--wait", type=float, default=180.0, help="seconds to wait for the re-sends (180)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="a PostgreSQL database (its public schema is DROPPED); default: DATABASE_URL",
    )
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default=default_loop())
    args = parser.parse_args()
    if not is_postgres(args.database_url):
        parser.error("two instances share a PostgreSQL database: give --database-url postgresql://")
    run(bench(args), args.loop)


if __name__ == "__main__":
    main()
