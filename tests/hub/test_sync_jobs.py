"""Pulling a CPO's Locations and Tariffs is durable work in the database (a sync job).

Whoever registers a CPO (its POST to the hub, `voltroam party connect` in another process, the
admin API, a credentials PUT) queues the pull in the registration's transaction; a running hub
instance takes it (one instance only), shows its progress in the admin API, and takes it again
when the instance that had it died.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli_process import clean_env, voltroam
from tests.conftest import USE_POSTGRES, RunningServer, running_hub, running_party
from tests.hub.network import (
    CPO_ENDPOINTS,
    FAST,
    Network,
    location,
    network,
    register,
    tariff,
    wait_for,
)
from tests.peers import FakeParty


def cpo_b(n: int = 25, **kwargs: Any) -> FakeParty:
    return FakeParty(
        roles=[("CPO", "BE", "CPB")],
        endpoints=CPO_ENDPOINTS,
        objects={
            "locations": [location(f"B{i:02}", minutes=i, cc="BE", pid="CPB") for i in range(n)]
            + [location("FOREIGN", cc="FR", pid="ABC")],
            "tariffs": [{**tariff("TB"), "country_code": "BE", "party_id": "CPB"}],
        },
        **kwargs,
    )


def gets(party: FakeParty, module: str) -> list[Any]:
    return [c for c in party.calls if c.method == "GET" and c.path == f"/2.2.1/{module}"]


async def admin_get(net: Network | Any, hub: RunningServer, path: str) -> Any:
    from app.core.admin_auth import issue_admin_token

    assert hub.settings is not None
    headers = {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{hub.base_url}{path}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def job_when(hub: RunningServer, platform_id: int, states: set[str], timeout: float = 15):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        platform = await admin_get(None, hub, f"/admin/platforms/{platform_id}")
        job = platform["sync"]
        if job is not None and job["state"] in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"sync job of platform {platform_id}: {job}")
        await asyncio.sleep(0.05)


async def what_the_hub_did(net: Network) -> str:
    """For failures seen in full runs only (never alone): platforms, sync jobs and every push
    not delivered, with its error."""
    platforms = await admin_get(net, net.hub, "/admin/platforms")
    syncs = await admin_get(net, net.hub, "/admin/syncs")
    summary = await admin_get(net, net.hub, "/admin/deliveries/summary")
    rows = await admin_get(net, net.hub, "/admin/deliveries?limit=1000")
    open_rows = [
        (r["id"], r["platform_id"], r["method"], r["path"], r["status"], r["attempts"],
         r["last_error"])
        for r in rows
        if r["status"] != "delivered"
    ]  # fmt: skip
    return (
        f"platforms: {[(p['id'], p['status'], p['roles']) for p in platforms]}; "
        f"sync jobs: {syncs}; deliveries: {summary}; not delivered: {open_rows}"
    )


async def platform_of(hub: RunningServer, party_id: str) -> int:
    for p in await admin_get(None, hub, "/admin/platforms"):
        if any(r["party_id"] == party_id for r in p["roles"]):
            return int(p["id"])
    raise AssertionError(f"no platform with {party_id}")


async def test_a_cpo_connected_from_the_command_line_is_pulled(
    database_url: str, tmp_path: Path
) -> None:
    async with network(database_url) as net, running_party(cpo_b()) as cpo:
        cpo.accepted_tokens.add("token-a-of-cpb")
        env = clean_env(
            DATABASE_URL=database_url,
            SECRET_KEY="test-secret-key",  # the serving instance's key
            PUBLIC_URL=net.hub.base_url,
        )
        done = await voltroam(
            "party", "connect", f"{cpo.base_url}/versions", "--token-a", "token-a-of-cpb",
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert done.code == 0, done.stderr
        assert "BE*CPB" in done.stdout

        # The running hub (not the command, which has exited) walks the CPO's Sender endpoints
        # with the token the CPO issued, and announces what it found to the eMSPs.
        def be(party: FakeParty) -> list[Any]:
            return [c for c in party.pushes("locations", "PUT") if "/BE/CPB/" in c.path]

        try:
            await wait_for(lambda: len(be(net.emsp1)) == 25 and len(be(net.emsp2)) == 25, 30)
        except AssertionError:
            raise AssertionError(
                f"pushes of BE*CPB: {len(be(net.emsp1))}, {len(be(net.emsp2))}; "
                f"CPO calls: {[(c.method, c.path) for c in cpo.calls]}; "
                + await what_the_hub_did(net)
            ) from None
        await wait_for(lambda: any("/BE/CPB/" in c.path for c in net.emsp1.pushes("tariffs")))
        assert len(gets(cpo, "locations")) == 3 and len(gets(cpo, "tariffs")) == 1
        assert {c.token for c in gets(cpo, "locations")} == cpo.accepted_tokens - {"token-a-of-cpb"}

        platform_id = await platform_of(net.hub, "CPB")
        job = await job_when(net.hub, platform_id, {"done"})
        assert job["reason"] == "registration"
        assert job["attempts"] == 1 and job["error"] is None
        assert job["modules"]["locations"] == {
            "pages": 3,
            "objects": 26,
            "total": 26,
            "stored": 25,
            "ignored": 1,
            "done": True,
            "error": None,
        }
        assert job["modules"]["tariffs"]["stored"] == 1
        for stamp in ("created_at", "started_at", "finished_at"):
            assert job[stamp] is not None
        listed = await admin_get(net, net.hub, f"/admin/syncs?platform_id={platform_id}")
        assert [j["id"] for j in listed] == [job["id"]]
        assert listed[0]["platform_name"]
        one = await admin_get(net, net.hub, f"/admin/syncs/{job['id']}")
        assert one["modules"] == job["modules"]


async def test_admin_sync_queues_a_job_and_answers_at_once(database_url: str) -> None:
    async with network(database_url) as net:
        platform_id = await platform_of(net.hub, "CPA")
        first = await job_when(net.hub, platform_id, {"done"})
        net.cpo.objects = {"locations": [location(f"L{i}") for i in range(12)]}
        net.cpo.page_delay = 0.2
        url = f"{net.hub.base_url}/admin/platforms/{platform_id}/sync"
        response = await net.http.post(url, headers=net.admin)
        assert response.status_code == 202, response.text
        queued = response.json()
        assert queued["id"] != first["id"] and queued["reason"] == "admin"
        assert queued["state"] == "pending" and queued["platform_id"] == platform_id
        running = await job_when(net.hub, platform_id, {"running"})
        assert running["id"] == queued["id"]
        job = await job_when(net.hub, platform_id, {"done"})
        assert job["modules"]["locations"]["stored"] == 12
        try:
            await wait_for(lambda: len(net.emsp1.pushes("locations")) == 12)
        except AssertionError:
            pushed = [(c.method, c.path) for c in net.emsp1.pushes("locations")]
            raise AssertionError(
                f"pushes to eMSP1: {pushed}; " + await what_the_hub_did(net)
            ) from None

        # The overview shows the pulls too.
        overview = await admin_get(net, net.hub, "/admin/overview")
        assert overview["syncs"][0]["id"] == job["id"]
        assert overview["syncs"][0]["state"] == "done"

        emsp_id = await platform_of(net.hub, "EM1")
        refused = await net.http.post(
            f"{net.hub.base_url}/admin/platforms/{emsp_id}/sync", headers=net.admin
        )
        assert refused.status_code == 409 and "CPO" in refused.json()["detail"]
        unknown = await net.http.post(
            f"{net.hub.base_url}/admin/platforms/999/sync", headers=net.admin
        )
        assert unknown.status_code == 404


async def test_a_failed_pull_says_why(database_url: str) -> None:
    async with network(database_url) as net:
        platform_id = await platform_of(net.hub, "CPA")
        await job_when(net.hub, platform_id, {"done"})
        net.cpo.accepted_tokens.clear()  # the CPO refuses the hub from now on
        response = await net.http.post(
            f"{net.hub.base_url}/admin/platforms/{platform_id}/sync", headers=net.admin
        )
        assert response.status_code == 202
        job = await job_when(net.hub, platform_id, {"failed"})
        assert "HTTP 401" in job["error"]
        assert job["modules"]["locations"]["error"]


async def test_credentials_put_pulls_again(database_url: str) -> None:
    async with network(database_url) as net:
        platform_id = await platform_of(net.hub, "CPA")
        first = await job_when(net.hub, platform_id, {"done"})
        net.cpo.objects = {"locations": [location("AFTER-PUT")]}
        assert net.cpo.hub_token is not None
        response = await net.http.put(
            net.url("credentials"),
            json=net.cpo.credentials(next(iter(net.cpo.accepted_tokens))),
            headers=net.auth(net.cpo),
        )
        assert response.json()["status_code"] == 1000, response.text
        net.cpo.hub_token = response.json()["data"]["token"]
        await wait_for(lambda: any("AFTER-PUT" in c.path for c in net.emsp1.pushes("locations")))
        job = await job_when(net.hub, platform_id, {"done"})
        assert job["id"] != first["id"] and job["reason"] == "registration"


async def test_no_pull_when_sync_after_registration_is_off(database_url: str) -> None:
    async with network(database_url, sync_after_registration=False) as net:
        platform_id = await platform_of(net.hub, "CPA")
        await asyncio.sleep(0.5)
        assert gets(net.cpo, "locations") == []
        platform = await admin_get(net, net.hub, f"/admin/platforms/{platform_id}")
        assert platform["sync"] is None
        assert await admin_get(net, net.hub, "/admin/syncs") == []


async def test_a_pull_whose_process_died_is_taken_again(database_url: str, tmp_path: Path) -> None:
    """`voltroam party sync` is killed (SIGKILL) in the middle of a pull; when its lease runs
    out, the running hub takes the job and finishes it."""
    async with network(database_url, sync_lease_seconds=1.0) as net:
        platform_id = await platform_of(net.hub, "CPA")
        await job_when(net.hub, platform_id, {"done"})
        net.cpo.objects = {"locations": [location(f"K{i:02}") for i in range(40)]}
        net.cpo.page_delay = 0.3
        env = clean_env(
            DATABASE_URL=database_url,
            SECRET_KEY="test-secret-key",
            PUBLIC_URL=net.hub.base_url,
            SYNC_LEASE_SECONDS="1",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "party", "sync", str(platform_id),
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert process.stdout is not None
        try:
            while True:
                line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
                assert line, "party sync ended before its first page"
                if line.startswith("locations: page 2"):
                    break
        finally:
            os.kill(process.pid, signal.SIGKILL)
            await process.wait()
        running = await job_when(net.hub, platform_id, {"running"})
        assert running["reason"] == "cli"
        job = await job_when(net.hub, platform_id, {"done"}, timeout=30)
        assert job["id"] == running["id"]
        assert job["attempts"] == 2
        assert job["modules"]["locations"]["stored"] == 40


@pytest.mark.skipif(not USE_POSTGRES, reason="several instances need PostgreSQL")
async def test_two_instances_run_each_queued_pull_once(database_url: str) -> None:
    settings = {**FAST, "sync_poll_seconds": 0.01}
    cpos = [
        FakeParty(
            roles=[("CPO", "BE", f"CP{i}")],
            endpoints=CPO_ENDPOINTS,
            objects={"locations": [location(f"X{j}", cc="BE", pid=f"CP{i}") for j in range(25)]},
        )
        for i in range(4)
    ]
    async with (
        running_hub(database_url, **settings) as hub_a,
        running_hub(database_url, **settings) as hub_b,
        httpx.AsyncClient(timeout=10) as http,
    ):
        for cpo in cpos:
            async with running_party(cpo):
                await register(http, hub_a if cpos.index(cpo) % 2 else hub_b, cpo)
                platform_id = await platform_of(hub_a, cpo.roles[0][2])
                await job_when(hub_b, platform_id, {"done"})
                await asyncio.sleep(0.3)  # room for a second walk to show up
                # One walk of three pages, by one of the two instances.
                assert len(gets(cpo, "locations")) == 3
        jobs = await admin_get(None, hub_a, "/admin/syncs")
        assert len(jobs) == 4 and all(j["attempts"] == 1 for j in jobs)
