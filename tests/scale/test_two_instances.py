"""Two `voltroam serve` processes on one PostgreSQL and one Redis (the scale-out setup).

- A charger connected to instance A is reached by an OCPI command sent to instance B; the Session
  and CDR reach the eMSP once. When A dies, the charger reconnects to B and is reached there.
- A burst of pushes through both instances is delivered exactly once, in per-object order, with
  both delivery workers taking part; SIGKILL of one instance mid-burst loses nothing.
- SIGKILL of the instance sending a Session PATCH, a CDR and a CommandResult that the eMSP has
  received: the other instance sends them again, harmlessly (the Session as a PUT of the whole
  Session, the CDR and the result with the X-Request-ID and X-Correlation-ID of the first copy).

Skipped unless DATABASE_URL is PostgreSQL and Redis answers (CI runs the suite on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.admin_auth import issue_admin_token
from app.core.settings import Settings
from tests.conftest import USE_POSTGRES, RunningServer, free_port, running_party, token_header
from tests.hub.network import (
    CPO_ENDPOINTS,
    EMSP_ENDPOINTS,
    FAST,
    cdr,
    charging_period,
    location,
    register,
    session,
    stamp,
    token,
)
from tests.hub.test_broker import REDIS_URL, redis_answers
from tests.hub.test_durability import assert_complete_and_ordered, energy, ids, session_at_emsp
from tests.hub.test_realtime import CPO_EXTRA, EMSP_EXTRA
from tests.ocpp.harness import World, charger, send_command, wait_for
from tests.peers import FakeParty

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not USE_POSTGRES, reason="several instances need PostgreSQL (set DATABASE_URL=postgresql://…)"
)

CLUSTER = {
    **FAST,
    "redis_url": REDIS_URL,
    "instance_heartbeat_seconds": 0.5,
    "instance_lease_seconds": 3,
    "ocpp_watchdog_seconds": 0.2,
    "ocpp_command_timeout_seconds": 5,
    "ocpp_response_timeout_seconds": 5,
}


@pytest.fixture(autouse=True)
async def _needs_redis() -> None:
    if not await redis_answers():
        pytest.skip(f"several instances need Redis; none answers at {REDIS_URL}")


@asynccontextmanager
async def instance(
    database_url: str, tmp: Path, **overrides: Any
) -> AsyncIterator[tuple[RunningServer, subprocess.Popen[bytes]]]:
    """One `voltroam serve` subprocess (it can be killed with SIGKILL)."""
    port = free_port()
    values = {**CLUSTER, **overrides}
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SECRET_KEY": "test-secret-key",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **{key.upper(): str(value) for key, value in values.items()},
    }
    workdir = tmp / f"hub-{port}"
    workdir.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    settings = Settings(secret_key="test-secret-key", public_url=base)
    try:
        async with httpx.AsyncClient() as http:
            # Up to a minute: a loaded machine has taken 14 s to start `voltroam serve`.
            for _ in range(1200):
                try:
                    if (await http.get(f"{base}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None, "hub process exited"
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("hub process did not start")
        yield RunningServer(app=None, base_url=base, settings=settings), process  # type: ignore[arg-type]
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


async def delivered_by(http: httpx.AsyncClient, hub: RunningServer, module: str) -> float:
    """Pushes this instance's worker delivered (its own /metrics)."""
    text = (await http.get(f"{hub.base_url}/metrics")).text
    label = f'module="{module}",outcome="delivered"'
    match = re.search(r"voltroam_delivery_attempts_total\{" + label + r"\} ([0-9.e+]+)", text)
    return float(match.group(1)) if match else 0.0


def start_body(w: World, ref: str) -> dict[str, Any]:
    return {
        "response_url": f"{w.emsp.base_url}/2.2.1/cmdresult/{ref}",
        "token": {
            "country_code": "NL",
            "party_id": "EM1",
            "uid": "TOK1",
            "type": "RFID",
            "contract_id": "NL-EM1-CTOK1",
            "issuer": "Example eMSP",
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": "2026-01-01T00:00:00Z",
        },
        "location_id": "LOC1",
        "evse_uid": "CP16-1",
    }


