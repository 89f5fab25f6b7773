"""Benchmark: what the roaming-agreement check costs on broadcast fan-out and on GET-all.

Run: ``python bench/bench_agreements.py [--locations 10000] [--cpos 100] [--emsps 100]
[--broadcasts 300] [--walks 3] [--database-url postgresql://postgres@127.0.0.1:5432/wt_bench]``.
Not part of the test run.

One database (SQLite in a temp dir unless ``--database-url`` names PostgreSQL, whose ``public``
schema is dropped first) holds ``--cpos`` CPO platforms and ``--emsps`` eMSP platforms (rows
written directly: no handshake, the bench measures the hub's own work), 10,000 Locations spread
over the CPOs, and the agreements of 100 partner pairs, all active: CPO 0 with every eMSP (the
fan-out) and eMSP 0 with every CPO (the GET-all).

Two hubs (real uvicorn servers in this process) share that database and differ in one setting:

- ``closed`` (AGREEMENTS_DEFAULT=closed): every path goes through the check, which here lets the
  100 pairs through and must list them (the owners of a GET-all, the receivers of a broadcast);
- ``open`` (AGREEMENTS_DEFAULT=open, the default): the same rows let everything through, the
  check's short way (one read of the revision, no owner filter).

Fan-out: ``app.hub.forward.broadcast`` of one Location of CPO 0 (to its 100 eMSPs: 100 outbox
rows), in a transaction rolled back after each call, through each hub's context, and through a
bare copy of ``broadcast`` without the check (the receivers query and the outbox rows only: what
the hub did before agreements). GET-all: eMSP 0 walks ``/ocpi/2.2.1/sender/locations`` with
``limit=100`` through both hubs, interleaved (closed, open, closed, ...).

The figures are the three side by side and the ratios closed / bare and open / bare (fan-out),
closed / open (GET-all): the cost of the check, on a shared, noisy machine. After loading, the
database is analyzed (PostgreSQL: VACUUM ANALYZE), as autovacuum keeps a running hub's.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import progress
from common import (
    Ratio,
    default_loop,
    header,
    percentile_ratios,
    print_ratios,
    reset_postgres,
    run,
)

from app.core.security import hash_token
from app.hub.agreements_models import Agreement, AgreementState
from app.hub.context import HubContext
from app.hub.forward import broadcast
from app.hub.outbox.service import Push, enqueue
from app.hub.parties.models import ConnectionStatus, Platform, PlatformParty, PlatformRole
from app.hub.parties.service import TOKEN_REGISTERED
from app.hub.routing import broadcast_receivers, hub_ref
from app.hub.store import service as store
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.common import format_datetime
from tests.conftest import running_hub

LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')
BASE = datetime(2026, 1, 1, tzinfo=UTC)
READER_TOKEN = "bench-emsp-0-token"


def cpo_ref(i: int) -> PartyRef:
    return PartyRef("NL", f"C{i:02d}")


def emsp_ref(i: int) -> PartyRef:
    return PartyRef("DE", f"E{i:02d}")


def location(owner: PartyRef, i: int) -> dict[str, Any]:
    stamp = format_datetime(BASE + timedelta(seconds=i))
    evses = [
        {
            "uid": f"E{n}",
            "evse_id": f"{owner.country_code}*{owner.party_id}*E{i}*{n}",
            "status": "AVAILABLE",
            "connectors": [
                {
                    "id": "1",
                    "standard": "IEC_62196_T2",
                    "format": "SOCKET",
                    "power_type": "AC_3_PHASE",
                    "max_voltage": 230,
                    "max_amperage": 32,
                    "last_updated": stamp,
                }
            ],
            "last_updated": stamp,
        }
        for n in (1, 2)
    ]
    return {
        "country_code": owner.country_code,
        "party_id": owner.party_id,
        "id": f"L{i:06d}",
        "publish": True,
        "address": "Stationsplein 1",
        "city": "Amsterdam",
        "country": "NLD",
        "coordinates": {"latitude": "52.378900", "longitude": "4.900000"},
        "time_zone": "Europe/Amsterdam",
        "evses": evses,
        "last_updated": stamp,
    }


async def populate(ctx: HubContext, args: argparse.Namespace) -> int:
    """Platforms, Locations and agreements; returns CPO 0's platform id."""
    endpoints = [
        {"identifier": m, "role": "RECEIVER", "url": f"http://127.0.0.1:9/{m}"}
        for m in ("locations", "tariffs", "sessions", "cdrs")
    ]
    cpo_platforms: list[int] = []
    async with ctx.sessions() as session:
        for kind, refs in (
            ("CPO", [cpo_ref(i) for i in range(args.cpos)]),
            ("EMSP", [emsp_ref(i) for i in range(args.emsps)]),
        ):
            for n, ref in enumerate(refs):
                platform = Platform(
                    name=f"{kind} {ref}",
                    status=ConnectionStatus.CONNECTED,
                    registered=True,
                    endpoints=endpoints if kind == "EMSP" else [],
                    outbound_token=ctx.cipher.encrypt(f"out-{ref}"),
                    inbound_token_hash=hash_token(
                        READER_TOKEN if (kind, n) == ("EMSP", 0) else f"in-{ref}"
                    ),
                    inbound_token_kind=TOKEN_REGISTERED,
                )
                session.add(platform)
                await session.flush()
                assert platform.id is not None
                session.add(
                    PlatformParty(
                        platform_id=platform.id,
                        country_code=ref.country_code,
                        party_id=ref.party_id,
                    )
                )
                await session.flush()
                session.add(
                    PlatformRole(
                        platform_id=platform.id,
                        role=kind,
                        country_code=ref.country_code,
                        party_id=ref.party_id,
                    )
                )
                if kind == "CPO":
                    cpo_platforms.append(platform.id)
        pairs = {(cpo_ref(0), emsp_ref(e)) for e in range(args.emsps)}
        pairs |= {(cpo_ref(c), emsp_ref(0)) for c in range(args.cpos)}
        for cpo, emsp in sorted(pairs, key=str):
            session.add(
                Agreement(
                    cpo_country_code=cpo.country_code,
                    cpo_party_id=cpo.party_id,
                    emsp_country_code=emsp.country_code,
                    emsp_party_id=emsp.party_id,
                    state=AgreementState.ACTIVE,
                    changed_by="bench",
                )
            )
        await session.commit()
    progress.step(f"{args.cpos} CPOs, {args.emsps} eMSPs, {len(pairs)} active agreements")
    for start in range(0, args.locations, 500):
        async with ctx.sessions() as session:
            for i in range(start, min(args.locations, start + 500)):
                c = i % args.cpos
                owner = cpo_ref(c)
                await store.save(
                    session,
                    module="locations",
                    owner=owner,
                    key=f"L{i:06d}",
                    data=location(owner, i),
                    last_updated=BASE + timedelta(seconds=i),
                    owner_platform_id=cpo_platforms[c],
                )
            await session.commit()
        progress.status(f"stored {min(args.locations, start + 500)}/{args.locations} Locations")
    progress.step(f"{args.locations} Locations stored")
    # The planner's statistics and PostgreSQL's visibility map, as autovacuum keeps them on a
    # running hub (right after a bulk load there are none): the same for both hubs.
    async with ctx.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE ocpi_object")
        else:
            await conn.exec_driver_sql("ANALYZE")
            await conn.commit()
    progress.step("statistics gathered (ANALYZE)")
    return cpo_platforms[0]


