"""Delivery loses nothing and a repeat does no harm: a worker stopped mid-burst, a hub killed
with SIGKILL, outcomes recorded as soon as they are known, resends that cannot double-count."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from app.core.admin_auth import issue_admin_token
from app.core.settings import Settings
from app.hub.outbox.worker import DeliveryWorker
from tests.conftest import RunningServer, free_port, running_party, token_header
from tests.hub.network import (
    EMSP_ENDPOINTS,
    FAST,
    Network,
    cdr,
    charging_period,
    location,
    network,
    register,
    session,
    stamp,
    wait_for,
)
from tests.hub.test_realtime import CPO_EXTRA, EMSP_EXTRA, seed, start_session
from tests.ocpp.harness import wait_for as wait_until
from tests.peers import Call, FakeParty

ROOT = Path(__file__).resolve().parents[2]


def received(party: FakeParty) -> dict[str, list[str]]:
    """Per Location id, the last_updated of every version the party received, in order."""
    versions: dict[str, list[str]] = defaultdict(list)
    for call in party.pushes("locations", "PUT"):
        versions[call.path.rsplit("/", 1)[-1]].append(call.body["last_updated"])
    return versions


def assert_complete_and_ordered(party: FakeParty, ids: list[str], latest: dict[str, str]) -> None:
    versions = received(party)
    assert set(versions) >= set(ids)
    for location_id, stamps in versions.items():
        # Never an older version after a newer one; the last one is the newest.
        assert stamps == sorted(stamps), (location_id, stamps)
        assert stamps[-1] == latest[location_id], (location_id, stamps)


async def burst(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], n: int
) -> dict[str, str]:
    """n distinct Locations, then three newer versions of the first five."""
    latest: dict[str, str] = {}
    for i in range(n):
        body = location(f"B{i:03d}")
        response = await http.put(f"{url}/NL/CPA/B{i:03d}", json=body, headers=headers)
        assert response.json()["status_code"] == 1000
        latest[f"B{i:03d}"] = body["last_updated"]
    for minute in (1, 2, 3):
        for i in range(5):
            body = location(f"B{i:03d}", minutes=minute)
            response = await http.put(f"{url}/NL/CPA/B{i:03d}", json=body, headers=headers)
            assert response.json()["status_code"] == 1000
            latest[f"B{i:03d}"] = body["last_updated"]
    return latest


async def test_worker_stopped_mid_burst_resumes(database_url: str) -> None:
    async with network(database_url) as net:
        net.emsp1.delay = 0.01
        ctx = net.ctx
        background = net.hub.app.state.background
        latest = await burst(net.http, net.url("receiver/locations"), net.auth(net.cpo), 40)
        await wait_for(lambda: len(net.emsp1.pushes("locations")) >= 5)
        # The worker dies with deliveries in flight (their leases must run out).
        await background.worker.stop()
        await asyncio.sleep(0.2)
        delivered_while_down = len(net.emsp2.pushes("locations"))
        await asyncio.sleep(0.3)
        assert len(net.emsp2.pushes("locations")) == delivered_while_down

        worker = DeliveryWorker(ctx)
        ctx.notify_outbox = worker.wake
        worker.start()
        try:
            ids = list(latest)
            for emsp in (net.emsp1, net.emsp2):
                await wait_for(lambda e=emsp: set(received(e)) >= set(ids), timeout=20)
                await wait_for(
                    lambda e=emsp: all(received(e)[i][-1] == latest[i] for i in ids), timeout=20
                )
                assert_complete_and_ordered(emsp, ids, latest)
        finally:
            await worker.stop()


@asynccontextmanager
async def hub_process(
    database_url: str, port: int, tmp: Path
) -> AsyncIterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SECRET_KEY": "test-secret-key",
        "LOG_LEVEL": "WARNING",
        **{key.upper(): str(value) for key, value in FAST.items()},
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        cwd=tmp,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient() as http:
            # Up to a minute: a loaded machine has taken 14 s to start `voltroam serve`.
            for _ in range(1200):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("hub process did not start")
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


async def test_hub_killed_with_sigkill_delivers_everything_after_restart(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    settings = Settings(secret_key="test-secret-key", public_url=f"http://127.0.0.1:{port}")
    hub = RunningServer(app=None, base_url=f"http://127.0.0.1:{port}", settings=settings)  # type: ignore[arg-type]
    async with (
        httpx.AsyncClient(timeout=10) as http,
        running_party(FakeParty(roles=[("EMSP", "NL", "EM1")], endpoints=EMSP_ENDPOINTS)) as emsp1,
        running_party(FakeParty(roles=[("EMSP", "DE", "EM2")], endpoints=EMSP_ENDPOINTS)) as emsp2,
        running_party(FakeParty(roles=[("CPO", "NL", "CPA")], endpoints=[])) as cpo,
    ):
        emsp1.delay = 0.02
        async with hub_process(database_url, port, tmp_path) as process:
            for party in (emsp1, emsp2, cpo):
                await register(http, hub, party)
            assert cpo.hub_token
            headers = token_header(cpo.hub_token)
            latest = await burst(http, f"{hub.base_url}/ocpi/2.2.1/receiver/locations", headers, 40)
            await wait_for(lambda: len(emsp1.pushes("locations")) >= 3)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        assert len(emsp1.pushes("locations")) < 55, "the burst finished before the kill"

        async with hub_process(database_url, port, tmp_path):
            ids = list(latest)
            for emsp in (emsp1, emsp2):
                await wait_for(lambda e=emsp: set(received(e)) >= set(ids), timeout=30)
                await wait_for(
                    lambda e=emsp: all(received(e)[i][-1] == latest[i] for i in ids), timeout=30
                )
                assert_complete_and_ordered(emsp, ids, latest)
            admin = {"Authorization": f"Bearer {issue_admin_token(settings)}"}
            summary = (
                await http.get(f"{hub.base_url}/admin/deliveries/summary", headers=admin)
            ).json()
            assert summary.get("failed", 0) == 0 and summary.get("pending", 0) == 0


def session_at_emsp(party: FakeParty, session_id: str) -> dict[str, Any] | None:
    """The Session as an eMSP that follows mod_sessions holds it after the pushes it received,
    in the order they arrived: a PUT replaces the Session ("Any charging_periods from the existing
    object SHALL be replaced"), a PATCH sets the fields it carries and "add[s] all the
    ChargingPeriod objects to the existing Session object"."""
    current: dict[str, Any] | None = None
    for call in party.pushes("sessions"):
        if call.path.rsplit("/", 1)[-1] != session_id:
            continue
        if call.method == "PUT":
            current = dict(call.body)
        elif call.method == "PATCH":
            assert current is not None, "PATCH of a Session the eMSP does not have"
            periods = [
                *(current.get("charging_periods") or []),
                *(call.body.get("charging_periods") or []),
            ]
            current = {**current, **call.body, "charging_periods": periods}
    return current


def energy(document: dict[str, Any]) -> float:
    """kWh in a Session's charging periods."""
    return sum(
        float(d["volume"])
        for period in document.get("charging_periods") or []
        for d in period["dimensions"]
        if d["type"] == "ENERGY"
    )


def ids(call: Call) -> tuple[str | None, str | None]:
    return call.headers.get("x-request-id"), call.headers.get("x-correlation-id")


async def open_deliveries(net: Network) -> int:
    summary = (
        await net.http.get(f"{net.hub.base_url}/admin/deliveries/summary", headers=net.admin)
    ).json()
    return int(summary.get("pending", 0)) + int(summary.get("sending", 0))


async def delivery_status(net: Network, emsp: FakeParty, module: str) -> list[str]:
    """Status of the pushes of a module to one eMSP, oldest first."""
    rows = (
        await net.http.get(
            f"{net.hub.base_url}/admin/deliveries", params={"limit": 1000}, headers=net.admin
        )
    ).json()
    platforms = (
        await net.http.get(f"{net.hub.base_url}/admin/platforms", headers=net.admin)
    ).json()
    [platform_id] = [p["id"] for p in platforms if p["versions_url"] == f"{emsp.base_url}/versions"]
    return [
        r["status"]
        for r in reversed(rows)
        if r["module"] == module and r["platform_id"] == platform_id
    ]


async def test_an_outcome_is_recorded_as_soon_as_it_is_known(database_url: str) -> None:
    async with network(database_url) as net:
        net.emsp1.hold = {("locations", "PUT")}
        net.emsp2.hold = {("locations", "PUT")}
        response = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"), json=location(), headers=net.auth(net.cpo)
        )
        assert response.json()["status_code"] == 1000
        await wait_for(lambda: bool(net.emsp1.held and net.emsp2.held))
        # The worker's loop stops taking turns (as when it is busy claiming, or its instance is
        # about to die); the two pushes in flight go on.
        worker = net.hub.app.state.background.worker
        assert worker._task is not None
        worker._task.cancel()
        # The first eMSP answers; the second is still slow.
        net.emsp1.release.set()
        await wait_until(
            lambda: _statuses_are(net, [(net.emsp1, ["delivered"]), (net.emsp2, ["sending"])])
        )
        net.emsp2.release.set()


