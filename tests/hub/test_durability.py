"""Delivery loses nothing: a worker stopped mid-burst, and a hub killed with SIGKILL."""

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

import httpx

from app.admin.auth import issue_admin_token
from app.core.settings import Settings
from app.hub.outbox.worker import DeliveryWorker
from tests.conftest import RunningServer, free_port, running_party, token_header
from tests.hub.network import EMSP_ENDPOINTS, FAST, location, network, register, wait_for
from tests.peers import FakeParty

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
            for _ in range(300):
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