async def bare_broadcast(
    session: Any,
    ctx: HubContext,
    *,
    module: str,
    path: str,
    body: Any,
    object_ref: str,
    sender: int,
) -> int:
    """``app.hub.forward.broadcast`` as it was before agreements (remote receivers only)."""
    receivers = await broadcast_receivers(session, module, sender)
    pushes = [
        Push(
            platform_id=party.platform.id or 0,
            module=module,
            method="PUT",
            path=path,
            object_ref=object_ref,
            body=body,
            from_party=hub_ref(ctx.settings),
            to_party=party.ref,
            full=True,
        )
        for party in receivers
    ]
    await enqueue(session, pushes)
    return len(receivers)


async def fan_out(
    contexts: dict[str, HubContext], sender: int, rounds: int
) -> dict[str, list[float]]:
    owner = cpo_ref(0)
    body = location(owner, 0)
    ref = store.object_ref("locations", owner, "L000000")
    path = f"{owner.country_code}/{owner.party_id}/L000000"
    times: dict[str, list[float]] = {"closed": [], "open": [], "bare": []}
    counts: dict[str, int] = {}
    for n in range(rounds):
        for label in ("closed", "open", "bare"):
            ctx = contexts["open" if label == "bare" else label]
            async with ctx.sessions() as session:
                began = time.perf_counter()
                if label == "bare":
                    sent = await bare_broadcast(
                        session, ctx, module="locations", path=path, body=body, object_ref=ref,
                        sender=sender,
                    )  # fmt: skip
                else:
                    sent = await broadcast(
                        session, ctx, module="locations", method="PUT", path=path, body=body,
                        object_ref=ref, sender_platform_id=sender, full=True,
                    )  # fmt: skip
                await session.flush()
                times[label].append(time.perf_counter() - began)
                await session.rollback()
            counts[label] = sent
        if n % 20 == 0:
            progress.status(f"fan-out round {n}/{rounds}")
    progress.step(f"fan-out: {rounds} broadcasts each, receivers {counts}")
    return times