async def _statuses_are(net: Network, expected: list[tuple[FakeParty, list[str]]]) -> bool:
    for emsp, statuses in expected:
        if await delivery_status(net, emsp, "locations") != statuses:
            return False
    return True


async def test_a_repeat_after_an_unknown_outcome_does_no_harm(database_url: str) -> None:
    """The worker dies while a Session PATCH, a CDR and a TIMEOUT CommandResult are in flight;
    the eMSP has received (and applied) each. Another worker sends them again: the Session as a
    PUT of the whole Session, the others unchanged and with the same X-Request-ID and
    X-Correlation-ID, so the eMSP can tell a repeat."""
    async with network(
        database_url,
        extra_cpo_endpoints=CPO_EXTRA,
        extra_emsp_endpoints=EMSP_EXTRA,
        delivery_lease_seconds=5.0,
        ocpi_timeout_seconds=4.0,
    ) as net:
        emsp, cpo = net.emsp1, net.auth(net.cpo)
        await seed(net)
        first = {**session(minutes=1), "kwh": 10, "charging_periods": [charging_period(0, 10)]}
        await net.http.put(net.url("receiver/sessions/NL/CPA/S1"), json=first, headers=cpo)
        await wait_for(lambda: (session_at_emsp(emsp, "S1") or {}).get("kwh") == 10)

        emsp.hold = {("sessions", "PATCH"), ("cdrs", "POST"), ("commands", "POST")}
        # A command the CPO accepts and never answers: the hub answers TIMEOUT itself, from a
        # background task (no request whose X-Correlation-ID it could keep).
        net.cpo.answers["commands"] = {"result": "ACCEPTED", "timeout": 0}
        original = f"{emsp.base_url}/2.2.1/commands/START_SESSION/t1"
        answer = await net.http.post(
            net.url("receiver/commands/START_SESSION"),
            json=start_session(net, original),
            headers=net.auth(emsp),
        )
        assert answer.json()["data"]["result"] == "ACCEPTED"
        await wait_for(lambda: len(emsp.held) == 1, timeout=20)

        patch = {
            "kwh": 20,
            "charging_periods": [charging_period(10, 10)],
            "last_updated": stamp(10),
        }
        r = await net.http.patch(net.url("receiver/sessions/NL/CPA/S1"), json=patch, headers=cpo)
        assert r.json()["status_code"] == 1000, r.text
        r = await net.http.post(net.url("receiver/cdrs"), json=cdr(), headers=cpo)
        assert r.json()["status_code"] == 1000, r.text
        await wait_for(lambda: len(emsp.held) == 3)
        # One more PATCH, queued behind the one in flight.
        later = {"kwh": 25, "charging_periods": [charging_period(20, 5)], "last_updated": stamp(20)}
        r = await net.http.patch(net.url("receiver/sessions/NL/CPA/S1"), json=later, headers=cpo)
        assert r.json()["status_code"] == 1000, r.text

        # The worker dies with the three in flight: their outcome is unknown to the hub.
        await net.hub.app.state.background.worker.stop()
        emsp.release.set()
        worker = DeliveryWorker(net.ctx)
        net.ctx.notify_outbox = worker.wake
        worker.start()
        try:
            await wait_until(lambda: _settled(net))
        finally:
            await worker.stop()

        stored = (await net.http.get(net.url("receiver/sessions/NL/CPA/S1"), headers=cpo)).json()[
            "data"
        ]
        held = session_at_emsp(emsp, "S1")
        assert held is not None
        assert energy(held) == held["kwh"] == 25, [
            p["start_date_time"] for p in held["charging_periods"]
        ]
        assert held == stored
        # The resend was the whole Session, not the PATCH again.
        calls = [(c.method, c.body.get("kwh")) for c in emsp.pushes("sessions")]
        assert [c for c in calls if c[1] in (20, 25)] == [("PATCH", 20), ("PUT", 25)], calls

        for module in ("cdrs", "commands"):
            copies = emsp.pushes(module, "POST")
            assert len(copies) == 2, (module, copies)
            assert copies[0].body == copies[1].body
            assert ids(copies[0]) == ids(copies[1]), module
            assert None not in ids(copies[0])
        assert emsp.pushes("commands")[0].body["result"] == "TIMEOUT"