async def test_command_through_b_reaches_charger_on_a(database_url: str, tmp_path: Path) -> None:
    async with (
        httpx.AsyncClient(timeout=15) as http,
        running_party(
            FakeParty(
                roles=[("EMSP", "NL", "EM1")],
                endpoints=[*EMSP_ENDPOINTS, ("tokens", "SENDER"), ("commands", "SENDER")],
            )
        ) as emsp,
        instance(database_url, tmp_path) as (hub_a, process_a),
        instance(database_url, tmp_path) as (hub_b, _process_b),
    ):
        await register(http, hub_a, emsp)
        on_a, on_b = World(hub_a, emsp, http), World(hub_b, emsp, http)
        await on_a.setup_site(["CP16"])
        results = lambda: [c.body for c in emsp.calls if "/cmdresult/" in c.path]  # noqa: E731

        async with charger(on_a, "CP16") as cp:
            await cp.boot()
            answer = await send_command(on_b, "START_SESSION", start_body(on_b, "start1"))
            assert answer["data"]["result"] == "ACCEPTED", answer
            # B had no socket to the charger: the call went through Redis to A.
            await asyncio.wait_for(cp.remote_started.wait(), 10)
            assert cp.calls_seen == ["RemoteStartTransaction"]
            await wait_for(lambda: emsp.pushes("sessions", "PUT"), timeout=10)
            session_id = emsp.pushes("sessions", "PUT")[0].body["id"]

            # An admin call through B is answered by the charger on A.
            admin = {"Authorization": f"Bearer {issue_admin_token(hub_b.settings)}"}  # type: ignore[arg-type]
            r = await http.post(
                f"{hub_b.base_url}/admin/chargers/CP16/calls/GetConfiguration",
                json={},
                headers=admin,
            )
            assert r.status_code == 200, r.text
            assert r.json()["configurationKey"][0]["key"] == "HeartbeatInterval"

            answer = await send_command(
                on_b,
                "STOP_SESSION",
                {
                    "response_url": f"{emsp.base_url}/2.2.1/cmdresult/stop1",
                    "session_id": session_id,
                },
            )
            assert answer["data"]["result"] == "ACCEPTED", answer
            await wait_for(lambda: "RemoteStopTransaction" in cp.calls_seen, timeout=10)
            await cp.stop_tx(11000, "2026-03-02T10:00:00Z")
            await wait_for(lambda: emsp.pushes("cdrs", "POST"), timeout=10)
            await wait_for(lambda: len(results()) >= 2, timeout=10)

        await asyncio.sleep(1.0)  # room for any duplicate to show up
        assert [r["result"] for r in results()] == ["ACCEPTED", "ACCEPTED"]
        assert len(emsp.pushes("sessions", "PUT")) == 1
        assert len(emsp.pushes("cdrs", "POST")) == 1
        assert emsp.pushes("cdrs", "POST")[0].body["total_energy"] == 10.0

        # A dies; its charger reconnects to B and is reached there.
        os.kill(process_a.pid, signal.SIGKILL)
        process_a.wait(timeout=10)
        r = await http.post(
            f"{hub_b.base_url}/admin/chargers/CP16/calls/GetConfiguration", json={}, headers=admin
        )
        assert r.status_code == 409, r.text  # nobody holds it now
        async with charger(on_b, "CP16") as cp:
            await cp.boot()
            r = await http.post(
                f"{hub_b.base_url}/admin/chargers/CP16/calls/GetConfiguration",
                json={},
                headers=admin,
            )
            assert r.status_code == 200, r.text


async def alternating_burst(
    http: httpx.AsyncClient, hubs: list[RunningServer], headers: dict[str, str], n: int
) -> dict[str, str]:
    """n Locations, then three newer versions of the first five, each PUT to the next instance
    in turn (so successive versions of one object are queued by different instances)."""
    latest: dict[str, str] = {}
    turn = 0
    for minutes, count in ((0, n), (1, 5), (2, 5), (3, 5)):
        for i in range(count):
            body = location(f"B{i:03d}", minutes=minutes)
            hub = hubs[turn % len(hubs)]
            turn += 1
            url = f"{hub.base_url}/ocpi/2.2.1/receiver/locations/NL/CPA/B{i:03d}"
            response = await http.put(url, json=body, headers=headers)
            assert response.json()["status_code"] == 1000, response.text
            latest[f"B{i:03d}"] = body["last_updated"]
    return latest


def versions(party: FakeParty) -> Counter[tuple[str, str]]:
    return Counter(
        (c.path.rsplit("/", 1)[-1], c.body["last_updated"])
        for c in party.pushes("locations", "PUT")
    )