async def walk(client: httpx.AsyncClient, base_url: str) -> tuple[list[float], int]:
    headers = {"Authorization": f"Token {READER_TOKEN}"}
    url: str | None = f"{base_url}/ocpi/2.2.1/sender/locations?limit=100"
    pages: list[float] = []
    objects = 0
    while url:
        began = time.perf_counter()
        response = await client.get(url, headers=headers)
        body = response.json()
        pages.append(time.perf_counter() - began)
        if body.get("status_code") != 1000:
            raise RuntimeError(f"GET {url}: {response.text[:300]}")
        objects += len(body["data"])
        match = LINK.search(response.headers.get("Link", ""))
        url = match.group(1) if match else None
    return pages, objects


async def bench(args: argparse.Namespace) -> None:
    await header(
        "bench_agreements",
        f"the agreement check on a broadcast to {args.emsps} eMSPs and on GET-all over"
        f" {args.locations} Locations of {args.cpos} CPOs (100 partner pairs each way)",
        args.database_url,
        args.loop,
    )
    with tempfile.TemporaryDirectory(prefix="voltroam-bench-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/hub.db"
        if url.startswith("postgres"):
            await reset_postgres(url)
        async with AsyncExitStack() as stack:
            quiet = {"sync_after_registration": False, "alive_check_interval_seconds": 0}
            closed = await stack.enter_async_context(
                running_hub(url, agreements_default="closed", **quiet)
            )
            opened = await stack.enter_async_context(
                running_hub(url, agreements_default="open", **quiet)
            )
            contexts = {"closed": closed.app.state.hub, "open": opened.app.state.hub}
            sender = await populate(contexts["closed"], args)
            fan = await fan_out(contexts, sender, args.broadcasts)
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=60))
            walks: dict[str, list[float]] = {"closed": [], "open": []}
            seen: dict[str, int] = {}
            for n in range(args.walks):
                for label, hub in (("closed", closed), ("open", opened)):
                    pages, objects = await walk(client, hub.base_url)
                    walks[label].extend(pages)
                    seen[label] = objects
                progress.step(f"GET-all walk {n + 1}/{args.walks}: {seen}")
    if seen["closed"] != seen["open"]:
        raise RuntimeError(f"the walks saw different Locations: {seen}")
    print()
    print(
        f"fan-out: {args.broadcasts} broadcasts of one Location to {args.emsps} eMSPs each"
        " (receivers, check, outbox rows; rolled back)"
    )
    print(f"GET-all: {args.walks} walks of {seen['closed']} Locations, limit 100, eMSP 0")
    rows = [
        *percentile_ratios("fan-out closed / bare", fan["closed"], fan["bare"], 1000),
        *percentile_ratios("fan-out open / bare", fan["open"], fan["bare"], 1000),
        Ratio(
            "fan-out broadcasts/s closed / bare",
            len(fan["closed"]) / sum(fan["closed"]),
            len(fan["bare"]) / sum(fan["bare"]),
        ),
        *percentile_ratios("GET-all page closed / open", walks["closed"], walks["open"], 1000),
        Ratio(
            "GET-all pages/s closed / open",
            len(walks["closed"]) / sum(walks["closed"]),
            len(walks["open"]) / sum(walks["open"]),
        ),
    ]
    print_ratios(rows, bare="baseline (bare for fan-out, open for GET-all)", hub="with the check")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locations", type=int, default=10_000)
    parser.add_argument("--cpos", type=int, default=100)
    parser.add_argument("--emsps", type=int, default=100)
    parser.add_argument("--broadcasts", type=int, default=300)
    parser.add_argument("--walks", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default=default_loop())
    args = parser.parse_args()
    run(bench(args), args.loop)


if __name__ == "__main__":
    main()