async def _settled(net: Network) -> bool:
    return await open_deliveries(net) == 0


async def test_a_session_patch_is_repeated_as_a_put_after_an_error_or_an_admin_retry(
    database_url: str,
) -> None:
    """An error answer (a proxy's 502 after the eMSP applied the PATCH) leaves the outcome
    unknown just as a dead worker does; so does a failed push an admin queues again."""
    async with network(database_url) as net:
        emsp, cpo = net.emsp1, net.auth(net.cpo)
        url = net.url("receiver/sessions/NL/CPA/S1")
        first = {**session(minutes=1), "kwh": 10, "charging_periods": [charging_period(0, 10)]}
        await net.http.put(url, json=first, headers=cpo)
        await wait_for(lambda: len(emsp.pushes("sessions")) == 1)

        emsp.fail_with = 502
        patch = {
            "kwh": 20,
            "charging_periods": [charging_period(10, 10)],
            "last_updated": stamp(10),
        }
        r = await net.http.patch(url, json=patch, headers=cpo)
        assert r.json()["status_code"] == 1000, r.text
        await wait_for(lambda: len(emsp.pushes("sessions")) == 2)
        emsp.fail_with = None
        await wait_until(lambda: _settled(net))
        held = session_at_emsp(emsp, "S1")
        assert held is not None and energy(held) == held["kwh"] == 20
        methods = [c.method for c in emsp.pushes("sessions")]
        assert methods[:2] == ["PUT", "PATCH"] and set(methods[2:]) == {"PUT"}, methods

        # The eMSP refuses a PATCH; an admin queues it again once the eMSP is fixed.
        emsp.refuse_with = 2001
        later = {"kwh": 25, "charging_periods": [charging_period(20, 5)], "last_updated": stamp(20)}
        r = await net.http.patch(url, json=later, headers=cpo)
        assert r.json()["status_code"] == 1000, r.text
        await wait_until(lambda: _settled(net))
        failed = (
            await net.http.get(
                f"{net.hub.base_url}/admin/deliveries",
                params={"status": "failed"},
                headers=net.admin,
            )
        ).json()
        [row] = [r for r in failed if r["module"] == "sessions"]
        assert row["method"] == "PATCH"
        emsp.refuse_with = None
        sent = len(emsp.pushes("sessions"))
        r = await net.http.post(
            f"{net.hub.base_url}/admin/deliveries/{row['id']}/retry", headers=net.admin
        )
        assert r.status_code == 200 and r.json()["method"] == "PUT", r.text
        await wait_until(lambda: _settled(net))
        [again] = emsp.pushes("sessions")[sent:]
        assert again.method == "PUT" and again.body["kwh"] == 25
        held = session_at_emsp(emsp, "S1")
        assert held is not None and energy(held) == held["kwh"] == 25
