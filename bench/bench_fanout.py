"""Benchmark: one CPO pushing N Location updates through the hub to M eMSPs, on loopback.

Run: ``python bench/bench_fanout.py [--pushes 2000] [--emsps 3] [--concurrency 20]
[--patch-ratio 0.3] [--database-url postgresql://postgres@127.0.0.1:5432/test]``.
Not part of the test run.

The hub is a real uvicorn server in this process (as in tests/conftest.py), on a SQLite file in a
temporary directory unless ``--database-url`` names a PostgreSQL database (its ``public`` schema is
dropped and recreated first). The M eMSPs and the CPO are small FastAPI apps served by uvicorn on
127.0.0.1 in a second process (``--in-process`` runs them in the hub's event loop instead), so the
hub has a core of its own on a two-core machine. Every party registers through the real
credentials handshake (admin invitation, then the party-initiated registration).

The CPO pushes N requests with C in flight: Location PUTs with distinct ids, and EVSE status
PATCHes (``--patch-ratio``) on Locations the hub already accepted. Each push carries its own
``last_updated``, so each eMSP's receipt is matched to the push by (location id, last_updated).

Figures: pushes/s accepted by the hub (first push sent until the last answer), end-to-end
deliveries/s (N*M deliveries, first push sent until the last eMSP received the last one), and
push-to-receipt latency (the moment the CPO sent a push until an eMSP received it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import platform
import random
import secrets
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import Response  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app.hub.outbox import service as outbox  # noqa: E402
from app.ocpi.auth import encode_token  # noqa: E402
from app.ocpi.schemas.common import format_datetime, parse_datetime  # noqa: E402
from tests.conftest import (  # noqa: E402
    RunningServer,
    free_port,
    invite,
    reset_postgres,
    running_hub,
    serve,
)
from tests.peers import decode_auth  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import progress  # noqa: E402

VERSION = "2.2.1"
HUB_PARTY = ("NL", "VRH")  # hub_settings() keeps the default hub identity
CPO_PARTY = ("NL", "CPO")
# Each push gets its own last_updated: BASE + its index in seconds.
BASE = datetime(2024, 1, 1, tzinfo=UTC)
T = TypeVar("T")
STATUSES = ["AVAILABLE", "CHARGING", "BLOCKED", "RESERVED", "OUTOFORDER"]


# --- the machine and the database -------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    return (
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


async def describe_database(hub: RunningServer) -> str:
    ctx = hub.app.state.hub
    async with ctx.engine.connect() as conn:
        if ctx.engine.dialect.name == "postgresql":
            version = (await conn.execute(text("SHOW server_version"))).scalar()
            url = urlsplit(ctx.settings.database_url)
            return f"PostgreSQL {version} ({url.hostname}:{url.port}{url.path}, asyncpg)"
    return f"SQLite {sqlite3.sqlite_version} (file in a temp dir, WAL, aiosqlite)"


@asynccontextmanager
async def bench_hub(database_url: str | None, **overrides: Any) -> AsyncIterator[RunningServer]:
    """A hub on a fresh database: a SQLite file in a temp dir, or a reset PostgreSQL schema."""
    with tempfile.TemporaryDirectory(prefix="voltroam-bench-") as tmp:
        url = database_url or f"sqlite:///{tmp}/hub.db"
        if url.startswith("postgres"):
            await reset_postgres(url)
        # running_hub() -> hub_settings(): LOG_LEVEL=WARNING, a fixed secret key.
        async with running_hub(url, **overrides) as hub:
            yield hub


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


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


# --- the parties ------------------------------------------------------------------------------


def ok_body() -> bytes:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return b'{"status_code":1000,"status_message":"Success","timestamp":"' + stamp.encode() + b'"}'


def json_response(data: Any = None, status_code: int = 1000, http_status: int = 200) -> Response:
    body: dict[str, Any] = {
        "status_code": status_code,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if data is not None:
        body["data"] = data
    return Response(json.dumps(body), status_code=http_status, media_type="application/json")


@dataclass
class BenchParty:
    """An OCPI 2.2.1 party with one role: serves versions/details, receives pushes from the hub.

    ``endpoints`` are the module endpoints it advertises besides credentials, as (identifier,
    role). A receipt is recorded per (location id, last_updated) with the time it arrived.
    """

    role: str
    country_code: str
    party_id: str
    endpoints: list[tuple[str, str]] = field(default_factory=list)
    base_url: str = ""
    accepted_tokens: set[str] = field(default_factory=set)
    hub_token: str | None = None
    receipts: dict[tuple[str, datetime], float] = field(default_factory=dict)
    duplicates: list[tuple[str, datetime]] = field(default_factory=list)
    other: Counter[str] = field(default_factory=Counter)
    on_receipt: Callable[[], None] = lambda: None

    def __post_init__(self) -> None:
        self.app = self._build()

    def credentials(self, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": f"{self.base_url}/versions",
            "roles": [
                {
                    "role": self.role,
                    "country_code": self.country_code,
                    "party_id": self.party_id,
                    "business_details": {"name": f"Bench {self.role} {self.party_id}"},
                }
            ],
        }

    def _authorized(self, request: Request) -> bool:
        return decode_auth(request.headers.get("authorization")) in self.accepted_tokens

    def _build(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

        @app.get("/versions")
        async def versions(request: Request) -> Response:
            if not self._authorized(request):
                return json_response(None, 2000, http_status=401)
            return json_response([{"version": VERSION, "url": f"{self.base_url}/{VERSION}"}])

        @app.get(f"/{VERSION}")
        async def details(request: Request) -> Response:
            if not self._authorized(request):
                return json_response(None, 2000, http_status=401)
            endpoints = [
                {
                    "identifier": "credentials",
                    "role": "SENDER",
                    "url": f"{self.base_url}/{VERSION}/credentials",
                }
            ]
            endpoints += [
                {"identifier": ident, "role": role, "url": f"{self.base_url}/{VERSION}/{ident}"}
                for ident, role in self.endpoints
            ]
            return json_response({"version": VERSION, "endpoints": endpoints})

        @app.api_route(
            f"/{VERSION}/locations/{{cc}}/{{pid}}/{{rest:path}}", methods=["PUT", "PATCH"]
        )
        async def location(request: Request, rest: str) -> Response:
            arrived = time.monotonic()
            if not self._authorized(request):
                return json_response(None, 2000, http_status=401)
            body = json.loads(await request.body())
            key = (rest.split("/", 1)[0], parse_datetime(body["last_updated"]))
            if key in self.receipts:
                self.duplicates.append(key)
            else:
                self.receipts[key] = arrived
                self.on_receipt()
            return Response(ok_body(), media_type="application/json")

        @app.put(f"/{VERSION}/hubclientinfo/{{cc}}/{{pid}}")
        async def clientinfo(request: Request, cc: str, pid: str) -> Response:
            if not self._authorized(request):
                return json_response(None, 2000, http_status=401)
            await request.body()
            self.other["hubclientinfo"] += 1
            return Response(ok_body(), media_type="application/json")

        @app.api_route(
            f"/{VERSION}/{{module}}/{{rest:path}}", methods=["GET", "PUT", "PATCH", "POST"]
        )
        async def anything_else(request: Request, module: str, rest: str) -> Response:
            self.other[f"{request.method} {module}"] += 1
            return json_response(None, 2000, http_status=404)

        return app


async def register(
    client: httpx.AsyncClient, party: BenchParty, versions_url: str, token_a: str
) -> None:
    """The party-initiated handshake (as tests/peers.py FakeParty.register_with does it)."""
    auth = {"Authorization": encode_token(token_a)}
    versions = (await client.get(versions_url, headers=auth)).json()["data"]
    url = next(v["url"] for v in versions if v["version"] == VERSION)
    details = (await client.get(url, headers=auth)).json()["data"]
    credentials_url = next(
        e["url"] for e in details["endpoints"] if e["identifier"] == "credentials"
    )
    token_b = secrets.token_urlsafe(32)
    party.accepted_tokens.add(token_b)
    response = await client.post(credentials_url, json=party.credentials(token_b), headers=auth)
    body = response.json()
    if body.get("status_code") != 1000:
        raise RuntimeError(f"registration of {party.party_id} failed: {response.text}")
    party.hub_token = body["data"]["token"]


async def hub_endpoint(
    client: httpx.AsyncClient, versions_url: str, token: str, identifier: str, role: str
) -> str:
    """The URL of one of the hub's endpoints, from its versions and 2.2.1 details."""
    auth = {"Authorization": encode_token(token)}
    versions = (await client.get(versions_url, headers=auth)).json()["data"]
    url = next(v["url"] for v in versions if v["version"] == VERSION)
    details = (await client.get(url, headers=auth)).json()["data"]
    return str(
        next(
            e["url"]
            for e in details["endpoints"]
            if e["identifier"] == identifier and e["role"] == role
        )
    )


