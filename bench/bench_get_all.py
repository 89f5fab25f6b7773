"""Benchmark: GET-all pages per second over the hub's stored Locations (10,000 by default).

Run: ``python bench/bench_get_all.py [--locations 10000] [--walks 3] [--load store|api]
[--database-url postgresql://postgres@127.0.0.1:5432/wt_bench]``. Not part of the test run.

A hub (real uvicorn server in this process, as in tests/conftest.py; SQLite in a temp dir unless
``--database-url`` names PostgreSQL, whose ``public`` schema is dropped first), one CPO and one
eMSP registered through the real credentials handshake (both advertise only their credentials
endpoint, so the hub neither pulls from the CPO nor pushes to the eMSP). The Locations are loaded
either through ``app.hub.store.service.save`` in bulk, 500 per transaction, with a session of the
running app's context (``--load store``, the default: fast), or pushed by the CPO through the
hub's Locations RECEIVER with 20 in flight (``--load api``: what a CPO's initial upload costs).
Each Location has two EVSEs with one connector each (~1.5 kB of JSON) and its own last_updated.

The eMSP then walks ``/ocpi/2.2.1/sender/locations`` with ``limit=100`` (the server's maximum),
following the ``Link`` headers to the end, ``--walks`` times; then once with ``date_from`` set to
the last_updated of the middle Location (half of them). One walk is sequential, as a client walks
it. Page latency is from sending the request until its whole body is read.

Two bare baselines walked in the same run, interleaved with the hub's walks (hub, splice, decode,
hub, ...): Starlette apps served by uvicorn in this process, each with its own SQLAlchemy engine
on the hub's database, reading the table the hub stores Locations in (``ocpi_object``,
``module='locations'``, ordered by ``last_updated, id``, with offset/limit and a count per page,
as the hub pages) and answering the same envelope with ``X-Total-Count``, ``X-Limit`` and
``Link``. ``splice`` puts the stored JSON text into the envelope as it is; ``decode`` decodes each
object and encodes the envelope again (``json``). They check no token and no owner: what a page
costs when only the data moves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import progress
from bench_fanout import (
    BASE,
    CPO_PARTY,
    BenchParty,
    bench_hub,
    hub_endpoint,
    location_body,
    ocpi_headers,
    register,
)
from common import (
    Ratio,
    default_loop,
    free_port,
    header,
    percentile,
    percentile_ratios,
    print_ratios,
    run,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.settings import to_async_url
from app.hub.routing import find_party
from app.hub.store import service as store
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.common import format_datetime
from app.ocpi.schemas.locations import Location
from tests.conftest import RunningServer, invite, serve

LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')
EMSP_PARTY = ("DE", "EMS")
PAGE = 100  # the hub's OCPI_MAX_PAGE_SIZE: what every walk asks for


def stamp_of(i: int) -> str:
    return format_datetime(BASE + timedelta(minutes=i))


def location_id(i: int) -> str:
    return f"BENCH-{i + 1:06d}"


async def load_store(hub: RunningServer, n: int) -> None:
    ctx = hub.app.state.hub
    owner = PartyRef.of(*CPO_PARTY)
    async with ctx.sessions() as session:
        party = await find_party(session, owner, frozenset({"CPO"}))
        assert party is not None
        platform_id = party.platform.id
    for start in range(0, n, 500):
        async with ctx.sessions() as session:
            for i in range(start, min(n, start + 500)):
                stamp = stamp_of(i)
                data = Location.model_validate(location_body(location_id(i), stamp)).to_json()
                await store.save(
                    session,
                    module="locations",
                    owner=owner,
                    key=location_id(i),
                    data=data,
                    last_updated=BASE + timedelta(minutes=i),
                    owner_platform_id=platform_id,
                )
            await session.commit()
        progress.status(f"stored {min(n, start + 500)}/{n}")


async def load_api(client: httpx.AsyncClient, receiver_url: str, token: str, n: int) -> None:
    cc, pid = CPO_PARTY
    todo = iter(range(n))
    done = [0]

    async def worker() -> None:
        for i in todo:
            url = f"{receiver_url}/{cc}/{pid}/{location_id(i)}"
            body = location_body(location_id(i), stamp_of(i))
            response = await client.put(url, json=body, headers=ocpi_headers(token, CPO_PARTY))
            if response.status_code not in (200, 201) or response.json()["status_code"] != 1000:
                raise RuntimeError(f"PUT {url} -> {response.status_code}: {response.text[:300]}")
            done[0] += 1
            if done[0] % 100 == 0:
                progress.status(f"pushed {done[0]}/{n}")

    await asyncio.gather(*(worker() for _ in range(20)))


@dataclass
class Walk:
    label: str
    pages: int = 0
    objects: int = 0
    seconds: float = 0.0
    page_ms: list[float] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    total_header: int = 0


async def walk(
    client: httpx.AsyncClient, url: str, token: str, label: str, params: dict[str, str]
) -> Walk:
    result = Walk(label)
    began = time.perf_counter()
    next_url: str | None = url
    query: dict[str, str] | None = params
    while next_url:
        sent = time.perf_counter()
        response = await client.get(next_url, params=query, headers=ocpi_headers(token, EMSP_PARTY))
        result.page_ms.append((time.perf_counter() - sent) * 1000)
        body = response.json()
        if response.status_code != 200 or body.get("status_code") != 1000:
            raise RuntimeError(
                f"GET {response.url} -> {response.status_code}: {response.text[:300]}"
            )
        result.pages += 1
        result.objects += len(body["data"])
        result.ids.update(obj["id"] for obj in body["data"])
        result.total_header = int(response.headers.get("X-Total-Count", -1))
        match = LINK.search(response.headers.get("Link", ""))
        next_url, query = (match.group(1), None) if match else (None, None)
        if result.pages % 10 == 0:
            progress.status(f"{label}: page {result.pages}, {result.objects} objects")
    result.seconds = time.perf_counter() - began
    progress.step(f"{label}: {result.pages} pages, {result.objects} objects")
    return result


# --- the bare baselines -----------------------------------------------------------------------


class BarePages:
    """GET-all of the stored Locations with nothing but the data: no token, no owner, no model.

    ``splice``: the stored JSON text goes into the envelope as it is. Otherwise each object is
    decoded and the envelope encoded again.
    """

    def __init__(self, database_url: str, splice: bool) -> None:
        self.engine = create_async_engine(to_async_url(database_url))
        self.splice = splice
        self.base_url = ""
        # JSONB on PostgreSQL (its text form), JSON text on SQLite. Cast outside the page's
        # subquery: only the rows returned are turned into text, not those the OFFSET skips.
        data = "data::text" if database_url.startswith("postgres") else "data"
        self.count = text("SELECT count(*) FROM ocpi_object WHERE module = 'locations'")
        self.page = text(
            f"SELECT {data} FROM (SELECT data, last_updated, id FROM ocpi_object"
            " WHERE module = 'locations' ORDER BY last_updated, id LIMIT :limit OFFSET :offset)"
            " AS page ORDER BY last_updated, id"
        )
        self.app = Starlette(routes=[Route("/locations", self.locations, methods=["GET"])])

    async def locations(self, request: Request) -> Response:
        offset = int(request.query_params.get("offset", 0))
        limit = min(int(request.query_params.get("limit", PAGE)), PAGE)
        async with self.engine.connect() as conn:
            total = (await conn.execute(self.count)).scalar_one()
            rows = (await conn.execute(self.page, {"limit": limit, "offset": offset})).scalars()
            documents = list(rows)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.splice:
            body = (
                b'{"data":['
                + b",".join(d.encode() for d in documents)
                + b'],"status_code":1000,"status_message":"Success","timestamp":"'
                + stamp.encode()
                + b'"}'
            )
        else:
            envelope = {
                "data": [json.loads(d) for d in documents],
                "status_code": 1000,
                "status_message": "Success",
                "timestamp": stamp,
            }
            body = json.dumps(envelope, separators=(",", ":")).encode()
        headers = {"X-Total-Count": str(total), "X-Limit": str(limit)}
        if documents and offset + len(documents) < total:
            query = urlencode({"offset": offset + len(documents), "limit": limit})
            headers["Link"] = f'<{self.base_url}/locations?{query}>; rel="next"'
        return Response(body, headers=headers, media_type="application/json")


async def bench(args: argparse.Namespace) -> None:
    n = args.locations
    await header(
        "bench_get_all",
        f"{n} Locations walked with limit={PAGE}: through the hub, and two bare Starlette apps "
        "on the same table (splice, decode)",
        args.database_url,
        args.loop,
    )
    progress.step("starting the hub")
    async with bench_hub(args.database_url) as hub:
        assert hub.settings is not None
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=60))
            emsp = BenchParty("EMSP", *EMSP_PARTY)
            cpo = BenchParty("CPO", *CPO_PARTY)
            for party in (emsp, cpo):
                # Served in this process, for the handshake only.
                port = free_port()
                party.base_url = f"http://127.0.0.1:{port}"
                await stack.enter_async_context(serve(party.app, port))
            for party in (emsp, cpo):
                token_a = await invite(client, hub, f"Bench {party.role}")
                await register(client, party, hub.versions_url, token_a)
            assert cpo.hub_token is not None and emsp.hub_token is not None
            how = {
                "store": "store.service.save in bulk (500 per transaction)",
                "api": "PUT through the hub's Locations RECEIVER, 20 in flight",
            }[args.load]
            print(f"loading {n} Locations: {how}")
            began = time.perf_counter()
            if args.load == "api":
                receiver = await hub_endpoint(
                    client, hub.versions_url, cpo.hub_token, "locations", "RECEIVER"
                )
                await load_api(client, receiver, cpo.hub_token, n)
            else:
                await load_store(hub, n)
            loaded = time.perf_counter() - began
            progress.clear()
            print(f"  loaded in {loaded:.1f} s ({n / loaded:.0f} Locations/s)")

            bare: dict[str, BarePages] = {}
            for name in ("splice", "decode"):
                app = BarePages(hub.settings.database_url, splice=name == "splice")
                port = free_port()
                app.base_url = f"http://127.0.0.1:{port}"
                await stack.enter_async_context(serve(app.app, port))  # type: ignore[arg-type]
                stack.push_async_callback(app.engine.dispose)
                bare[name] = app
            progress.step(f"{args.walks} walk(s) each: hub, splice, decode in turn")
            sender = await hub_endpoint(
                client, hub.versions_url, emsp.hub_token, "locations", "SENDER"
            )
            urls = {
                "hub": sender,
                "splice": f"{bare['splice'].base_url}/locations",
                "decode": f"{bare['decode'].base_url}/locations",
            }
            walks: dict[str, list[Walk]] = {name: [] for name in urls}
            for k in range(args.walks):
                for name, url in urls.items():
                    walks[name].append(
                        await walk(
                            client,
                            url,
                            emsp.hub_token,
                            f"{name} walk {k + 1}",
                            {"limit": str(PAGE)},
                        )
                    )
            middle = n // 2
            filtered = await walk(
                client,
                sender,
                emsp.hub_token,
                "hub date_from",
                {"limit": str(PAGE), "date_from": stamp_of(middle)},
            )
            progress.clear()
    report(walks, filtered, n, n - middle)


def together(walks: list[Walk], label: str) -> Walk:
    every = Walk(label)
    for w in walks:
        every.pages += w.pages
        every.objects += w.objects
        every.seconds += w.seconds
        every.page_ms += w.page_ms
    return every


def report(walks: dict[str, list[Walk]], filtered: Walk, n: int, n_filtered: int) -> None:
    print()
    print(
        f"  {'walk':<26} {'pages':>6} {'objects':>8} {'seconds':>8} {'pages/s':>8} "
        f"{'objects/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'first ms':>9} {'last ms':>8}"
    )

    def line(label: str, w: Walk) -> None:
        print(
            f"  {label:<26} {w.pages:>6} {w.objects:>8} {w.seconds:>8.2f} "
            f"{w.pages / w.seconds:>8.1f} {w.objects / w.seconds:>10.0f} "
            f"{percentile(w.page_ms, 50):>8.1f} {percentile(w.page_ms, 99):>8.1f} "
            f"{w.page_ms[0]:>9.1f} {w.page_ms[-1]:>8.1f}"
        )

    totals = {}
    for name, runs in walks.items():
        for w in runs:
            line(w.label, w)
        totals[name] = together(runs, f"{name}: walks together")
        line(totals[name].label, totals[name])
    line("hub date_from (half)", filtered)
    problems = []
    checks = [(w, n) for runs in walks.values() for w in runs] + [(filtered, n_filtered)]
    for w, want in checks:
        if w.objects != want or len(w.ids) != want or w.total_header != want:
            problems.append(
                f"{w.label}: {w.objects} objects, {len(w.ids)} distinct, X-Total-Count "
                f"{w.total_header}; expected {want}"
            )
    print("  first/last ms: latency of the walk's first and last page (offset 0 and the end)")
    print("  check: " + ("; ".join(problems) if problems else "every walk saw each object once"))
    hub = totals["hub"]
    for name, what in (("splice", "splicing app"), ("decode", "decoding app")):
        other = totals[name]
        print_ratios(
            [
                Ratio("pages/s", hub.pages / hub.seconds, other.pages / other.seconds),
                *percentile_ratios("page", hub.page_ms, other.page_ms),
            ],
            bare=what,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--locations", type=int, default=10_000, help="default 10000")
    parser.add_argument("--walks", type=int, default=3, help="full walks of each (default 3)")
    parser.add_argument(
        "--load",
        choices=["store", "api"],
        default="store",
        help="store: store.service.save in bulk (default); api: PUT through the hub",
    )
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
        help="event loop (default: uvloop when installed, as `voltroam serve`)",
    )
    args = parser.parse_args()
    run(bench(args), args.loop)


if __name__ == "__main__":
    main()
