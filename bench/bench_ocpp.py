"""Benchmark: N simulated OCPP 1.6 chargers connected at once to the hub's CSMS, side by side with
a bare ``ocpp``-package central system that stores nothing.

Run: ``python bench/bench_ocpp.py [--chargers 1000] [--duration 20] [--period 2]
[--database-url postgresql://postgres@127.0.0.1:5432/test] [--find-max]``.
Not part of the test run.

Each server runs in its own process (so its resident memory is its own): the hub is
``voltroam serve`` on a fresh SQLite file (or the PostgreSQL database given, whose ``public``
schema is dropped first) with ``OCPP_ALLOW_UNKNOWN_CHARGERS=true``; the bare system is the
``ocpp`` package's v16 ChargePoint on ``websockets.serve`` answering BootNotification, Heartbeat,
StatusNotification and MeterValues from memory. The load generator (this process) opens N
WebSockets (subprotocol ocpp1.6, 100 handshakes in flight), sends BootNotification and
StatusNotification, then for ``--duration`` seconds each charger sends a MeterValues and a
Heartbeat every ``--period`` seconds (staggered), one CALL in flight per charger as OCPP-J
requires. The hub does real work for each: MeterValues looks up the connector's transaction,
Heartbeat and StatusNotification touch the charger's state.

Figures per server: connections held at the end, CALLs answered per second during the steady
phase, p50/p99 reply latency (CALL sent until CALLRESULT received), peak resident memory of the
server process; then the hub's figures as a ratio of the bare system's. ``--find-max`` doubles N
(from ``--chargers``) until the hub no longer holds every connection or p99 exceeds 1 s, and
reports the largest N that passed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VOLTROAM = str(Path(sys.executable).with_name("voltroam"))

sys.path.insert(0, str(ROOT / "bench"))
import progress  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn may fork nothing; be safe)."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


# --- the bare central system (runs in a child process) --------------------------------------


def serve_bare(port: int) -> None:
    import websockets
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result

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
    errors: int = 0
    connected: int = 0
    failed_connects: int = 0
    closed: int = 0


async def one_charger(
    url: str, cp_id: str, stats: Stats, start_steady: asyncio.Event, stop: asyncio.Event,
    period: float, gate: asyncio.Semaphore, ready: asyncio.Event, total: int,
) -> None:  # fmt: skip
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    def counted() -> None:
        if stats.connected + stats.failed_connects >= total:
            ready.set()

    try:
        async with gate:
            ws = await connect(
                url + cp_id,
                subprotocols=[Subprotocol("ocpp1.6")],
                proxy=None,
                open_timeout=60,
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
        if reply[0] != 3:
            stats.errors += 1
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
        await asyncio.sleep(random.uniform(0, period))
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
            await call("Heartbeat", {}, True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), period)
    except Exception:
        stats.closed += 1
    finally:
        if ws.state.name == "OPEN" and not stop.is_set():
            stats.closed += 1
        await ws.close()


async def run_load(
    url: str, pid: int, chargers: int, duration: float, period: float, label: str = "load"
) -> dict[str, Any]:
    stats = Stats()
    start_steady = asyncio.Event()
    stop = asyncio.Event()
    gate = asyncio.Semaphore(100)
    ready = asyncio.Event()
    peak = 0.0
    tasks = [
        asyncio.create_task(
            one_charger(
                url, f"BENCH{i:06d}", stats, start_steady, stop, period, gate, ready, chargers
            )
        )
        for i in range(chargers)
    ]

    def connecting() -> str:
        failed = f", {stats.failed_connects} failed" if stats.failed_connects else ""
        return f"{label}: {stats.connected}/{chargers} chargers connected{failed}"

    async with progress.ticking(connecting):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), 180)
        await asyncio.sleep(1)
    progress.step(f"{connecting()}; {duration:.0f} s of MeterValues and Heartbeats")
    start_steady.set()
    t0 = time.perf_counter()
    end = time.monotonic() + duration

    def steady() -> str:
        return (
            f"{label}: {time.perf_counter() - t0:.0f}/{duration:.0f} s, "
            f"{stats.steady_calls} calls answered, {stats.connected - stats.closed} held, "
            f"{stats.errors} CALLERRORs"
        )

    async with progress.ticking(steady):
        while time.monotonic() < end:
            peak = max(peak, rss_mib(pid))
            await asyncio.sleep(0.5)
    held = stats.connected - stats.closed
    elapsed = time.perf_counter() - t0
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
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": stats.errors,
        "rss_mib": peak,
    }


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def start_hub(port: int, database_url: str | None, workdir: str) -> subprocess.Popen[bytes]:
    if database_url and database_url.startswith("postgres"):
        import sqlalchemy

        engine = sqlalchemy.create_engine(
            database_url.replace("postgresql://", "postgresql+psycopg2://")
        )
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sqlalchemy.text("CREATE SCHEMA public"))
    env = {
        **os.environ,
        "DATABASE_URL": database_url or f"sqlite:///{workdir}/hub.db",
        "SECRET_KEY": "bench",
        "OCPP_ALLOW_UNKNOWN_CHARGERS": "true",
        "LOG_LEVEL": "WARNING",
        "DELIVERY_ENABLED": "false",
        "ALIVE_CHECK_INTERVAL_SECONDS": "0",
    }
    return subprocess.Popen(
        [VOLTROAM, "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_bare(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--serve-bare", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def measure(kind: str, chargers: int, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    server = "voltroam serve" if kind == "hub" else "the bare ocpp central system"
    progress.step(f"{kind}: starting {server} for {chargers} chargers")
    with tempfile.TemporaryDirectory() as workdir:
        proc = start_hub(port, args.database_url, workdir) if kind == "hub" else start_bare(port)
        try:
            wait_port(port, proc)
            url = f"ws://127.0.0.1:{port}/ocpp/" if kind == "hub" else f"ws://127.0.0.1:{port}/"
            return asyncio.run(
                run_load(url, proc.pid, chargers, args.duration, args.period, label=kind)
            )
        finally:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()


def report(chargers: int, hub: dict[str, Any], bare: dict[str, Any]) -> None:
    print(f"\n{chargers} chargers, OCPP 1.6, MeterValues + Heartbeat every period per charger")
    print(f"{'':24}{'voltroam':>12}{'bare ocpp':>12}{'ratio':>10}")
    rows = [
        ("connections held", "connections_held", "{:.0f}"),
        ("failed connects", "failed_connects", "{:.0f}"),
        ("calls/s answered", "calls_per_s", "{:.0f}"),
        ("p50 reply (ms)", "p50_ms", "{:.1f}"),
        ("p99 reply (ms)", "p99_ms", "{:.1f}"),
        ("CALLERRORs", "errors", "{:.0f}"),
        ("peak RSS (MiB)", "rss_mib", "{:.1f}"),
    ]
    for label, key, fmt in rows:
        a, b = hub[key], bare[key]
        ratio = f"{a / b:.2f}" if b else "-"
        print(f"{label:24}{fmt.format(a):>12}{fmt.format(b):>12}{ratio:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--period", type=float, default=2.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--find-max", action="store_true")
    parser.add_argument("--serve-bare", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare is not None:
        serve_bare(args.serve_bare)
        return
    chargers = args.chargers
    best = 0
    while True:
        hub = measure("hub", chargers, args)
        bare = measure("bare", chargers, args)
        report(chargers, hub, bare)
        ok = hub["connections_held"] == chargers and hub["p99_ms"] < 1000
        if ok:
            best = chargers
        if not args.find_max or not ok:
            break
        chargers *= 2
    if args.find_max:
        print(f"\nMost chargers the hub held with p99 < 1 s on this machine: {best}")


if __name__ == "__main__":
    main()
