"""Benchmark: one CPO pushing N Location updates through the hub to M eMSPs, beside a bare relay
pushing the same updates to the same eMSPs, in one run, on loopback.

Run: ``python bench/bench_fanout.py [--pushes 2000] [--emsps 3] [--concurrency 20]
[--rate PUSHES_PER_S] [--target both|hub|bare] [--patch-ratio 0.3]
[--database-url postgresql://postgres@127.0.0.1:5432/wt_bench]``. Not part of the test run.

The hub is a real uvicorn server in this process (as in tests/conftest.py), on a SQLite file in a
temporary directory unless ``--database-url`` names a PostgreSQL database (its ``public`` schema is
dropped and recreated first). The M eMSPs and the CPO are small FastAPI apps served by uvicorn on
127.0.0.1 in a second process (``--in-process`` runs them in the server's event loop instead), so
the server has a core of its own on a two-core machine. Every party registers with the hub through
the real credentials handshake (admin invitation, then the party-initiated registration).

The bare baseline (``BareRelay``) is the least a relay does, served by uvicorn in this process
in place of the hub, against a fresh set of the same peers: a Starlette app that takes the CPO's
PUT or PATCH, checks its token, answers at once and pushes the body as it came to each of the M
eMSPs with one shared httpx client (as many pushes in flight as the hub's DELIVERY_CONCURRENCY).
It stores nothing, so it loses what it holds when it stops, and keeps no order between two
updates of one object; what it costs is what moving the bytes costs.

The CPO pushes N requests: Location PUTs with distinct ids, and EVSE status PATCHes
(``--patch-ratio``) on Locations already accepted. Closed loop by default (C in flight: the server's
capacity); ``--rate R`` sends R pushes a second whatever the answers (open loop: the latency of a
server below its capacity, when R is below it). Each push carries its own ``last_updated``, so each
eMSP's receipt is matched to the push by (location id, last_updated).

Figures per server: pushes/s accepted (first push sent until the last answer), the server's answer
p50/p99, end-to-end deliveries/s (N*M deliveries, first push sent until the last eMSP received the
last one), push-to-receipt latency (the push was sent, or in open loop was due, until an eMSP
received it), the server process's CPU per push; then hub / bare for each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import Response  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.routing import Route  # noqa: E402

from app.hub.outbox import service as outbox  # noqa: E402
from app.ocpi.auth import encode_token  # noqa: E402
from app.ocpi.schemas.common import format_datetime, parse_datetime  # noqa: E402
from tests.conftest import (  # noqa: E402
    RunningServer,
    invite,
    reset_postgres,
    running_hub,
    serve,
)
from tests.peers import decode_auth  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import progress  # noqa: E402
from common import (  # noqa: E402
    Ratio,
    cpu_seconds,
    default_loop,
    free_port,
    header,
    percentile,
    print_ratios,
    run,
    run_in_child,
)

VERSION = "2.2.1"
HUB_PARTY = ("NL", "VRH")  # hub_settings() keeps the default hub identity
CPO_PARTY = ("NL", "CPO")
# Each push gets its own last_updated: BASE + its index in seconds.
BASE = datetime(2024, 1, 1, tzinfo=UTC)
STATUSES = ["AVAILABLE", "CHARGING", "BLOCKED", "RESERVED", "OUTOFORDER"]


# --- the hub ----------------------------------------------------------------------------------


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
    # Awaited before a location push is answered, with the request, its key and its arrival
    # (bench_recovery.py holds pushes there).
    hook: Callable[[Request, tuple[str, datetime], float], Awaitable[None]] | None = None

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
            if self.hook is not None:
                await self.hook(request, key, arrived)
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
    rate: float | None = None  # pushes per second, open loop; None: closed loop (concurrency)
    sent: dict[int, float] = field(default_factory=dict)
    # (location id, last_updated) -> push index, for every push the server accepted
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
    next_location = iter(range(1, w.pushes + 1))
    cc, pid = CPO_PARTY

    async def one(i: int, due: float | None = None) -> None:
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
        # Open loop: timed from when the push was due, so a server that falls behind is not
        # excused by the client waiting for it (no coordinated omission).
        w.sent[i] = started = due if due is not None else time.monotonic()
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

    if w.rate:
        began = time.monotonic()
        tasks = []
        for i in range(w.pushes):
            due = began + i / w.rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        return

    counter = iter(range(w.pushes))

    async def worker() -> None:
        for i in counter:
            await one(i)

    await asyncio.gather(*(worker() for _ in range(w.concurrency)))


async def run_peers(cfg: dict[str, Any]) -> dict[str, Any]:
    """Serve the eMSPs and the CPO, register them (with the hub), push, wait for every
    delivery; the figures."""
    m = cfg["emsps"]
    bare = cfg.get("target", "hub") == "bare"
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
    w = Workload(
        cfg["pushes"], cfg["concurrency"], cfg["patch_ratio"], cfg["seed"], cfg.get("rate")
    )
    last_receipt = [0.0]
    received = [0]

    def on_receipt() -> None:
        received[0] += 1
        last_receipt[0] = time.monotonic()

    for party in emsps:
        party.on_receipt = on_receipt

    async with AsyncExitStack() as stack:
        ports = cfg.get("emsp_ports") or [free_port() for _ in emsps]
        for party, port in zip([*emsps, cpo], [*ports, free_port()], strict=True):
            party.base_url = f"http://127.0.0.1:{port}"
            await stack.enter_async_context(serve(party.app, port))
        # Open loop: as many connections as the pushes in flight need.
        connections = 1000 if w.rate else w.concurrency
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=120, limits=limits))
        if bare:
            for party in emsps:
                party.accepted_tokens.add(cfg["relay_token"])
            receiver_url, token = cfg["receiver_url"], cfg["cpo_token"]
        else:
            for party, token_a in zip([*emsps, cpo], cfg["token_as"], strict=True):
                await register(client, party, cfg["versions_url"], token_a)
            assert cpo.hub_token is not None
            token = cpo.hub_token
            receiver_url = await hub_endpoint(
                client, cfg["versions_url"], token, "locations", "RECEIVER"
            )
            # Let the hubclientinfo pushes of the registrations go out before measuring.
            await asyncio.sleep(1.0)
        progress.step(f"{m} eMSPs and the CPO ready; pushing {w.pushes} updates")

        total = w.pushes * m
        server_pid = cfg.get("server_pid")
        cpu_before = cpu_seconds(server_pid) if server_pid else math.nan
        began = time.monotonic()
        pusher = asyncio.create_task(push_all(client, receiver_url, token, w))
        idle_since = time.monotonic()
        seen = 0
        while True:
            await asyncio.sleep(0.2)
            now = time.monotonic()
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
        server_cpu = (cpu_seconds(server_pid) - cpu_before) if server_pid else math.nan
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
        "server_cpu_seconds": server_cpu,
        "duplicates": sum(len(e.duplicates) for e in emsps),
        "duplicate_examples": [str(d) for e in emsps for d in e.duplicates[:3]],
        "missing": len(missing),
        "missing_examples": [str(x) for x in missing[:5]],
        "unexpected": len(unexpected),
        "unexpected_examples": [str(x) for x in unexpected[:5]],
        "other": sum((e.other for e in emsps), Counter()),
    }


# --- the bare baseline ------------------------------------------------------------------------


class BareRelay:
    """Takes a CPO's Location PUT or PATCH, answers at once, pushes it to every eMSP.

    Nothing is stored or parsed; one httpx client, at most ``concurrency`` pushes in flight (the
    hub's DELIVERY_CONCURRENCY), each with the Authorization, X-Request-ID, X-Correlation-ID and
    routing headers a relay sends.
    """

    def __init__(
        self, emsp_urls: list[str], cpo_token: str, relay_token: str, concurrency: int
    ) -> None:
        self.emsp_urls = emsp_urls
        self.cpo_token = cpo_token
        self.auth = encode_token(relay_token)
        self.concurrency = concurrency
        self.failures: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._gate = asyncio.Semaphore(concurrency)
        self._client: httpx.AsyncClient | None = None
        path = f"/ocpi/{VERSION}/receiver/locations/{{rest:path}}"
        self.app = Starlette(
            routes=[Route(path, self.receive, methods=["PUT", "PATCH"])], lifespan=self.lifespan
        )

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            self._client = client
            yield
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def receive(self, request: Request) -> Response:
        if decode_auth(request.headers.get("authorization")) != self.cpo_token:
            return json_response(None, 2000, http_status=401)
        body = await request.body()
        rest = request.path_params["rest"]
        for base in self.emsp_urls:
            task = asyncio.create_task(
                self.push(request.method, f"{base}/{VERSION}/locations/{rest}", body)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return Response(ok_body(), media_type="application/json")

    async def push(self, method: str, url: str, body: bytes) -> None:
        assert self._client is not None
        headers = {
            "Authorization": self.auth,
            "Content-Type": "application/json",
            "X-Request-ID": uuid.uuid4().hex,
            "X-Correlation-ID": uuid.uuid4().hex,
            "OCPI-from-country-code": CPO_PARTY[0],
            "OCPI-from-party-id": CPO_PARTY[1],
        }
        async with self._gate:
            try:
                response = await self._client.request(method, url, content=body, headers=headers)
                if response.status_code != 200:
                    self.failures[f"HTTP {response.status_code}"] += 1
            except httpx.HTTPError as exc:
                self.failures[type(exc).__name__] += 1


# --- main -------------------------------------------------------------------------------------


def peer_config(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "emsps": args.emsps,
        "pushes": args.pushes,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "patch_ratio": args.patch_ratio,
        "seed": args.seed,
        "stall_seconds": args.stall_seconds,
        "loop": args.loop,
    }


async def run_peers_for(args: argparse.Namespace, cfg: dict[str, Any]) -> dict[str, Any]:
    """The peers, in a second process (the server's CPU is its own) or in this one."""
    if args.in_process:
        return await run_peers(cfg)
    cfg["server_pid"] = os.getpid()
    return dict(await run_in_child(run_peers, cfg))


async def through_hub(args: argparse.Namespace) -> dict[str, Any]:
    progress.step("hub: starting it")
    async with bench_hub(args.database_url) as hub:
        progress.step(f"hub: up; inviting {args.emsps} eMSPs and a CPO")
        async with httpx.AsyncClient(timeout=30) as http:
            token_as = [await invite(http, hub, f"Bench eMSP {i}") for i in range(args.emsps)]
            token_as.append(await invite(http, hub, "Bench CPO"))
        cfg = peer_config(args) | {
            "target": "hub",
            "versions_url": hub.versions_url,
            "token_as": token_as,
        }
        result = await run_peers_for(args, cfg)
        async with hub.app.state.hub.sessions() as session:
            result["queue"] = await outbox.counts(session)
        assert hub.settings is not None
        result["concurrency"] = hub.settings.delivery_concurrency
    progress.step("hub: done")
    return result


async def through_bare(args: argparse.Namespace, concurrency: int) -> dict[str, Any]:
    progress.step("bare relay: starting it")
    ports = [free_port() for _ in range(args.emsps)]
    cpo_token, relay_token = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    relay = BareRelay([f"http://127.0.0.1:{p}" for p in ports], cpo_token, relay_token, concurrency)
    port = free_port()
    async with serve(relay.app, port):  # type: ignore[arg-type]
        cfg = peer_config(args) | {
            "target": "bare",
            "emsp_ports": ports,
            "receiver_url": f"http://127.0.0.1:{port}/ocpi/{VERSION}/receiver/locations",
            "cpo_token": cpo_token,
            "relay_token": relay_token,
        }
        result = await run_peers_for(args, cfg)
    # It stores nothing: what it could not push is lost.
    result["queue"] = {"nothing stored; push failures": relay.failures.total()}
    result["concurrency"] = concurrency
    progress.step("bare relay: done")
    return result


async def bench(args: argparse.Namespace) -> None:
    where = "in the server's process" if args.in_process else "in a second process"
    load = f"{args.rate:g} pushes/s, open loop" if args.rate else f"{args.concurrency} in flight"
    await header(
        "bench_fanout",
        f"1 CPO -> server -> {args.emsps} eMSPs; {args.pushes} pushes (patch ratio "
        f"{args.patch_ratio}), {load}; peers {where}",
        args.database_url,
        args.loop,
    )
    results: dict[str, dict[str, Any]] = {}
    if args.target in ("both", "hub"):
        results["hub"] = await through_hub(args)
    if args.target in ("both", "bare"):
        concurrency = results["hub"]["concurrency"] if "hub" in results else 32
        results["bare"] = await through_bare(args, concurrency)
    progress.clear()
    report(results, args)


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    def rows(r: dict[str, Any]) -> list[tuple[str, str]]:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(r["kinds"].items()))
        a50, _a95, a99 = r["answer_ms"]
        l50, _l95, l99, lmax = r["latency_ms"]
        cpu = r["server_cpu_seconds"] / max(1, r["accepted"]) * 1000
        return [
            ("pushes accepted", f"{r['accepted']}/{r['pushes']} ({kinds})"),
            ("pushes accepted/s", f"{r['accepted'] / r['push_seconds']:.1f}"),
            ("answer to a push p50 / p99", f"{a50:.1f} / {a99:.1f} ms"),
            ("deliveries received", f"{r['deliveries']}/{r['expected_deliveries']}"),
            ("deliveries/s (end to end)", f"{r['deliveries'] / r['e2e_seconds']:.1f}"),
            ("push-to-receipt p50 / p99", f"{l50:.0f} / {l99:.0f} ms"),
            ("push-to-receipt max", f"{lmax:.0f} ms"),
            ("server CPU per push", f"{cpu:.2f} ms"),
            (
                "lost / duplicated / unexpected",
                f"{r['missing']} / {r['duplicates']} / {r['unexpected']}",
            ),
            ("push errors", str(r["error_count"])),
            ("pushes in flight (server)", str(r["concurrency"])),
            ("queue at the end", ", ".join(f"{k} {n}" for k, n in sorted(r["queue"].items()))),
        ]

    table = {name: rows(r) for name, r in results.items()}
    labels = [label for label, _ in next(iter(table.values()))]
    width = max(map(len, labels))
    print()
    print(f"  {'':<{width}}  " + "".join(f"{name:<36}" for name in table))
    for k, label in enumerate(labels):
        print(f"  {label:<{width}}  " + "".join(f"{t[k][1]:<36}" for t in table.values()))
    if args.in_process:
        print("  (peers in the server's process: its CPU includes theirs)")
    for name, r in results.items():
        for title, key in (
            ("push errors", "errors"),
            ("missing", "missing_examples"),
            ("duplicates", "duplicate_examples"),
            ("unexpected", "unexpected_examples"),
        ):
            if r[key]:
                print(f"  {name}: {title}, first ones:")
                for line in r[key]:
                    print(f"    {line}")
        if name == "hub" and r["other"]:
            print(
                "  other calls to the eMSPs: "
                + ", ".join(f"{k} {n}" for k, n in r["other"].items())
            )
    if "hub" not in results or "bare" not in results:
        return
    hub, bare = results["hub"], results["bare"]
    print_ratios(
        [
            Ratio(
                "deliveries/s",
                hub["deliveries"] / hub["e2e_seconds"],
                bare["deliveries"] / bare["e2e_seconds"],
            ),
            Ratio(
                "pushes accepted/s",
                hub["accepted"] / hub["push_seconds"],
                bare["accepted"] / bare["push_seconds"],
            ),
            Ratio(
                "push-to-receipt p50", hub["latency_ms"][0], bare["latency_ms"][0], "ms", 0, "lower"
            ),
            Ratio(
                "push-to-receipt p99", hub["latency_ms"][2], bare["latency_ms"][2], "ms", 0, "lower"
            ),
            Ratio(
                "answer to a push p50", hub["answer_ms"][0], bare["answer_ms"][0], "ms", 1, "lower"
            ),
            Ratio(
                "answer to a push p99", hub["answer_ms"][2], bare["answer_ms"][2], "ms", 1, "lower"
            ),
            Ratio(
                "server CPU per push",
                hub["server_cpu_seconds"] / max(1, hub["accepted"]) * 1000,
                bare["server_cpu_seconds"] / max(1, bare["accepted"]) * 1000,
                "ms",
                2,
                "lower",
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pushes", "-n", type=int, default=2000, help="N pushes (default 2000)")
    parser.add_argument("--emsps", "-m", type=int, default=3, help="M eMSPs (default 3)")
    parser.add_argument(
        "--concurrency", "-c", type=int, default=20, help="pushes in flight (default 20)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open loop: send this many pushes a second whatever the answers (below the "
        "server's capacity: its latency when not saturated); default: closed loop",
    )
    parser.add_argument(
        "--target",
        choices=["both", "hub", "bare"],
        default="both",
        help="the hub, the bare relay, or both in one run (default)",
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
        help="e.g. postgresql://postgres@127.0.0.1:5432/wt_bench (its public schema is "
        "dropped); default: a SQLite file in a temp dir",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the eMSPs and the CPO in the server's event loop instead of a second process",
    )
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default=default_loop(),
        help="event loop of the servers and the peers (default: uvloop when installed)",
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