@asynccontextmanager
async def parties() -> AsyncIterator[tuple[FakeParty, FakeParty, FakeParty]]:
    async with (
        running_party(FakeParty(roles=[("EMSP", "NL", "EM1")], endpoints=EMSP_ENDPOINTS)) as e1,
        running_party(FakeParty(roles=[("EMSP", "DE", "EM2")], endpoints=EMSP_ENDPOINTS)) as e2,
        running_party(FakeParty(roles=[("CPO", "NL", "CPA")], endpoints=[])) as cpo,
    ):
        yield e1, e2, cpo


async def test_burst_through_both_instances_is_delivered_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        httpx.AsyncClient(timeout=15) as http,
        parties() as (emsp1, emsp2, cpo),
        instance(database_url, tmp_path, delivery_concurrency=4) as (hub_a, _pa),
        instance(database_url, tmp_path, delivery_concurrency=4) as (hub_b, _pb),
    ):
        for party in (emsp1, emsp2, cpo):
            await register(http, hub_a, party)
        assert cpo.hub_token
        emsp1.delay = emsp2.delay = 0.05
        latest = await alternating_burst(http, [hub_a, hub_b], token_header(cpo.hub_token), 60)
        ids = list(latest)
        for emsp in (emsp1, emsp2):
            await wait_for(lambda e=emsp: set(versions(e)) >= set(latest.items()), timeout=30)
        await asyncio.sleep(0.5)
        for emsp in (emsp1, emsp2):
            assert_complete_and_ordered(emsp, ids, latest)
            duplicates = {k: n for k, n in versions(emsp).items() if n > 1}
            assert not duplicates, duplicates
        total = sum(len(e.pushes("locations", "PUT")) for e in (emsp1, emsp2))
        by_a = await delivered_by(http, hub_a, "locations")
        by_b = await delivered_by(http, hub_b, "locations")
        # Both workers took part, and together they sent each push once.
        assert by_a > 0 and by_b > 0, (by_a, by_b)
        assert by_a + by_b == total


async def test_sigkill_of_one_instance_mid_burst_loses_nothing(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        httpx.AsyncClient(timeout=15) as http,
        parties() as (emsp1, emsp2, cpo),
        instance(database_url, tmp_path, delivery_concurrency=4) as (hub_a, process_a),
        instance(database_url, tmp_path, delivery_concurrency=4) as (hub_b, _pb),
    ):
        for party in (emsp1, emsp2, cpo):
            await register(http, hub_a, party)
        assert cpo.hub_token
        emsp1.delay = emsp2.delay = 0.2
        latest = await alternating_burst(http, [hub_a, hub_b], token_header(cpo.hub_token), 40)
        await wait_for(lambda: len(emsp1.pushes("locations")) >= 3)
        os.kill(process_a.pid, signal.SIGKILL)
        process_a.wait(timeout=10)
        assert len(emsp1.pushes("locations")) < 55, "the burst finished before the kill"

        ids = list(latest)
        for emsp in (emsp1, emsp2):
            # A's leased rows come back to the queue after DELIVERY_LEASE_SECONDS; B sends them.
            await wait_for(lambda e=emsp: set(versions(e)) >= set(latest.items()), timeout=30)
            assert_complete_and_ordered(emsp, ids, latest)
        admin = {"Authorization": f"Bearer {issue_admin_token(hub_b.settings)}"}  # type: ignore[arg-type]
        summary: dict[str, int] = {}

        async def settled() -> bool:
            # Outcomes are written right after each answer; B writes those of A's rows it sent.
            url = f"{hub_b.base_url}/admin/deliveries/summary"
            summary.clear()
            summary.update((await http.get(url, headers=admin)).json())
            return not any(summary.get(s, 0) for s in ("sending", "pending", "failed"))

        await wait_for(settled, timeout=10)
        assert summary.get("delivered", 0) >= 2 * len(ids), summary


async def open_deliveries(http: httpx.AsyncClient, hub: RunningServer) -> int:
    admin = {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}  # type: ignore[arg-type]
    summary = (await http.get(f"{hub.base_url}/admin/deliveries/summary", headers=admin)).json()
    return int(summary.get("pending", 0)) + int(summary.get("sending", 0))