def ocpi_headers(token: str, from_party: tuple[str, str]) -> dict[str, str]:
    return {
        "Authorization": encode_token(token),
        "X-Request-ID": uuid.uuid4().hex,
        "X-Correlation-ID": uuid.uuid4().hex,
        "OCPI-from-country-code": from_party[0],
        "OCPI-from-party-id": from_party[1],
        "OCPI-to-country-code": HUB_PARTY[0],
        "OCPI-to-party-id": HUB_PARTY[1],
    }


def location_body(location_id: str, stamp: str, evses: int = 2) -> dict[str, Any]:
    """A realistic Location: two EVSEs with one Type 2 connector each (~1.5 kB of JSON)."""
    return {
        "country_code": CPO_PARTY[0],
        "party_id": CPO_PARTY[1],
        "id": location_id,
        "publish": True,
        "name": f"Bench station {location_id}",
        "address": "Stationsplein 1",
        "city": "Amsterdam",
        "postal_code": "1012AB",
        "country": "NLD",
        "coordinates": {"latitude": "52.378901", "longitude": "4.900591"},
        "parking_type": "ON_STREET",
        "evses": [
            {
                "uid": f"{location_id}-{k}",
                "evse_id": f"NL*CPO*E{location_id[-6:]}*{k}",
                "status": "AVAILABLE",
                "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"],
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "max_electric_power": 22080,
                        "tariff_ids": ["AC-STANDARD"],
                        "last_updated": stamp,
                    }
                ],
                "last_updated": stamp,
            }
            for k in range(1, evses + 1)
        ],
        "operator": {"name": "Bench CPO"},
        "time_zone": "Europe/Amsterdam",
        "opening_times": {"twentyfourseven": True},
        "last_updated": stamp,
    }


