"""Benchmark: an OCPI command round trip through the hub versus straight to the CPO, on loopback.

Run: ``python bench/bench_commands.py [--rounds 300] [--throughput-rounds 1000]
[--concurrency 20] [--database-url postgresql://postgres@127.0.0.1:5432/wt_bench]``.
Not part of the test run.

One round trip: the eMSP POSTs START_SESSION, gets the CPO's immediate CommandResponse, the CPO
(right after answering) POSTs the CommandResult to the response_url it was given, and the eMSP's
own response_url receives it. It is timed from the eMSP's send until that receipt.

- direct (the bare baseline): the eMSP posts to the CPO's commands endpoint with its own
  response_url; the CPO posts the result straight back to the eMSP.
- hub: the eMSP posts to {hub}/ocpi/2.2.1/receiver/commands/START_SESSION; the hub opens a
  callback, rewrites response_url and forwards to the CPO; the CPO posts the result to the hub,
  which commits it with its outbox row and sends it to the eMSP's response_url at once (the row
  is the fallback).

The hub is a real uvicorn server in this process (tests/conftest.py ``running_hub``:
LOG_LEVEL=WARNING) with the fast polling of tests/hub/network.py (``FAST``: delivery and sync
workers poll every 50 ms; ``--poll 1`` polls as ``voltroam serve`` does), on a SQLite file in a
temporary directory unless ``--database-url`` names a PostgreSQL database (its ``public`` schema is dropped and recreated first). The fake CPO and eMSP
below are small FastAPI apps served by uvicorn, with the eMSP's client, in a second process, so
that the hub's process CPU is the hub's own (``--in-process``: all in one event loop, as
``--profile`` needs). Both register with the hub through the real credentials handshake. Both
modes use the same servers, clients and event loops in one run.

Phases, per mode, after a warm-up:
1. sequential: --rounds round trips one at a time: p50/p95/p99; the START_SESSION carries a
   unique authorization_reference, so the CPO timestamps each leg and the report shows where the
   hub's added time goes.
2. result leg alone: --rounds commands whose CPO holds its CommandResult; once the eMSP has the
   CommandResponse and the hub has had 20 ms to settle, the CPO posts the result (to the hub's
   response_url, or straight to the eMSP's), timed until the eMSP's response_url receives it.
3. throughput: --throughput-rounds round trips with --concurrency in flight: round trips/s, and
   the CPU time of the hub's process (all its threads, from /proc) and of the peers' process per
   round trip.

The report states the hub's added time to the sync answer (eMSP sends -> eMSP has the
CommandResponse, p50) on a line of its own, the figure issue 16's target is stated for.
``--profile-dump DIR`` writes each mode's cProfile stats (DIR/direct.prof, DIR/hub.prof) for
pstats.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import os
import pstats
import secrets
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import Response  # noqa: E402
from sqlalchemy import text  # noqa: E402
from starlette.background import BackgroundTask  # noqa: E402

from app.ocpi.auth import encode_token  # noqa: E402
from tests.conftest import RunningServer, invite, serve  # noqa: E402
from tests.hub.network import FAST, location, token  # noqa: E402
from tests.peers import decode_auth  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import progress  # noqa: E402
from bench_fanout import bench_hub  # noqa: E402
from bench_fanout import json_response as envelope  # noqa: E402
from common import (  # noqa: E402
    Ratio,
    cpu_seconds,
    default_loop,
    free_port,
    header,
    percentile,
    percentile_ratios,
    print_ratios,
    run,
    run_in_child,
)

VERSION = "2.2.1"
CPO_PARTY = ("NL", "CPA")
EMSP_PARTY = ("NL", "EM1")
LOCATION_ID = "LOC1"
# Tokens for the direct mode (no hub): eMSP -> CPO, and the CPO's result -> eMSP.
DIRECT_TO_CPO = "direct-emsp-to-cpo-" + secrets.token_urlsafe(8)
DIRECT_TO_EMSP = "direct-cpo-to-emsp-" + secrets.token_urlsafe(8)
WARMUP = 30
RESULT_TIMEOUT = 15.0
SETTLE = 0.02  # seconds between the CommandResponse and the result post (result leg alone)


# --- the fake parties -------------------------------------------------------------------------


def ocpi_headers(token_: str, to_party: tuple[str, str] | None) -> dict[str, str]:
    headers = {
        "Authorization": encode_token(token_),
        "X-Request-ID": uuid.uuid4().hex,
        "X-Correlation-ID": uuid.uuid4().hex,
    }
    if to_party is not None:
        headers |= {
            "OCPI-from-country-code": EMSP_PARTY[0],
            "OCPI-from-party-id": EMSP_PARTY[1],
            "OCPI-to-country-code": to_party[0],
            "OCPI-to-party-id": to_party[1],
        }
    return headers


@dataclass
class CpoMarks:
    """perf_counter() instants the CPO saw for one command."""

    received: float = 0.0
    result_sent: float = 0.0
    result_acked: float = 0.0


@dataclass
class BenchParty:
    """An OCPI 2.2.1 party with one role: serves versions and details for the handshake."""

    role: str
    country_code: str
    party_id: str
    endpoints: list[tuple[str, str]]
    base_url: str = ""
    # Tokens we accept -> for the CPO, the token to post the CommandResult with ("" = hub_token).
    accepted: dict[str, str] = field(default_factory=dict)
    hub_token: str | None = None
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        self.app.add_api_route("/versions", self.versions, methods=["GET"])
        self.app.add_api_route(f"/{VERSION}", self.details, methods=["GET"])

    def token_of(self, request: Request) -> str | None:
        value = decode_auth(request.headers.get("authorization"))
        return value if value in self.accepted else None

    def credentials(self, token_: str) -> dict[str, Any]:
        return {
            "token": token_,
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

    async def versions(self, request: Request) -> Response:
        if self.token_of(request) is None:
            return envelope(None, 2000, http_status=401)
        return envelope([{"version": VERSION, "url": f"{self.base_url}/{VERSION}"}])

    async def details(self, request: Request) -> Response:
        if self.token_of(request) is None:
            return envelope(None, 2000, http_status=401)
        endpoints = [("credentials", "SENDER"), *self.endpoints]
        return envelope(
            {
                "version": VERSION,
                "endpoints": [
                    {"identifier": i, "role": r, "url": f"{self.base_url}/{VERSION}/{i}"}
                    for i, r in endpoints
                ],
            }
        )

    async def register_with(
        self, client: httpx.AsyncClient, versions_url: str, token_a: str
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
        self.accepted[token_b] = ""
        response = await client.post(credentials_url, json=self.credentials(token_b), headers=auth)
        body = response.json()
        if body.get("status_code") != 1000:
            raise RuntimeError(f"registration of {self.party_id} failed: {response.text}")
        self.hub_token = body["data"]["token"]


class BenchCpo(BenchParty):
    """Answers every command ACCEPTED, then at once POSTs the CommandResult to its response_url
    (or, while ``hold_results`` is set, keeps it in ``held`` for the bench to post)."""

    def __init__(self) -> None:
        super().__init__("CPO", *CPO_PARTY, endpoints=[("commands", "RECEIVER")])
        self.client: httpx.AsyncClient | None = None
        self.marks: dict[str, CpoMarks] = {}
        self.hold_results = False
        self.held: dict[str, tuple[str, str]] = {}
        self.app.add_api_route(f"/{VERSION}/commands/{{command}}", self.command, methods=["POST"])

    async def command(self, request: Request, command: str) -> Response:
        received = time.perf_counter()
        token_ = self.token_of(request)
        if token_ is None:
            return envelope(None, 2000, http_status=401)
        body = json.loads(await request.body())
        ref = str(body.get("authorization_reference") or uuid.uuid4().hex)
        self.marks[ref] = CpoMarks(received=received)
        answer = envelope({"result": "ACCEPTED", "timeout": 30})
        result_token = self.accepted[token_] or self.hub_token
        assert result_token is not None
        if self.hold_results:
            self.held[ref] = (body["response_url"], result_token)
        else:
            # Starlette runs the background task once the response has been sent.
            answer.background = BackgroundTask(
                self.post_result, body["response_url"], result_token, ref
            )
        return answer

    async def post_result(self, url: str, token_: str, ref: str) -> None:
        assert self.client is not None
        marks = self.marks[ref]
        marks.result_sent = time.perf_counter()
        try:
            response = await self.client.post(
                url, json={"result": "ACCEPTED"}, headers=ocpi_headers(token_, None)
            )
            marks.result_acked = time.perf_counter()
            if response.json().get("status_code") != 1000:
                self.errors.append(f"result refused: HTTP {response.status_code} {response.text}")
        except (httpx.HTTPError, ValueError) as exc:
            self.errors.append(f"result post failed: {exc!r}")


class BenchEmsp(BenchParty):
    """Receives CommandResults on {base}/2.2.1/commands/START_SESSION/{ref}."""

    def __init__(self) -> None:
        super().__init__("EMSP", *EMSP_PARTY, endpoints=[("commands", "SENDER")])
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.app.add_api_route(
            f"/{VERSION}/commands/{{command}}/{{ref}}", self.result, methods=["POST"]
        )

    async def result(self, request: Request, command: str, ref: str) -> Response:
        arrived = time.perf_counter()
        if self.token_of(request) is None:
            return envelope(None, 2000, http_status=401)
        body = json.loads(await request.body())
        waiter = self.waiters.pop(ref, None)
        if waiter is None or waiter.done():
            self.errors.append(f"unexpected CommandResult for {ref}")
        elif body.get("result") != "ACCEPTED":
            waiter.set_exception(RuntimeError(f"CommandResult {body}"))
        else:
            waiter.set_result(arrived)
        return envelope()


# --- the round trip ---------------------------------------------------------------------------


@dataclass
class Sample:
    total: float  # send -> CommandResult received, seconds
    to_cpo: float  # send -> the CPO has the command
    response_back: float  # the CPO has it -> the eMSP has the CommandResponse
    result_leg: float  # the CPO starts posting the result -> the eMSP has it
    marks: CpoMarks  # result_acked is set once the CPO's POST returns (maybe after `total`)

    def figures(self) -> dict[str, float]:
        """Plain data, once every POST has returned."""
        return {
            "total": self.total,
            "to_cpo": self.to_cpo,
            "response_back": self.response_back,
            "result_leg": self.result_leg,
            # The CPO starts posting the result -> its POST is answered.
            "result_ack": self.marks.result_acked - self.marks.result_sent,
        }


@dataclass
class Mode:
    name: str
    url: str
    token: str
    to_party: tuple[str, str] | None
    samples: list[Sample] = field(default_factory=list)
    result_legs: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # The throughput phase.
    elapsed: float = math.nan
    loaded: list[float] = field(default_factory=list)
    load_failures: int = 0
    hub_cpu: float = math.nan  # seconds of the hub process's CPU during the phase
    peers_cpu: float = math.nan  # seconds of the peers' process's CPU during the phase


@dataclass
class Bench:
    client: httpx.AsyncClient
    cpo: BenchCpo
    emsp: BenchEmsp
    hub_pid: int

    async def command(self, mode: Mode, ref: str) -> tuple[float, float, asyncio.Future[float]]:
        """Send START_SESSION; (sent, answered, the future of the CommandResult's arrival)."""
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.emsp.waiters[ref] = waiter
        body = {
            "response_url": f"{self.emsp.base_url}/{VERSION}/commands/START_SESSION/{ref}",
            "token": token(),
            "location_id": LOCATION_ID,
            "evse_uid": "EVSE1",
            "authorization_reference": ref,
        }
        sent = time.perf_counter()
        response = await self.client.post(
            mode.url, json=body, headers=ocpi_headers(mode.token, mode.to_party)
        )
        answered = time.perf_counter()
        payload = response.json()
        if payload.get("status_code") != 1000 or payload["data"]["result"] != "ACCEPTED":
            raise RuntimeError(f"HTTP {response.status_code} {response.text[:200]}")
        return sent, answered, waiter

    async def round_trip(self, mode: Mode) -> Sample | None:
        ref = uuid.uuid4().hex
        try:
            sent, answered, waiter = await self.command(mode, ref)
            arrived = await asyncio.wait_for(waiter, RESULT_TIMEOUT)
        except Exception as exc:  # counted and reported
            self.emsp.waiters.pop(ref, None)
            mode.failures.append(f"{type(exc).__name__}: {exc}")
            return None
        marks = self.cpo.marks.pop(ref, None)
        if marks is None:
            mode.failures.append("the CPO never saw the command")
            return None
        return Sample(
            total=arrived - sent,
            to_cpo=marks.received - sent,
            response_back=answered - marks.received,
            result_leg=arrived - marks.result_sent,
            marks=marks,
        )

    async def result_leg(self, mode: Mode) -> float | None:
        """The CPO posts a held CommandResult: seconds until the eMSP's response_url has it."""
        ref = uuid.uuid4().hex
        try:
            _sent, _answered, waiter = await self.command(mode, ref)
            await asyncio.sleep(SETTLE)
            url, token_ = self.cpo.held.pop(ref)
            started = time.perf_counter()
            poster = asyncio.create_task(self.cpo.post_result(url, token_, ref))
            arrived = await asyncio.wait_for(waiter, RESULT_TIMEOUT)
            await poster
        except Exception as exc:  # counted and reported
            self.emsp.waiters.pop(ref, None)
            mode.failures.append(f"result leg: {type(exc).__name__}: {exc}")
            return None
        finally:
            self.cpo.marks.pop(ref, None)
        return arrived - started

    async def sequential(self, mode: Mode, rounds: int, label: str) -> None:
        for i in range(rounds):
            sample = await self.round_trip(mode)
            if sample is not None:
                mode.samples.append(sample)
            if i % 25 == 0 or i == rounds - 1:
                progress.status(f"{label}: {i + 1}/{rounds}")
        progress.step(f"{label}: {rounds}/{rounds} done")

    async def result_legs(self, mode: Mode, rounds: int) -> None:
        self.cpo.hold_results = True
        try:
            for i in range(rounds):
                leg = await self.result_leg(mode)
                if leg is not None:
                    mode.result_legs.append(leg)
                if i % 25 == 0 or i == rounds - 1:
                    progress.status(f"result leg alone {mode.name}: {i + 1}/{rounds}")
        finally:
            self.cpo.hold_results = False
        progress.step(f"result leg alone {mode.name}: {rounds}/{rounds} done")

    async def concurrent(self, mode: Mode, rounds: int, concurrency: int) -> None:
        """N round trips with C in flight; the time and the CPU they took."""
        label = f"concurrent {mode.name} (C={concurrency})"
        remaining = iter(range(rounds))
        failures = len(mode.failures)
        done = 0

        async def worker() -> None:
            nonlocal done
            for _ in remaining:
                sample = await self.round_trip(mode)
                if sample is not None:
                    mode.loaded.append(sample.total)
                done += 1
                if done % 50 == 0:
                    progress.status(f"{label}: {done}/{rounds}")

        hub_cpu, own_cpu = cpu_seconds(self.hub_pid), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        mode.elapsed = time.perf_counter() - started
        mode.hub_cpu = cpu_seconds(self.hub_pid) - hub_cpu
        mode.peers_cpu = time.process_time() - own_cpu
        mode.load_failures = len(mode.failures) - failures
        progress.step(f"{label}: {rounds}/{rounds} done in {mode.elapsed:.1f} s")


# --- the peers' side (a second process unless --in-process) -----------------------------------


def where(filename: str, function: str) -> str:
    """The package (or app module) a profiled function belongs to."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].split(".", 1)[0]
    if f"{ROOT}/app/" in filename:
        return "app/" + filename.split(f"{ROOT}/app/", 1)[1].split("/", 1)[0]
    if f"{ROOT}/" in filename:
        return "bench and fake parties"
    if filename == "~":
        return "builtin " + function.strip("<>").removeprefix("built-in method ")[:40]
    return "stdlib " + Path(filename).name


def profile_table(profiles: dict[str, tuple[cProfile.Profile, int]], top: int = 20) -> list[str]:
    """Main-thread CPU (cProfile tottime) per round trip, by package, for each mode."""
    per_mode: dict[str, dict[str, float]] = {}
    for name, (profiler, rounds) in profiles.items():
        totals: dict[str, float] = {}
        stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in stats.items():
            key = where(filename, function)
            totals[key] = totals.get(key, 0.0) + tottime * 1000 / rounds
        per_mode[name] = totals
    names = list(per_mode)
    ranked = sorted(
        {k for t in per_mode.values() for k in t}, key=lambda k: -per_mode[names[-1]].get(k, 0)
    )
    lines = [
        "profile (cProfile, main thread, sequential runs; ms of CPU per round trip):",
        f"  {'':<48}" + "".join(f"{n:>9}" for n in names),
        f"  {'all':<48}" + "".join(f"{sum(per_mode[n].values()):9.2f}" for n in names),
    ]
    for key in ranked[:top]:
        lines.append(f"  {key:<48}" + "".join(f"{per_mode[n].get(key, 0):9.2f}" for n in names))
    return lines


async def round_trips(cfg: dict[str, Any]) -> dict[str, Any]:
    """Serve the CPO and the eMSP, register them with the hub, run every phase; the figures
    (plain data: they cross a process boundary)."""
    async with AsyncExitStack() as stack:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=30, limits=limits))
        cpo_client = await stack.enter_async_context(httpx.AsyncClient(timeout=30, limits=limits))
        cpo, emsp = BenchCpo(), BenchEmsp()
        cpo.client = cpo_client
        for party, token_a in zip((cpo, emsp), cfg["token_as"], strict=True):
            port = free_port()
            party.base_url = f"http://127.0.0.1:{port}"
            await stack.enter_async_context(serve(party.app, port))
            await party.register_with(client, cfg["versions_url"], token_a)
        assert cpo.hub_token and emsp.hub_token
        cpo.accepted[DIRECT_TO_CPO] = DIRECT_TO_EMSP
        emsp.accepted[DIRECT_TO_EMSP] = ""
        # The Location the command names (the hub routes by its owner without OCPI-to headers).
        seeded = await client.put(
            f"{cfg['hub_url']}/ocpi/{VERSION}/receiver/locations/{CPO_PARTY[0]}/{CPO_PARTY[1]}/"
            f"{LOCATION_ID}",
            json=location(LOCATION_ID, cc=CPO_PARTY[0], pid=CPO_PARTY[1]),
            headers=ocpi_headers(cpo.hub_token, None),
        )
        if seeded.json().get("status_code") != 1000:
            raise RuntimeError(f"seeding the Location failed: {seeded.text}")
        progress.step("the CPO and the eMSP registered, the Location stored")

        to_cpo = None if cfg["route_by_location"] else CPO_PARTY
        modes = [
            Mode(
                "direct", f"{cpo.base_url}/{VERSION}/commands/START_SESSION", DIRECT_TO_CPO, to_cpo
            ),
            Mode(
                "hub",
                f"{cfg['hub_url']}/ocpi/{VERSION}/receiver/commands/START_SESSION",
                emsp.hub_token,
                to_cpo,
            ),
        ]
        b = Bench(client, cpo, emsp, cfg["hub_pid"])
        profiles: dict[str, tuple[cProfile.Profile, int]] = {}
        for mode in modes:
            await b.sequential(mode, WARMUP, f"warm-up {mode.name}")
            mode.samples.clear()
            mode.failures.clear()
        for mode in modes:
            profiler = cProfile.Profile() if cfg["profile"] else None
            if profiler is not None:
                profiler.enable()
            await b.sequential(mode, cfg["rounds"], f"sequential {mode.name}")
            if profiler is not None:
                profiler.disable()
                profiles[mode.name] = (profiler, cfg["rounds"])
                if cfg["profile_dump"]:
                    profiler.dump_stats(Path(cfg["profile_dump"]) / f"{mode.name}.prof")
        for mode in modes:
            await b.result_legs(mode, cfg["result_rounds"])
        for mode in modes:
            await b.concurrent(mode, cfg["throughput_rounds"], cfg["concurrency"])
        await asyncio.sleep(0.5)  # the last deliveries' bookkeeping (after the eMSP has them)
    notes = [
        f"  {mode.name} failure: {failure}"
        for mode in modes
        for failure in sorted(set(mode.failures))[:5]
    ]
    notes += [
        f"  {party.role} error: {error}"
        for party in (cpo, emsp)
        for error in sorted(set(party.errors))[:5]
    ]
    if profiles:
        notes += ["", *profile_table(profiles)]
    return {
        "modes": {
            mode.name: {
                "samples": [s.figures() for s in mode.samples],
                "result_legs": mode.result_legs,
                "failures": len(mode.failures) - mode.load_failures,
                "elapsed": mode.elapsed,
                "loaded": mode.loaded,
                "load_failures": mode.load_failures,
                "hub_cpu": mode.hub_cpu,
                "peers_cpu": mode.peers_cpu,
            }
            for mode in modes
        },
        "notes": notes,
    }


# --- the run ----------------------------------------------------------------------------------


async def outbox_summary(hub: RunningServer) -> list[str]:
    """What the hub's outbox says after the run: delivery outcomes, retries, errors."""
    ctx = hub.app.state.hub
    async with ctx.engine.connect() as conn:
        statuses = (
            await conn.execute(text("SELECT status, count(*) FROM delivery GROUP BY status"))
        ).all()
        attempts = (
            await conn.execute(
                text("SELECT attempts, count(*) FROM delivery GROUP BY attempts ORDER BY attempts")
            )
        ).all()
        errors = (
            await conn.execute(
                text(
                    "SELECT last_error, count(*) FROM delivery WHERE last_error IS NOT NULL"
                    " GROUP BY last_error ORDER BY count(*) DESC LIMIT 3"
                )
            )
        ).all()
    lines = [
        "hub outbox: "
        + ", ".join(f"{n} {status}" for status, n in statuses)
        + "; attempts: "
        + ", ".join(f"{n} x {a}" for a, n in attempts)
    ]
    lines += [f"  last_error ({n}x): {str(error)[:150]}" for error, n in errors]
    return lines


async def bench(args: argparse.Namespace) -> None:
    where_ = "in the hub's process" if args.in_process else "in a second process"
    await header(
        "bench_commands",
        "START_SESSION -> CommandResponse -> CommandResult at the eMSP's response_url, direct "
        f"and through the hub; CPO and eMSP {where_}",
        args.database_url,
        args.loop,
    )
    progress.step("starting the hub")
    polling = {**FAST, "delivery_poll_seconds": args.poll, "sync_poll_seconds": args.poll}
    print(f"the hub's delivery and sync workers poll every {args.poll:g} s")
    async with bench_hub(args.database_url, **polling) as hub:
        async with httpx.AsyncClient(timeout=30) as http:
            token_as = [await invite(http, hub, name) for name in ("CPO*NL*CPA", "EMSP*NL*EM1")]
        cfg = {
            "hub_url": hub.base_url,
            "versions_url": hub.versions_url,
            "token_as": token_as,
            "hub_pid": os.getpid(),
            "route_by_location": args.route_by_location,
            "rounds": args.rounds,
            "result_rounds": args.result_rounds,
            "throughput_rounds": args.throughput_rounds,
            "concurrency": args.concurrency,
            "profile": args.profile,
            "profile_dump": args.profile_dump,
            "loop": args.loop,
        }
        if args.in_process:
            result = await round_trips(cfg)
        else:
            progress.step("starting the CPO and the eMSP in a second process")
            result = await run_in_child(round_trips, cfg)
        notes = await outbox_summary(hub)
    progress.clear()
    report(args, result["modes"], result["notes"] + ["", *notes])


def ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1000


def report(args: argparse.Namespace, modes: dict[str, dict[str, Any]], notes: list[str]) -> None:
    direct, hub = modes["direct"], modes["hub"]
    routing = "the Location's owner" if args.route_by_location else "OCPI-to headers"
    print(f"the hub routes by {routing}")
    print()
    profiled = " (profiled: inflated)" if args.profile else ""
    print(
        f"sequential: {args.rounds} round trips per mode, one at a time, after {WARMUP} warm-up"
        + profiled
    )
    print(f"  {'latency ms':<10}{'p50':>9}{'p95':>9}{'p99':>9}{'mean':>9}")
    totals = {name: [s["total"] for s in m["samples"]] for name, m in modes.items()}
    for name, m in modes.items():
        t = totals[name]
        mean = sum(t) / len(t) * 1000 if t else math.nan
        failed = f"   ({m['failures']} failed)" if m["failures"] else ""
        print(f"  {name:<10}{ms(t, 50):9.2f}{ms(t, 95):9.2f}{ms(t, 99):9.2f}{mean:9.2f}{failed}")
    print()
    print(
        f"result leg alone: {args.result_rounds} CommandResults per mode, posted by the CPO "
        f"{SETTLE * 1000:.0f} ms after the CommandResponse, until the eMSP's response_url has it"
    )
    print(f"  {'latency ms':<10}{'p50':>9}{'p95':>9}{'p99':>9}")
    for name, m in modes.items():
        legs = m["result_legs"]
        print(f"  {name:<10}{ms(legs, 50):9.2f}{ms(legs, 95):9.2f}{ms(legs, 99):9.2f}")
    print()
    print(
        f"throughput: {args.throughput_rounds} round trips per mode, {args.concurrency} in flight"
    )
    print(
        f"  {'':<10}{'rt/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        "   CPU ms per round trip: hub process / peers' process"
    )
    for name, m in modes.items():
        rounds = max(1, len(m["loaded"]) + m["load_failures"])
        rate = len(m["loaded"]) / m["elapsed"] if m["elapsed"] else math.nan
        failed = f"   ({m['load_failures']} failed)" if m["load_failures"] else ""
        print(
            f"  {name:<10}{rate:9.1f}{ms(m['loaded'], 50):9.1f}{ms(m['loaded'], 99):9.1f}"
            f"   {m['hub_cpu'] / rounds * 1000:6.2f} / {m['peers_cpu'] / rounds * 1000:.2f}"
            + failed
        )
    if args.in_process:
        print("  (--in-process: one process, so both columns are the same process)")
    print()
    print(f"  {'where the time goes (sequential, p50 ms)':<46}{'direct':>8}{'hub':>8}{'added':>8}")
    legs: list[tuple[str, Callable[[dict[str, float]], float]]] = [
        ("eMSP sends -> the CPO has the command", lambda s: s["to_cpo"]),
        ("the CPO has it -> eMSP has CommandResponse", lambda s: s["response_back"]),
        ("eMSP sends -> eMSP has CommandResponse", lambda s: s["to_cpo"] + s["response_back"]),
        ("the CPO posts the result -> eMSP has it", lambda s: s["result_leg"]),
        ("  (the CPO's result POST is answered)", lambda s: s["result_ack"]),
    ]
    for label, leg in legs:
        dv = ms([leg(s) for s in direct["samples"]], 50)
        hv = ms([leg(s) for s in hub["samples"]], 50)
        print(f"  {label:<46}{dv:8.2f}{hv:8.2f}{hv - dv:8.2f}")
    print()
    for line in notes:
        print(line)

    def rate(m: dict[str, Any]) -> float:
        return len(m["loaded"]) / m["elapsed"] if m["elapsed"] else math.nan

    def cpu_ms(m: dict[str, Any], key: str) -> float:
        return float(m[key]) / max(1, len(m["loaded"]) + m["load_failures"]) * 1000

    print()
    print(
        f"hub adds p50 {ms(totals['hub'], 50) - ms(totals['direct'], 50):.2f} ms, "
        f"p99 {ms(totals['hub'], 99) - ms(totals['direct'], 99):.2f} ms to a round trip "
        f"(sequential); the result leg alone p50 "
        f"{ms(hub['result_legs'], 50) - ms(direct['result_legs'], 50):.2f} ms"
    )
    print(
        f"hub process CPU per round trip: {cpu_ms(hub, 'hub_cpu'):.2f} ms (while direct round "
        f"trips ran, idle: {cpu_ms(direct, 'hub_cpu'):.2f} ms); the peers' own: "
        f"{cpu_ms(direct, 'peers_cpu'):.2f} ms direct, {cpu_ms(hub, 'peers_cpu'):.2f} ms via hub"
    )
    sync = {
        name: [s["to_cpo"] + s["response_back"] for s in m["samples"]] for name, m in modes.items()
    }
    print(
        f"hub adds p50 {ms(sync['hub'], 50) - ms(sync['direct'], 50):.2f} ms to the sync answer "
        "(eMSP sends -> eMSP has CommandResponse; target <= 3 ms on an idle machine)"
    )
    print_ratios(
        [
            Ratio(
                "sync answer p50: hub adds",
                ms(sync["hub"], 50) - ms(sync["direct"], 50),
                ms(sync["direct"], 50),
                "ms",
                2,
                "lower",
            ),
            *percentile_ratios("sync answer", sync["hub"], sync["direct"], 1000, digits=2),
            *percentile_ratios("round trip", totals["hub"], totals["direct"], 1000, digits=2),
            *percentile_ratios(
                "result leg alone", hub["result_legs"], direct["result_legs"], 1000, digits=2
            ),
            Ratio("throughput", rate(hub), rate(direct), "rt/s"),
            Ratio(
                "CPU per round trip: hub process / peers direct",
                cpu_ms(hub, "hub_cpu"),
                cpu_ms(direct, "peers_cpu"),
                "ms",
                2,
                "lower",
            ),
        ],
        bare="direct",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--rounds", "-k", type=int, default=300, help="sequential round trips per mode (300)"
    )
    parser.add_argument(
        "--result-rounds",
        type=int,
        default=None,
        help="result legs alone per mode (default: --rounds)",
    )
    parser.add_argument(
        "--throughput-rounds",
        "-n",
        type=int,
        default=1000,
        help="round trips per mode for the throughput figure (1000)",
    )
    parser.add_argument(
        "--concurrency", "-c", type=int, default=20, help="round trips in flight (20)"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="the hub's database (default: a SQLite file in a temp dir); a PostgreSQL URL has "
        "its public schema DROPPED and recreated",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=FAST["delivery_poll_seconds"],
        help="seconds between the hub's delivery and sync worker polls (default: the tests' "
        f"{FAST['delivery_poll_seconds']:g}; `voltroam serve` polls every 1)",
    )
    parser.add_argument(
        "--route-by-location",
        action="store_true",
        help="send no OCPI-to headers: the hub finds the CPO from the Location's owner",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the CPO and the eMSP in the hub's event loop (the CPU figures are then the "
        "whole process's)",
    )
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default=default_loop())
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the sequential runs and print CPU per round trip by package (implies "
        "--in-process; the profiler slows them down: their latencies are inflated)",
    )
    parser.add_argument(
        "--profile-dump",
        metavar="DIR",
        default=None,
        help="with --profile: also write each mode's cProfile stats to DIR/<mode>.prof",
    )
    args = parser.parse_args()
    if args.profile_dump:
        args.profile = True
    if args.result_rounds is None:
        args.result_rounds = args.rounds
    if args.profile:
        args.in_process = True
    started = time.perf_counter()
    print(
        f"bench_commands: {args.rounds} sequential, {args.result_rounds} result legs and "
        f"{args.throughput_rounds} concurrent (C={args.concurrency}) round trips per mode, "
        "direct and through the hub",
        file=sys.stderr,
    )
    run(bench(args), args.loop)
    print(f"\n(total run {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
