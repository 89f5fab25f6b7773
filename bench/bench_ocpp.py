"""Benchmark: N simulated OCPP 1.6 chargers connected at once to the hub's CSMS, side by side with
a bare ``ocpp``-package central system that stores nothing.

Run: ``python bench/bench_ocpp.py [--load CHARGERS:PERIOD[:CALLS] ...] [--duration 20]
[--database-url postgresql://postgres@127.0.0.1:5432/wt_bench] [--find-max] [--hub-log FILE]
[--bare-inline-validation]``, e.g.
``--load 1000:2 --load 3000:6 --load 10000:10:1`` (1,000 chargers with MeterValues and Heartbeat
every 2 s; 3,000 every 6 s; 10,000 with one MeterValues every 10 s). ``--chargers N --period P``
is ``--load N:P``. Not part of the test run.

Each server runs in its own process (so its resident memory is its own): the hub is
``voltroam serve`` on a fresh SQLite file (or the PostgreSQL database given, whose ``public``
schema is dropped first) with ``OCPP_ALLOW_UNKNOWN_CHARGERS=true``; the bare system is the
``ocpp`` package's v16 ChargePoint on ``websockets.serve`` answering BootNotification, Heartbeat,
StatusNotification and MeterValues from memory, with the package's defaults (payloads validated
in its thread pool; ``--bare-inline-validation``: on the event loop, as the hub does). The load generator (this process) opens N
WebSockets (subprotocol ocpp1.6, 100 handshakes in flight), sends BootNotification and
StatusNotification, then for ``--duration`` seconds each charger sends a MeterValues and a
Heartbeat (CALLS=2, the default) or a MeterValues alone (CALLS=1) every PERIOD seconds
(staggered), one CALL in flight per charger as OCPP-J requires. The hub does real work for each: MeterValues looks up the connector's transaction,
Heartbeat and StatusNotification touch the charger's state.

Figures per load and server: connections held at the end, CALLs answered per second during the
steady phase, the server process's CPU time (user + system) per CALL answered in that phase (the
figure least moved by other work on a shared machine), p50/p99 reply latency (CALL sent until its CALLRESULT or CALLERROR received), the
CALLERRORs the chargers received (by error code, over the whole run), peak resident memory of the
server process; then hub / bare for each. ``--find-max`` doubles N (from the first load) until
the hub no longer holds every connection or p99 exceeds 1 s, and reports the largest N that
passed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

sys.path.insert(0, str(ROOT / "bench"))
import progress  # noqa: E402
from common import (  # noqa: E402
    Ratio,
    cpu_seconds,
    free_port,
    header,
    is_postgres,
    print_ratios,
    raise_open_files_limit,
    reset_postgres,
    rss_mib,
    stop_process,
    voltroam_serve,
    wait_port,
)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Load:
    """N chargers, each sending ``calls`` CALLs (MeterValues, then Heartbeat) every ``period``."""

    chargers: int
    period: float
    calls: int = 2

    @classmethod
    def parse(cls, text: str) -> Load:
        parts = text.split(":")
        if not 2 <= len(parts) <= 3:
            raise argparse.ArgumentTypeError(f"CHARGERS:PERIOD[:CALLS], not {text!r}")
        calls = int(parts[2]) if len(parts) == 3 else 2
        if calls not in (1, 2):
            raise argparse.ArgumentTypeError("CALLS is 1 (MeterValues) or 2 (and Heartbeat)")
        return cls(int(parts[0]), float(parts[1]), calls)

    def __str__(self) -> str:
        what = "MeterValues + Heartbeat" if self.calls == 2 else "one MeterValues"
        return f"{self.chargers} chargers, {what} every {self.period:g} s"


# --- the bare central system (runs in a child process) --------------------------------------


def serve_bare(port: int, inline_validation: bool = False) -> None:
    import ocpp.messages
    import websockets
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result

    if inline_validation:
        # As the hub does (app/ocpp/protocol.py): schemas checked on the event loop.
        ocpp.messages.ASYNC_VALIDATION = False

    class Bare(ChargePoint):  # type: ignore[misc]
        @on("BootNotification")
        def boot(self, **kw: Any) -> Any:
            return call_result.BootNotification(current_time=now(), interval=300, status="Accepted")

        @on("Heartbeat")
        def heartbeat(self, **kw: Any) -> Any:
            return call_result.Heartbeat(current_time=now())

        @on("StatusNotification")
        def status(self, **kw: Any) -> Any:
            return call_result.StatusNotification()

        @on("MeterValues")
        def meter_values(self, **kw: Any) -> Any:
            return call_result.MeterValues()

    async def handler(ws: Any) -> None:
        cp = Bare(ws.request.path.rsplit("/", 1)[-1], ws)
        with contextlib.suppress(websockets.ConnectionClosed):
            await cp.start()

    async def main() -> None:
        async with websockets.serve(
            handler, "127.0.0.1", port, subprotocols=["ocpp1.6"], max_queue=16
        ):
            await asyncio.Future()

    asyncio.run(main())


# --- load generator --------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    steady_calls: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # CALLERRORs by error code
    connected: int = 0
    failed_connects: int = 0
    closed: int = 0


async def one_charger(
    url: str, cp_id: str, stats: Stats, start_steady: asyncio.Event, stop: asyncio.Event,
    load: Load, gate: asyncio.Semaphore, ready: asyncio.Event,
) -> None:  # fmt: skip
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    def counted() -> None:
        if stats.connected + stats.failed_connects >= load.chargers:
            ready.set()

    try:
        async with gate:
            ws = await connect(
                url + cp_id,
                subprotocols=[Subprotocol("ocpp1.6")],
                proxy=None,
                open_timeout=120,
                ping_interval=None,
                compression=None,
            )
    except Exception:
        stats.failed_connects += 1
        counted()
        return
    stats.connected += 1
    counted()

    async def call(action: str, payload: dict[str, Any], steady: bool) -> None:
        uid = uuid.uuid4().hex
        started = time.perf_counter()
        await ws.send(json.dumps([2, uid, action, payload]))
        while True:
            reply = json.loads(await ws.recv())
            if reply[1] == uid:
                break
        if reply[0] == 4:  # [4, id, errorCode, errorDescription, errorDetails]
            stats.errors[str(reply[2])] += 1
        elif reply[0] != 3:
            stats.errors["(not a CALLRESULT)"] += 1
        if steady:
            stats.latencies.append(time.perf_counter() - started)
            stats.steady_calls += 1

    try:
        await call(
            "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "B1"}, False
        )
        await call(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
            False,
        )
        await start_steady.wait()
        await asyncio.sleep(random.uniform(0, load.period))
        meter = 0
        while not stop.is_set():
            meter += 100
            await call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "meterValue": [
                        {"timestamp": now(), "sampledValue": [{"value": str(meter), "unit": "Wh"}]}
                    ],
                },
                True,
            )
            if load.calls == 2:
                await call("Heartbeat", {}, True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), load.period)
    except Exception:
        stats.closed += 1
    finally:
        if ws.state.name == "OPEN" and not stop.is_set():
            stats.closed += 1
        await ws.close()


async def run_load(
    url: str, pid: int, load: Load, duration: float, label: str = "load"
) -> dict[str, Any]:
    stats = Stats()
    start_steady = asyncio.Event()
    stop = asyncio.Event()
    gate = asyncio.Semaphore(100)
    ready = asyncio.Event()
    peak = 0.0
    chargers = load.chargers
    tasks = [
        asyncio.create_task(
            one_charger(url, f"BENCH{i:06d}", stats, start_steady, stop, load, gate, ready)
        )
        for i in range(chargers)
    ]

    def connecting() -> str:
        failed = f", {stats.failed_connects} failed" if stats.failed_connects else ""
        return f"{label}: {stats.connected}/{chargers} chargers connected{failed}"

    async with progress.ticking(connecting):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), max(180, chargers / 20))
        await asyncio.sleep(1)
    progress.step(f"{connecting()}; {duration:.0f} s of MeterValues and Heartbeats")
    start_steady.set()
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    end = time.monotonic() + duration

    def steady() -> str:
        return (
            f"{label}: {time.perf_counter() - t0:.0f}/{duration:.0f} s, "
            f"{stats.steady_calls} calls answered, {stats.connected - stats.closed} held, "
            f"{stats.errors.total()} CALLERRORs"
        )

    async with progress.ticking(steady):
        while time.monotonic() < end:
            peak = max(peak, rss_mib(pid))
            await asyncio.sleep(0.5)
    held = stats.connected - stats.closed
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    calls = stats.steady_calls
    lat = sorted(stats.latencies)
    progress.step(f"{label}: {calls} calls answered in {elapsed:.1f} s; disconnecting")
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    return {
        "connections_held": held,
        "failed_connects": stats.failed_connects,
        "calls_per_s": calls / elapsed if elapsed else 0.0,
        "cpu_ms_per_call": cpu * 1000 / calls if calls else float("nan"),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": stats.errors.total(),
        "errors_by_code": dict(stats.errors),
        "rss_mib": peak,
    }


def start_hub(
    port: int, database_url: str | None, workdir: str, log: str | None = None
) -> subprocess.Popen[bytes]:
    if is_postgres(database_url):
        assert database_url is not None
        asyncio.run(reset_postgres(database_url))
    env = {
        "DATABASE_URL": database_url or f"sqlite:///{workdir}/hub.db",
        "SECRET_KEY": "bench",
        "OCPP_ALLOW_UNKNOWN_CHARGERS": "true",
        "DELIVERY_ENABLED": "false",
        "ALIVE_CHECK_INTERVAL_SECONDS": "0",
    }
    return voltroam_serve(port, Path(workdir), env, Path(log) if log else None)


def start_bare(port: int, inline_validation: bool) -> subprocess.Popen[bytes]:
    inline = ["--bare-inline-validation"] if inline_validation else []
    return subprocess.Popen(
        [sys.executable, __file__, "--serve-bare", str(port), *inline],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def measure(kind: str, load: Load, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    server = "voltroam serve" if kind == "hub" else "the bare ocpp central system"
    progress.step(f"{kind}: starting {server} for {load}")
    with tempfile.TemporaryDirectory() as workdir:
        proc = (
            start_hub(port, args.database_url, workdir, args.hub_log)
            if kind == "hub"
            else start_bare(port, args.bare_inline_validation)
        )
        try:
            wait_port(port, proc, timeout=120)
            url = f"ws://127.0.0.1:{port}/ocpp/" if kind == "hub" else f"ws://127.0.0.1:{port}/"
            return asyncio.run(run_load(url, proc.pid, load, args.duration, label=kind))
        finally:
            stop_process(proc, timeout=30)


def report(load: Load, hub: dict[str, Any], bare: dict[str, Any], duration: float) -> None:
    print(f"\n{load} (OCPP 1.6; {duration:g} s steady)")
    print(f"  {'':24}{'voltroam':>12}{'bare ocpp':>12}{'ratio':>10}")
    rows = [
        ("connections held", "connections_held", "{:.0f}"),
        ("failed connects", "failed_connects", "{:.0f}"),
        ("calls/s answered", "calls_per_s", "{:.0f}"),
        ("server CPU ms per call", "cpu_ms_per_call", "{:.2f}"),
        ("p50 reply (ms)", "p50_ms", "{:.1f}"),
        ("p99 reply (ms)", "p99_ms", "{:.1f}"),
        ("CALLERRORs", "errors", "{:.0f}"),
        ("peak RSS (MiB)", "rss_mib", "{:.1f}"),
    ]
    for label, key, fmt in rows:
        a, b = hub[key], bare[key]
        ratio = f"{a / b:.2f}" if b else "-"
        print(f"  {label:24}{fmt.format(a):>12}{fmt.format(b):>12}{ratio:>10}")
    for name, r in (("voltroam", hub), ("bare ocpp", bare)):
        if r["errors_by_code"]:
            codes = ", ".join(f"{code} {n}" for code, n in sorted(r["errors_by_code"].items()))
            print(f"  CALLERRORs received from {name}, by code: {codes}")
    expected = load.chargers * load.calls / load.period
    print(f"  (offered: {expected:.0f} calls/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--load",
        type=Load.parse,
        action="append",
        default=None,
        metavar="CHARGERS:PERIOD[:CALLS]",
        help="a load to measure (repeatable), e.g. 1000:2, 3000:6, 10000:10:1; CALLS is 2 "
        "(MeterValues and Heartbeat, default) or 1 (MeterValues) every PERIOD seconds",
    )
    parser.add_argument("--chargers", type=int, default=1000, help="without --load: N")
    parser.add_argument("--period", type=float, default=2.0, help="without --load: PERIOD")
    parser.add_argument("--duration", type=float, default=20.0, help="steady seconds per load")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--find-max", action="store_true")
    parser.add_argument(
        "--hub-log",
        default=None,
        metavar="FILE",
        help="keep the hub's log (WARNING and above: a CALLERROR's cause) in FILE, appended",
    )
    parser.add_argument(
        "--bare-inline-validation",
        action="store_true",
        help="the bare system validates payloads on the event loop, as the hub does (the ocpp "
        "package's default is its thread pool)",
    )
    parser.add_argument("--serve-bare", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare is not None:
        serve_bare(args.serve_bare, args.bare_inline_validation)
        return
    loads: list[Load] = args.load or [Load(args.chargers, args.period)]
    limit = raise_open_files_limit()
    asyncio.run(
        header(
            "bench_ocpp",
            "; ".join(map(str, loads)) + "; the hub and a bare ocpp central system, each in "
            f"its own process (open files limit {limit})"
            + ("; bare validates inline" if args.bare_inline_validation else ""),
            args.database_url,
        )
    )
    ratios: list[Ratio] = []
    best = 0
    for load in loads:
        current = load
        while True:
            hub = measure("hub", current, args)
            bare = measure("bare", current, args)
            report(current, hub, bare, args.duration)
            n = current.chargers
            ratios += [
                Ratio(
                    f"{n} / {current.period:g} s: calls/s",
                    hub["calls_per_s"],
                    bare["calls_per_s"],
                    "",
                    0,
                ),
                Ratio(
                    f"{n} / {current.period:g} s: CPU per call",
                    hub["cpu_ms_per_call"],
                    bare["cpu_ms_per_call"],
                    "ms",
                    2,
                    "lower",
                ),
                Ratio(
                    f"{n} / {current.period:g} s: p99 reply",
                    hub["p99_ms"],
                    bare["p99_ms"],
                    "ms",
                    1,
                    "lower",
                ),
                Ratio(
                    f"{n} / {current.period:g} s: peak RSS",
                    hub["rss_mib"],
                    bare["rss_mib"],
                    "MiB",
                    0,
                    "lower",
                ),
            ]
            ok = hub["connections_held"] == n and hub["p99_ms"] < 1000
            if ok:
                best = max(best, n)
            if not args.find_max or not ok:
                break
            current = Load(n * 2, current.period, current.calls)
    progress.clear()
    print_ratios(ratios)
    if args.find_max:
        print(f"\nMost chargers the hub held with p99 < 1 s on this machine: {best}")


if __name__ == "__main__":
    main()