# --- the peers' side of the fan-out -----------------------------------------------------------


@dataclass
class Workload:
    pushes: int
    concurrency: int
    patch_ratio: float
    seed: int = 1
    sent: dict[int, float] = field(default_factory=dict)
    # (location id, last_updated) -> push index, for every push the hub accepted
    expected: dict[tuple[str, datetime], int] = field(default_factory=dict)
    accepted_locations: list[str] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    done: int = 0
    last_answer: float = 0.0


async def push_all(client: httpx.AsyncClient, receiver_url: str, token: str, w: Workload) -> None:
    rng = random.Random(w.seed)
    plan = ["PATCH" if rng.random() < w.patch_ratio else "PUT" for _ in range(w.pushes)]
    counter = iter(range(w.pushes))
    next_location = iter(range(1, w.pushes + 1))
    cc, pid = CPO_PARTY

    async def one(i: int) -> None:
        stamp = format_datetime(BASE + timedelta(seconds=i))
        if plan[i] == "PATCH" and w.accepted_locations:
            location_id = rng.choice(w.accepted_locations)
            evse = f"{location_id}-{rng.randint(1, 2)}"
            method, url = "PATCH", f"{receiver_url}/{cc}/{pid}/{location_id}/{evse}"
            body: dict[str, Any] = {"status": rng.choice(STATUSES), "last_updated": stamp}
        else:
            location_id = f"BENCH-{next(next_location):06d}"
            method, url = "PUT", f"{receiver_url}/{cc}/{pid}/{location_id}"
            body = location_body(location_id, stamp)
        key = (location_id, parse_datetime(stamp))
        w.expected[key] = i
        headers = ocpi_headers(token, CPO_PARTY)
        w.sent[i] = started = time.monotonic()
        try:
            response = await client.request(method, url, json=body, headers=headers)
            status = response.json().get("status_code") if response.content else None
        except (httpx.HTTPError, ValueError) as exc:
            response, status = None, None
            error = f"{method} {url}: {type(exc).__name__}: {exc}"
        answered = time.monotonic()
        w.last_answer = max(w.last_answer, answered)
        w.done += 1
        if response is not None and response.status_code in (200, 201) and status == 1000:
            w.answer_ms.append((answered - started) * 1000)
            w.kinds[method] += 1
            if method == "PUT":
                w.accepted_locations.append(location_id)
            return
        del w.expected[key]
        w.error_count += 1
        if response is not None:
            error = f"{method} {url} -> HTTP {response.status_code}: {response.text[:300]}"
        if len(w.errors) < 5:
            w.errors.append(error)

    async def worker() -> None:
        for i in counter:
            await one(i)

    await asyncio.gather(*(worker() for _ in range(w.concurrency)))


