"""Benchmark: what one OCPI call costs the hub, inbound and outbound, beside bare code doing the
same on the wire, in one run.

Run: ``python bench/bench_transport.py [--requests 1000] [--calls 1000] [--rounds 3]
[--database-url postgresql://postgres@127.0.0.1:5432/wt_bench]``. Not part of the test run.

(a) Inbound. The hub is ``voltroam serve`` (a process of its own, uvicorn as the command runs it)
on a SQLite file in a temp dir, or on the PostgreSQL database ``--database-url`` names (its
``public`` schema is dropped first). A CPO and an eMSP register through the real credentials
handshake (each advertises only its credentials endpoint: the hub pushes nothing to them); the
CPO PUTs one Location. Then, one request at a time (``--concurrency`` 1: p50 is a request's
latency, not a queue):

- ``GET``: the eMSP reads that Location, ``GET /ocpi/2.2.1/sender/locations/{location_id}``;
- ``PUT``: the CPO puts a second Location again and again, each time with a newer last_updated
  (stored; no partner to push it to).

The bare baseline is a Starlette app served by uvicorn in its own process with the same options
(``python bench/bench_transport.py --serve-bare PORT``): it checks the token against a dict and
answers the same envelope (GET: the Location's JSON, encoded once at start; PUT: the body decoded,
a success envelope). Hub and bare take turns, ``--rounds`` times. Figures: the server process's
CPU per request (from /proc, user + system, all threads: the hub's idle background work
included, its idle rate is printed) and the client-side latency p50/p99.

(b) Outbound. In a child process of its own (its CPU is ``time.process_time()``), the hub's
client as the delivery worker uses it (``ctx.cipher.decrypt`` of the stored token, the request's
correlation id, ``ctx.ocpi.request("PUT", ..., routing=..., request_id=..., version="2.2.1")`` with
a Location as body, the reply unwrapped) against a bare shared ``httpx.AsyncClient.put`` of the
same body with a fixed Authorization header, to the same peer (the bare server's PUT), in turns.
Figures: the client process's CPU per call and latency p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import progress
from bench_fanout import (
    BASE,
    CPO_PARTY,
    HUB_PARTY,
    BenchParty,
    hub_endpoint,
    location_body,
    ocpi_headers,
    register,
)
from common import (
    ROOT,
    SECRET_KEY,
    Ratio,
    cpu_seconds,
    default_loop,
    free_port,
    header,
    hub_process,
    percentile,
    percentile_ratios,
    print_ratios,
    reset_postgres,
    run,
    run_in_child,
    stop_process,
    wait_port,
)

from app.ocpi.schemas.common import format_datetime
from tests.conftest import invite, serve

EMSP_PARTY = ("DE", "EMS")
GET_ID = "TRANSPORT-GET"
PUT_ID = "TRANSPORT-PUT"
TOKENS_ENV = "BENCH_TRANSPORT_TOKENS"


# --- the bare server --------------------------------------------------------------------------


def bare_app() -> Any:
    """Starlette: the token checked against a dict, the same envelope answered."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    tokens = {t: True for t in os.environ.get(TOKENS_ENV, "").split(",") if t}
    stored = json.dumps(location_body(GET_ID, format_datetime(BASE)), separators=(",", ":"))

    def authorized(request: Request) -> bool:
        value = request.headers.get("authorization", "")
        if not value.startswith("Token "):
            return False
        try:
            token = base64.b64decode(value[6:], validate=True).decode()
        except ValueError:
            return False
        return token in tokens

    def stamp() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def envelope(data: str | None = None, status: int = 1000, http: int = 200) -> Response:
        body = f',"status_code":{status},"status_message":"Success","timestamp":"{stamp()}"}}'
        body = ('{"data":' + data + body) if data is not None else "{" + body[1:]
        return Response(body.encode(), status_code=http, media_type="application/json")

    async def get_one(request: Request) -> Response:
        if not authorized(request):
            return envelope(None, 2000, 401)
        return envelope(stored)

    async def put_one(request: Request) -> Response:
        if not authorized(request):
            return envelope(None, 2000, 401)
        json.loads(await request.body())
        return envelope()

    async def peer_put(request: Request) -> Response:
        json.loads(await request.body())
        return envelope()

    return Starlette(
        routes=[
            Route("/sender/locations/{id}", get_one, methods=["GET"]),
            Route("/receiver/locations/{cc}/{pid}/{id}", put_one, methods=["PUT"]),
            Route("/peer/locations/{cc}/{pid}/{id}", peer_put, methods=["PUT"]),
        ]
    )


