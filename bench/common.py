"""What the benchmarks share: the header (machine, load, database versions), percentiles, the
event loop, free ports, process CPU and memory, ``voltroam serve`` subprocesses, and the final
"hub / bare = ratio" block.

This machine is shared and noisy: only ratios travel. Each benchmark measures the hub and its
bare baseline in one run and ends with the ratios; the header says how loaded the machine was.

No imports from the hub at module level: bench_ocpp.py uses this module without loading the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


# --- the machine ------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def nproc() -> int:
    """CPUs this process may run on (what `nproc` says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_line() -> str:
    return (
        f"machine: {nproc()} CPUs ({cpu_model()}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith("postgres")


def asyncpg_dsn(url: str) -> str:
    """postgresql+asyncpg://... or postgres://... as asyncpg.connect() takes it."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


async def postgres_version(url: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def reset_postgres(url: str) -> None:
    """Drop and recreate the ``public`` schema (the benchmark's own database only)."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


async def database_line(url: str | None) -> str:
    if is_postgres(url):
        assert url is not None
        where = urlsplit(url)
        version = await postgres_version(url)
        return (
            f"database: PostgreSQL {version} ({where.hostname}:{where.port}{where.path}, asyncpg;"
            " its public schema is dropped first)"
        )
    return f"database: SQLite {sqlite3.sqlite_version} (a file in a temp dir, WAL, aiosqlite)"


async def header(name: str, what: str, database_url: str | None, loop: str | None = None) -> str:
    """The first lines of a benchmark's figures (returns the load average at the start)."""
    load = load_average()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{name} ({stamp}): {what}")
    print(machine_line() + (f", event loop {loop}" if loop else ""))
    print(f"load average at the start: {load} (1, 5, 15 min; the machine is shared)")
    print(await database_line(database_url))
    sys.stdout.flush()
    return load


# --- figures ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


@dataclass(frozen=True)
class Ratio:
    """One line of the final block: a figure of the hub beside the same figure of the bare
    baseline (``better`` says which way is good, for the reader)."""

    label: str
    hub: float
    bare: float
    unit: str = ""
    digits: int = 1
    better: str = "higher"  # or "lower"

    @property
    def ratio(self) -> float:
        return self.hub / self.bare if self.bare else math.nan


def percentile_ratios(
    label: str,
    hub: Sequence[float],
    bare: Sequence[float],
    scale: float = 1.0,
    unit: str = "ms",
    digits: int = 1,
) -> list[Ratio]:
    """p50 and p99 of two samples of latencies (times ``scale``), lower is better."""
    return [
        Ratio(
            f"{label} p{q}",
            percentile(hub, q) * scale,
            percentile(bare, q) * scale,
            unit,
            digits,
            "lower",
        )
        for q in (50, 99)
    ]


def print_ratios(rows: Sequence[Ratio], bare: str = "bare", hub: str = "hub") -> None:
    print()
    print(f"{hub} / {bare} = ratio (load average at the end: {load_average()})")
    width = max(len(r.label) + len(r.unit) + 3 for r in rows)
    for r in rows:
        label = f"{r.label} ({r.unit})" if r.unit else r.label
        print(
            f"  {label:<{width}} {r.hub:>10.{r.digits}f} / {r.bare:<10.{r.digits}f}"
            f" = {r.ratio:6.2f}   ({r.better} is better)"
        )
    sys.stdout.flush()


# --- the event loop ---------------------------------------------------------------------------


def default_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"  # what `voltroam serve` (uvicorn[standard]) runs on


def run(coro: Coroutine[Any, Any, T], loop: str) -> T:
    """asyncio.run on the chosen event loop ("uvloop" or "asyncio")."""
    factory = None
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def _child(
    main: Callable[[dict[str, Any]], Coroutine[Any, Any, Any]],
    cfg: dict[str, Any],
    conn: Connection,
) -> None:
    try:
        conn.send(run(main(cfg), cfg["loop"]))
    except BaseException as exc:
        conn.send({"crash": f"{type(exc).__name__}: {exc}"})
        raise
    finally:
        conn.close()


async def run_in_child(
    main: Callable[[dict[str, Any]], Coroutine[Any, Any, Any]], cfg: dict[str, Any]
) -> Any:
    """``await main(cfg)`` in a spawned process (on the event loop ``cfg["loop"]``) while this
    loop keeps serving the hub; its result (plain data: it crosses the process boundary)."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(main, cfg, sender), daemon=True)
    process.start()
    sender.close()
    try:
        while not receiver.poll():
            if not process.is_alive():
                raise RuntimeError(f"the peer process ended with code {process.exitcode}")
            await asyncio.sleep(0.05)
        result = receiver.recv()
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()
    if isinstance(result, dict) and "crash" in result:
        raise RuntimeError(f"the peer process failed: {result['crash']}")
    return result


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command: state is field 3, utime field 14, stime field 15 (man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its direct children."""
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


def raise_open_files_limit() -> int:
    """Soft limit of open files up to the hard one (thousands of sockets); children inherit it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return int(soft)


def voltroam_serve(
    port: int, workdir: Path, env: dict[str, str], log: Path | None = None
) -> subprocess.Popen[bytes]:
    """``voltroam serve`` (this worktree's app) on 127.0.0.1:port, quiet, in ``workdir``.

    ``env`` adds to the environment: at least DATABASE_URL and SECRET_KEY. ``log``: a file that
    keeps what the hub writes (its log at LOG_LEVEL), else discarded.
    """
    full = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **env,
    }
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=workdir,
        env=full,
        stdout=subprocess.DEVNULL if log is None else log.open("ab"),
        stderr=subprocess.DEVNULL if log is None else subprocess.STDOUT,
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> float:
    """Poll ``url`` until it answers 200; the seconds it took."""
    import httpx

    began = time.monotonic()
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() - began < timeout:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with code {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return time.monotonic() - began
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Block until something listens on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited early")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


@dataclass
class HubProcess:
    """A running ``voltroam serve``: what tests/conftest.py helpers need (``server``), its
    process, when it was started (monotonic) and how long it took to answer /readyz."""

    server: Any  # tests.conftest.RunningServer (app=None)
    process: subprocess.Popen[bytes]
    started: float
    ready_seconds: float


SECRET_KEY = "bench-secret-key"


@contextlib.asynccontextmanager
async def hub_process(
    database_url: str, workdir: Path, port: int | None = None, **env: str
) -> AsyncIterator[HubProcess]:
    """``voltroam serve`` on ``database_url`` until the block ends (then SIGTERM, unless it is
    gone already). ``env``: more settings, e.g. REDIS_URL="redis://...".
    """
    from app.core.settings import Settings
    from tests.conftest import RunningServer

    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    process = voltroam_serve(
        port, workdir, {"DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY, **env}
    )
    try:
        ready = await wait_ready(f"{base}/readyz", process)
        server = RunningServer(
            app=None,  # type: ignore[arg-type]
            base_url=base,
            settings=Settings(secret_key=SECRET_KEY, public_url=base),
        )
        yield HubProcess(server, process, started, ready)
    finally:
        stop_process(process)