async def run_peers(cfg: dict[str, Any], show_progress: bool = True) -> dict[str, Any]:
    """Serve the eMSPs and the CPO, register them, push, wait for every delivery; the figures."""
    m = cfg["emsps"]
    emsps = [
        BenchParty(
            "EMSP",
            "DE",
            f"E{i:02d}",
            endpoints=[("locations", "RECEIVER"), ("hubclientinfo", "RECEIVER")],
        )
        for i in range(m)
    ]
    cpo = BenchParty("CPO", *CPO_PARTY)  # only credentials: the hub's pull finds nothing
    w = Workload(cfg["pushes"], cfg["concurrency"], cfg["patch_ratio"], cfg["seed"])
    last_receipt = [0.0]
    received = [0]

    def on_receipt() -> None:
        received[0] += 1
        last_receipt[0] = time.monotonic()

    for party in emsps:
        party.on_receipt = on_receipt

    async with AsyncExitStack() as stack:
        for party in [*emsps, cpo]:
            port = free_port()
            party.base_url = f"http://127.0.0.1:{port}"
            await stack.enter_async_context(serve(party.app, port))
        limits = httpx.Limits(
            max_connections=w.concurrency, max_keepalive_connections=w.concurrency
        )
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=60, limits=limits))
        for party, token_a in zip([*emsps, cpo], cfg["token_as"], strict=True):
            await register(client, party, cfg["versions_url"], token_a)
        assert cpo.hub_token is not None
        receiver_url = await hub_endpoint(
            client, cfg["versions_url"], cpo.hub_token, "locations", "RECEIVER"
        )
        # Let the hubclientinfo pushes of the registrations go out before measuring.
        await asyncio.sleep(1.0)
        if show_progress:
            progress.step(f"{m} eMSPs and the CPO registered; pushing {w.pushes} updates")

        total = w.pushes * m
        began = time.monotonic()
        pusher = asyncio.create_task(push_all(client, receiver_url, cpo.hub_token, w))
        idle_since = time.monotonic()
        seen = 0
        while True:
            await asyncio.sleep(0.2)
            now = time.monotonic()
            if show_progress:
                progress.status(
                    f"pushed {w.done}/{w.pushes} ({w.error_count} errors)   "
                    f"delivered {received[0]}/{len(w.expected) * m if pusher.done() else total}"
                    f"   {now - began:6.1f} s"
                )
            if received[0] != seen or not pusher.done():
                seen, idle_since = received[0], now
            if pusher.done():
                pusher.result()
                if all(k in e.receipts for e in emsps for k in w.expected):
                    break
                if now - idle_since > cfg["stall_seconds"]:
                    break
        if show_progress:
            progress.step(
                f"pushes answered, {received[0]} deliveries received; waiting for late duplicates"
            )
        await asyncio.sleep(0.5)  # late duplicates

    latencies = [
        (e.receipts[k] - w.sent[i]) * 1000
        for e in emsps
        for k, i in w.expected.items()
        if k in e.receipts
    ]
    missing = [(e.party_id, k) for e in emsps for k in w.expected if k not in e.receipts]
    unexpected = [(e.party_id, k) for e in emsps for k in e.receipts if k not in w.expected]
    delivered = [e.receipts[k] for e in emsps for k in w.expected if k in e.receipts]
    first = min(w.sent.values()) if w.sent else began
    return {
        "pushes": w.pushes,
        "accepted": len(w.expected),
        "kinds": dict(w.kinds),
        "errors": w.errors,
        "error_count": w.error_count,
        "push_seconds": w.last_answer - first,
        "answer_ms": [percentile(w.answer_ms, q) for q in (50, 95, 99)],
        "deliveries": len(latencies),
        "expected_deliveries": len(w.expected) * m,
        "e2e_seconds": (max(delivered) - first) if delivered else math.nan,
        "latency_ms": [percentile(latencies, q) for q in (50, 95, 99, 100)],
        "duplicates": sum(len(e.duplicates) for e in emsps),
        "duplicate_examples": [str(d) for e in emsps for d in e.duplicates[:3]],
        "missing": len(missing),
        "missing_examples": [str(x) for x in missing[:5]],
        "unexpected": len(unexpected),
        "unexpected_examples": [str(x) for x in unexpected[:5]],
        "other": sum((e.other for e in emsps), Counter()),
    }


def peer_process(cfg: dict[str, Any], conn: Connection) -> None:
    try:
        conn.send(run(run_peers(cfg), cfg["loop"]))
    except BaseException as exc:
        conn.send({"crash": f"{type(exc).__name__}: {exc}"})
        raise
    finally:
        conn.close()