def serve_bare(port: int) -> None:
    import uvicorn

    # As `voltroam serve` runs the hub (app/cli.py): loop and http parser "auto".
    uvicorn.run(bare_app(), host="127.0.0.1", port=port, log_config=None, access_log=False)


def start_bare(port: int, tokens: list[str]) -> Any:
    import subprocess

    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve-bare", str(port)],
        env={**os.environ, TOKENS_ENV: ",".join(tokens), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# --- (a) inbound ------------------------------------------------------------------------------


class Inbound:
    """One target (hub or bare): its process and the two URLs."""

    def __init__(self, name: str, pid: int, get_url: str, put_url: str) -> None:
        self.name = name
        self.pid = pid
        self.get_url = get_url
        self.put_url = put_url
        self.cpu: dict[str, float] = {"GET": 0.0, "PUT": 0.0}
        self.count: dict[str, int] = {"GET": 0, "PUT": 0}
        self.ms: dict[str, list[float]] = {"GET": [], "PUT": []}


async def drive(
    client: httpx.AsyncClient,
    target: Inbound,
    method: str,
    n: int,
    concurrency: int,
    emsp_token: str,
    cpo_token: str,
    stamps: list[int],
) -> None:
    todo = iter(range(n))

    async def worker() -> None:
        for _ in todo:
            if method == "GET":
                headers = ocpi_headers(emsp_token, EMSP_PARTY)
                sent = time.perf_counter()
                response = await client.get(target.get_url, headers=headers)
            else:
                stamps[0] += 1
                body = location_body(PUT_ID, format_datetime(BASE + timedelta(seconds=stamps[0])))
                headers = ocpi_headers(cpo_token, CPO_PARTY)
                sent = time.perf_counter()
                response = await client.put(target.put_url, json=body, headers=headers)
            target.ms[method].append((time.perf_counter() - sent) * 1000)
            if response.status_code not in (200, 201) or response.json().get("status_code") != 1000:
                raise RuntimeError(
                    f"{target.name} {method} -> {response.status_code}: {response.text[:300]}"
                )

    before = cpu_seconds(target.pid)
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    target.cpu[method] += cpu_seconds(target.pid) - before
    target.count[method] += n


async def idle_rate(pid: int, seconds: float = 2.0) -> float:
    """CPU milliseconds per second a server spends while nobody calls it."""
    before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return (cpu_seconds(pid) - before) * 1000 / seconds


async def inbound(args: argparse.Namespace, workdir: Path) -> tuple[list[Ratio], list[str]]:
    url = args.database_url or f"sqlite:///{workdir}/hub.db"
    if url.startswith("postgres"):
        await reset_postgres(url)
    notes: list[str] = []
    async with AsyncExitStack() as stack:
        progress.step("starting the hub (voltroam serve)")
        hub = await stack.enter_async_context(hub_process(url, workdir / "hub"))
        server = hub.server
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=60))
        emsp = BenchParty("EMSP", *EMSP_PARTY)
        cpo = BenchParty("CPO", *CPO_PARTY)
        for party in (emsp, cpo):
            port = free_port()
            party.base_url = f"http://127.0.0.1:{port}"
            await stack.enter_async_context(serve(party.app, port))
        for party in (emsp, cpo):
            token_a = await invite(client, server, f"Bench {party.role}")
            await register(client, party, server.versions_url, token_a)
        assert emsp.hub_token is not None and cpo.hub_token is not None
        receiver = await hub_endpoint(
            client, server.versions_url, cpo.hub_token, "locations", "RECEIVER"
        )
        sender = await hub_endpoint(
            client, server.versions_url, emsp.hub_token, "locations", "SENDER"
        )
        cc, pid = CPO_PARTY
        response = await client.put(
            f"{receiver.rstrip('/')}/{cc}/{pid}/{GET_ID}",
            json=location_body(GET_ID, format_datetime(BASE)),
            headers=ocpi_headers(cpo.hub_token, CPO_PARTY),
        )
        assert response.json()["status_code"] == 1000, response.text
        hub_target = Inbound(
            "hub",
            hub.process.pid,
            f"{sender.rstrip('/')}/{GET_ID}",
            f"{receiver.rstrip('/')}/{cc}/{pid}/{PUT_ID}",
        )
        port = free_port()
        bare = start_bare(port, [emsp.hub_token, cpo.hub_token])
        stack.callback(stop_process, bare)
        wait_port(port, bare)
        base = f"http://127.0.0.1:{port}"
        bare_target = Inbound(
            "bare",
            bare.pid,
            f"{base}/sender/locations/{GET_ID}",
            f"{base}/receiver/locations/{cc}/{pid}/{PUT_ID}",
        )
        # Warm-up: connections, caches, first-call imports.
        for target in (hub_target, bare_target):
            for method in ("GET", "PUT"):
                await drive(client, target, method, 50, 1, emsp.hub_token, cpo.hub_token, [0])
        for target in (hub_target, bare_target):
            target.cpu = {"GET": 0.0, "PUT": 0.0}
            target.count = {"GET": 0, "PUT": 0}
            target.ms = {"GET": [], "PUT": []}
        idle_hub = await idle_rate(hub_target.pid)
        idle_bare = await idle_rate(bare_target.pid)
        stamps = [1000]
        for r in range(args.rounds):
            for method in ("GET", "PUT"):
                for target in (hub_target, bare_target):
                    progress.status(f"round {r + 1}/{args.rounds}: {target.name} {method}")
                    await drive(
                        client,
                        target,
                        method,
                        args.requests,
                        args.concurrency,
                        emsp.hub_token,
                        cpo.hub_token,
                        stamps,
                    )
        progress.clear()
    print()
    print(
        f"(a) inbound: {args.rounds} x {args.requests} requests of each, {args.concurrency}"
        " in flight"
    )
    print(f"  idle CPU: hub {idle_hub:.1f} ms/s, bare {idle_bare:.1f} ms/s (included below)")
    print(f"  {'':<10} {'CPU ms/req':>11} {'p50 ms':>8} {'p99 ms':>8}")
    rows: list[Ratio] = []
    for method in ("GET", "PUT"):
        for target in (hub_target, bare_target):
            per = target.cpu[method] * 1000 / target.count[method]
            print(
                f"  {target.name + ' ' + method:<10} {per:>11.3f} "
                f"{percentile(target.ms[method], 50):>8.2f} "
                f"{percentile(target.ms[method], 99):>8.2f}"
            )
        rows.append(
            Ratio(
                f"inbound {method} server CPU per request",
                hub_target.cpu[method] * 1000 / hub_target.count[method],
                bare_target.cpu[method] * 1000 / bare_target.count[method],
                "ms",
                3,
                "lower",
            )
        )
        rows += percentile_ratios(
            f"inbound {method} latency", hub_target.ms[method], bare_target.ms[method], digits=2
        )
    return rows, notes


