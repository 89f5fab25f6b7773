"""A partner token the hub cannot decrypt (it was stored with another secret key).

Before the key was checked, `voltroam party connect` run from another directory made a key of its
own and stored the partner's token with it. A database like that must not make the hub retry for
hours or answer 500: each place that needs the token says once, clearly, what is wrong.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.core.settings import Settings
from app.hub.alive import check_platforms
from app.hub.context import HubContext
from app.hub.parties import service as parties
from app.hub.parties.models import ConnectionStatus
from tests.conftest import running_party
from tests.hub.network import EMSP_ENDPOINTS, Network, location, network, wait_for
from tests.hub.test_sync_jobs import cpo_b, job_when
from tests.peers import FakeParty


async def connect_with_another_key(net: Network, party: FakeParty) -> int:
    """What `party connect` did in a directory with a key of its own: the partner's token is
    stored encrypted with a key the hub does not have."""
    assert net.hub.settings is not None
    party.accepted_tokens.add("token-a")
    settings = Settings(
        **{**net.hub.settings.model_dump(), "secret_key": "a-key-of-another-directory"}
    )
    ctx = HubContext.create(settings)
    try:
        async with ctx.sessions() as session:
            view = await parties.connect_to_party(
                session, ctx, f"{party.base_url}/versions", "token-a", None
            )
    finally:
        await ctx.close()
    assert view.platform.id is not None
    return view.platform.id


async def failed_deliveries(net: Network, platform_id: int) -> list[dict[str, Any]]:
    """The platform's failed Location pushes (its ClientInfo pushes fail alike)."""
    response = await net.http.get(
        f"{net.hub.base_url}/admin/deliveries",
        params={"status": "failed", "platform_id": platform_id},
        headers=net.admin,
    )
    return [row for row in response.json() if row["module"] == "locations"]


async def test_a_push_to_a_partner_whose_token_cannot_be_decrypted_fails_once(
    database_url: str,
) -> None:
    async with (
        network(database_url) as net,
        running_party(FakeParty(roles=[("EMSP", "DE", "EM3")], endpoints=EMSP_ENDPOINTS)) as em3,
    ):
        em3_id = await connect_with_another_key(net, em3)
        response = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"), json=location(), headers=net.auth(net.cpo)
        )
        assert response.json()["status_code"] == 1000
        await wait_for(lambda: len(net.emsp1.pushes("locations")) == 1)

        failed: list[dict[str, Any]] = []

        async def poll() -> None:
            while not failed:
                failed.extend(await failed_deliveries(net, em3_id))
                await asyncio.sleep(0.05)

        await asyncio.wait_for(poll(), 10)
        assert len(failed) == 1
        row = failed[0]
        assert row["attempts"] == 1
        assert "cannot be decrypted" in row["last_error"]
        assert "SECRET_KEY" in row["last_error"]
        await asyncio.sleep(0.5)  # no retry follows
        again = await failed_deliveries(net, em3_id)
        assert [r["attempts"] for r in again] == [1]
        assert em3.pushes() == []

        # The overview lists it among the failed deliveries, with the reason.
        overview = (
            await net.http.get(f"{net.hub.base_url}/admin/overview", headers=net.admin)
        ).json()
        [shown] = [d for d in overview["deliveries"]["recent_failed"] if d["id"] == row["id"]]
        assert shown["platform_id"] == em3_id and shown["attempts"] == 1
        assert "cannot be decrypted" in shown["last_error"]


async def test_a_directed_request_gets_an_ocpi_error_not_a_500(database_url: str) -> None:
    async with (
        network(database_url) as net,
        running_party(FakeParty(roles=[("EMSP", "DE", "EM3")], endpoints=EMSP_ENDPOINTS)) as em3,
    ):
        await connect_with_another_key(net, em3)
        headers = net.auth(net.cpo, to_country_code="DE", to_party_id="EM3")
        response = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC9"), json=location("LOC9"), headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status_code"] == 3000
        assert "cannot be decrypted" in body["status_message"]
        assert em3.pushes() == []


async def test_a_pull_from_a_cpo_whose_token_cannot_be_decrypted_fails_with_the_reason(
    database_url: str,
) -> None:
    async with network(database_url) as net, running_party(cpo_b()) as cpo:
        platform_id = await connect_with_another_key(net, cpo)
        job = await job_when(net.hub, platform_id, {"failed", "done"})
        assert job["state"] == "failed"
        assert "cannot be decrypted" in job["error"] and "SECRET_KEY" in job["error"]
        assert [c for c in cpo.calls if c.method == "GET" and "locations" in c.path] == []


async def test_the_still_alive_check_skips_a_partner_whose_token_cannot_be_decrypted(
    database_url: str,
) -> None:
    async with (
        network(database_url, alive_check_after_seconds=0) as net,
        running_party(FakeParty(roles=[("EMSP", "DE", "EM3")], endpoints=EMSP_ENDPOINTS)) as em3,
    ):
        em3_id = await connect_with_another_key(net, em3)
        checked = await check_platforms(net.ctx)
        # The others were checked; this one was left as it was (it could not be asked).
        assert em3_id not in checked and len(checked) == 3
        async with net.ctx.sessions() as session:
            view = await parties.get_platform(session, em3_id)
        assert view is not None and view.platform.status == ConnectionStatus.CONNECTED