async def run_in_child(target: Callable[..., None], *args: Any) -> Any:
    """Run ``target(*args, conn)`` in a spawned process while this loop keeps serving the hub."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, sender), daemon=True)
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


# --- main -------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> None:
    progress.step("starting the hub")
    async with bench_hub(args.database_url) as hub:
        database = await describe_database(hub)
        print(machine_line())
        print(f"database: {database}; event loop: {args.loop}")
        where = "in the hub's process" if args.in_process else "in a second process"
        print(
            f"fan-out: 1 CPO -> hub -> {args.emsps} eMSPs; {args.pushes} pushes "
            f"(patch ratio {args.patch_ratio}), concurrency {args.concurrency}; peers {where}"
        )
        progress.step(f"hub up; inviting {args.emsps} eMSPs and a CPO")
        async with httpx.AsyncClient(timeout=30) as http:
            token_as = [await invite(http, hub, f"Bench eMSP {i}") for i in range(args.emsps)]
            token_as.append(await invite(http, hub, "Bench CPO"))
        cfg = {
            "versions_url": hub.versions_url,
            "token_as": token_as,
            "emsps": args.emsps,
            "pushes": args.pushes,
            "concurrency": args.concurrency,
            "patch_ratio": args.patch_ratio,
            "seed": args.seed,
            "stall_seconds": args.stall_seconds,
            "loop": args.loop,
        }
        progress.step(f"starting the peers {where}")
        if args.in_process:
            result = await run_peers(cfg)
        else:
            result = await run_in_child(peer_process, cfg)
        async with hub.app.state.hub.sessions() as session:
            queue = await outbox.counts(session)
    progress.step("done")
    report(result, queue)


def report(r: dict[str, Any], queue: dict[str, int]) -> None:
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(r["kinds"].items(), key=lambda x: x[0][1:]))
    a50, a95, a99 = r["answer_ms"]
    l50, l95, l99, lmax = r["latency_ms"]
    rows = [
        ("pushes accepted by the hub", f"{r['accepted']}/{r['pushes']}", f"({kinds})"),
        (
            "push throughput",
            f"{r['accepted'] / r['push_seconds']:.1f} pushes/s",
            f"({r['push_seconds']:.2f} s)",
        ),
        (
            "hub answer to a push",
            f"p50 {a50:.1f} ms",
            f"p95 {a95:.1f} ms  p99 {a99:.1f} ms",
        ),
        ("deliveries received", f"{r['deliveries']}/{r['expected_deliveries']}", ""),
        (
            "end-to-end deliveries",
            f"{r['deliveries'] / r['e2e_seconds']:.1f} deliveries/s",
            f"({r['e2e_seconds']:.2f} s until the last receipt)",
        ),
        (
            "push-to-receipt latency",
            f"p50 {l50:.1f} ms",
            f"p95 {l95:.1f} ms  p99 {l99:.1f} ms  max {lmax:.1f} ms",
        ),
        (
            "lost / duplicated / unexpected",
            f"{r['missing']} / {r['duplicates']} / {r['unexpected']}",
            f"(push errors: {r['error_count']})",
        ),
        ("hub outbox at the end", ", ".join(f"{k} {n}" for k, n in sorted(queue.items())), ""),
        ("other calls to the eMSPs", ", ".join(f"{k} {n}" for k, n in r["other"].items()), ""),
    ]
    width = max(len(label) for label, _, _ in rows)
    print()
    for label, value, extra in rows:
        print(f"  {label:<{width}}  {value:<24} {extra}".rstrip())
    for title, key in (
        ("push errors", "errors"),
        ("missing", "missing_examples"),
        ("duplicates", "duplicate_examples"),
        ("unexpected", "unexpected_examples"),
    ):
        if r[key]:
            print(f"  {title}, first ones:")
            for line in r[key]:
                print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pushes", "-n", type=int, default=2000, help="N pushes (default 2000)")
    parser.add_argument("--emsps", "-m", type=int, default=3, help="M eMSPs (default 3)")
    parser.add_argument(
        "--concurrency", "-c", type=int, default=20, help="pushes in flight (default 20)"
    )
    parser.add_argument(
        "--patch-ratio",
        type=float,
        default=0.3,
        help="share of EVSE status PATCHes among the pushes (default 0.3)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="e.g. postgresql://postgres@127.0.0.1:5432/test (its public schema is dropped); "
        "default: a SQLite file in a temp dir",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the eMSPs and the CPO in the hub's event loop instead of a second process",
    )
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default=default_loop(),
        help="event loop of the hub and the peers (default: uvloop when installed)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=30.0,
        help="give up waiting when no delivery arrived for this long (default 30)",
    )
    args = parser.parse_args()
    run(bench(args), args.loop)


if __name__ == "__main__":
    main()