# --- (b) outbound -----------------------------------------------------------------------------


async def outbound_child(cfg: dict[str, Any]) -> dict[str, Any]:
    """The hub's client and a bare httpx client, in turns, to the same peer (in a child)."""
    from app.core.ids import correlation_id_var, new_id
    from app.core.settings import Settings
    from app.hub.context import HubContext
    from app.ocpi.headers import PartyRef, RoutingHeaders

    settings = Settings(
        secret_key=SECRET_KEY,
        database_url=f"sqlite:///{cfg['workdir']}/client.db",
        log_level="WARNING",
    )
    ctx = HubContext.create(settings)
    plain = "peer-token-" + uuid.uuid4().hex
    stored = ctx.cipher.encrypt(plain)
    body = location_body("TRANSPORT-OUT", format_datetime(BASE))
    url = cfg["url"]
    routing = RoutingHeaders(from_party=PartyRef(*HUB_PARTY), to_party=PartyRef(*EMSP_PARTY))
    bare = httpx.AsyncClient(timeout=10)
    bare_headers = {"Authorization": "Token " + base64.b64encode(plain.encode()).decode()}
    cpu = {"hub": 0.0, "bare": 0.0}
    ms: dict[str, list[float]] = {"hub": [], "bare": []}

    async def hub_call() -> None:
        token = ctx.cipher.decrypt(stored)
        reset = correlation_id_var.set(new_id())
        try:
            reply = await ctx.ocpi.request(
                "PUT",
                url,
                token,
                json=body,
                routing=routing,
                module="locations",
                request_id=new_id(),
                version="2.2.1",
            )
        finally:
            correlation_id_var.reset(reset)
        assert reply.ok, reply

    async def bare_call() -> None:
        response = await bare.put(url, json=body, headers=bare_headers)
        assert response.status_code == 200

    async def calls(name: str, call: Any, n: int, keep: bool) -> None:
        before = time.process_time()
        for _ in range(n):
            sent = time.perf_counter()
            await call()
            if keep:
                ms[name].append((time.perf_counter() - sent) * 1000)
        if keep:
            cpu[name] += time.process_time() - before

    await calls("hub", hub_call, 50, False)
    await calls("bare", bare_call, 50, False)
    for _ in range(cfg["rounds"]):
        await calls("hub", hub_call, cfg["calls"], True)
        await calls("bare", bare_call, cfg["calls"], True)
    await bare.aclose()
    await ctx.close()
    return {"cpu": cpu, "ms": ms}