async def test_sigkill_while_sending_then_the_other_instance_repeats_harmlessly(
    database_url: str, tmp_path: Path
) -> None:
    # The lease (which bounds an attempt) outlasts the time the eMSP holds the requests while B
    # starts.
    slow = {"delivery_lease_seconds": 12, "ocpi_timeout_seconds": 12}
    async with (
        httpx.AsyncClient(timeout=15) as http,
        running_party(
            FakeParty(roles=[("EMSP", "NL", "EM1")], endpoints=[*EMSP_ENDPOINTS, *EMSP_EXTRA])
        ) as emsp,
        running_party(
            FakeParty(roles=[("CPO", "NL", "CPA")], endpoints=[*CPO_ENDPOINTS, *CPO_EXTRA])
        ) as cpo,
        instance(database_url, tmp_path, **slow) as (hub_a, process_a),
    ):
        for party in (emsp, cpo):
            await register(http, hub_a, party)
        assert cpo.hub_token and emsp.hub_token
        as_cpo, as_emsp = token_header(cpo.hub_token), token_header(emsp.hub_token)
        a = f"{hub_a.base_url}/ocpi/2.2.1"
        r = await http.put(f"{a}/receiver/locations/NL/CPA/LOC1", json=location(), headers=as_cpo)
        assert r.json()["status_code"] == 1000, r.text
        r = await http.put(f"{a}/receiver/tokens/NL/EM1/TOK1", json=token(), headers=as_emsp)
        assert r.json()["status_code"] == 1000, r.text
        first = {**session(minutes=1), "kwh": 10, "charging_periods": [charging_period(0, 10)]}
        r = await http.put(f"{a}/receiver/sessions/NL/CPA/S1", json=first, headers=as_cpo)
        assert r.json()["status_code"] == 1000, r.text
        await wait_for(lambda: (session_at_emsp(emsp, "S1") or {}).get("kwh") == 10)

        # The driver stops the session by app; the CPO accepts and will send its result.
        cpo.answers["commands"] = {"result": "ACCEPTED", "timeout": 30}
        stop = {
            "response_url": f"{emsp.base_url}/2.2.1/commands/STOP_SESSION/1",
            "session_id": "S1",
        }
        r = await http.post(f"{a}/receiver/commands/STOP_SESSION", json=stop, headers=as_emsp)
        assert r.json()["data"]["result"] == "ACCEPTED", r.text
        [forwarded] = cpo.pushes("commands")
        hub_result_url = forwarded.body["response_url"]

        # The eMSP receives and applies each of these, and answers only after A is dead.
        emsp.hold = {("sessions", "PATCH"), ("cdrs", "POST"), ("commands", "POST")}
        patch = {
            "kwh": 20,
            "charging_periods": [charging_period(10, 10)],
            "status": "COMPLETED",
            "last_updated": stamp(10),
        }
        r = await http.patch(f"{a}/receiver/sessions/NL/CPA/S1", json=patch, headers=as_cpo)
        assert r.json()["status_code"] == 1000, r.text
        r = await http.post(hub_result_url, json={"result": "ACCEPTED"}, headers=as_cpo)
        assert r.json()["status_code"] == 1000, r.text
        r = await http.post(
            f"{a}/receiver/cdrs", json={**cdr(), "total_energy": 20}, headers=as_cpo
        )
        assert r.json()["status_code"] == 1000, r.text
        await wait_for(lambda: len(emsp.held) == 3, timeout=15)

        async with instance(database_url, tmp_path, **slow) as (hub_b, _process_b):
            os.kill(process_a.pid, signal.SIGKILL)
            process_a.wait(timeout=10)
            emsp.release.set()
            # B takes A's rows when their lease ends, and sends them again.
            await wait_for(lambda: len(emsp.pushes("cdrs")) == 2, timeout=40)
            await wait_for(lambda: len(emsp.pushes("commands")) == 2, timeout=20)
            await wait_for(lambda: _none_open(http, hub_b), timeout=20)

            stored = (
                await http.get(
                    f"{hub_b.base_url}/ocpi/2.2.1/receiver/sessions/NL/CPA/S1", headers=as_cpo
                )
            ).json()["data"]
        held = session_at_emsp(emsp, "S1")
        assert held is not None
        assert energy(held) == held["kwh"] == 20, held["charging_periods"]
        assert held == stored
        # The repeat was the whole Session, not the PATCH again.
        assert [c.method for c in emsp.pushes("sessions")] == ["PUT", "PATCH", "PUT"]
        for module in ("cdrs", "commands"):
            copies = emsp.pushes(module, "POST")
            assert len(copies) == 2, (module, copies)
            assert copies[0].body == copies[1].body
            assert ids(copies[0]) == ids(copies[1]), module
            assert None not in ids(copies[0])


async def _none_open(http: httpx.AsyncClient, hub: RunningServer) -> bool:
    return await open_deliveries(http, hub) == 0