async def outbound(args: argparse.Namespace, workdir: Path) -> list[Ratio]:
    port = free_port()
    peer = start_bare(port, [])
    try:
        wait_port(port, peer)
        progress.step("outbound: the hub's client and a bare httpx client in a child process")
        url = f"http://127.0.0.1:{port}/peer/locations/{EMSP_PARTY[0]}/{EMSP_PARTY[1]}/X1"
        result = await run_in_child(
            outbound_child,
            {
                "loop": args.loop,
                "url": url,
                "calls": args.calls,
                "rounds": args.rounds,
                "workdir": str(workdir),
            },
        )
    finally:
        stop_process(peer)
    progress.clear()
    n = args.calls * args.rounds
    cpu, ms = result["cpu"], result["ms"]
    print()
    print(f"(b) outbound: {args.rounds} x {args.calls} PUTs of a Location, one at a time")
    print(f"  {'':<10} {'CPU ms/call':>11} {'p50 ms':>8} {'p99 ms':>8}")
    for name in ("hub", "bare"):
        print(
            f"  {name:<10} {cpu[name] * 1000 / n:>11.3f} {percentile(ms[name], 50):>8.2f} "
            f"{percentile(ms[name], 99):>8.2f}"
        )
    return [
        Ratio(
            "outbound client CPU per call",
            cpu["hub"] * 1000 / n,
            cpu["bare"] * 1000 / n,
            "ms",
            3,
            "lower",
        ),
        *percentile_ratios("outbound latency", ms["hub"], ms["bare"], digits=2),
    ]


async def bench(args: argparse.Namespace) -> None:
    await header(
        "bench_transport",
        "the cost of one OCPI call, inbound (voltroam serve vs a bare Starlette app) and "
        "outbound (the hub's OcpiClient vs a bare httpx client)",
        args.database_url,
        args.loop,
    )
    rows: list[Ratio] = []
    with tempfile.TemporaryDirectory(prefix="voltroam-bench-") as tmp:
        if args.part in ("both", "inbound"):
            inbound_rows, _ = await inbound(args, Path(tmp))
            rows += inbound_rows
        if args.part in ("both", "outbound"):
            rows += await outbound(args, Path(tmp))
    print_ratios(rows)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-bare":
        serve_bare(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="inbound per round and kind")
    parser.add_argument("--calls", type=int, default=1000, help="outbound per round")
    parser.add_argument("--rounds", type=int, default=3, help="hub and bare in turns (default 3)")
    parser.add_argument("--concurrency", type=int, default=1, help="inbound requests in flight")
    parser.add_argument("--part", choices=["both", "inbound", "outbound"], default="both")
    parser.add_argument(
        "--database-url",
        default=None,
        help="e.g. postgresql://postgres@127.0.0.1:5432/wt_bench (its public schema is "
        "dropped); default: a SQLite file in a temp dir",
    )
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default=default_loop(),
        help="event loop of the bench's clients (default: uvloop when installed)",
    )
    args = parser.parse_args()
    run(bench(args), args.loop)


if __name__ == "__main__":
    main()
