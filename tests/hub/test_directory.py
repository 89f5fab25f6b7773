"""Each instance caches the parties (app/hub/directory), and never uses them stale: a token
rotated or revoked, a platform suspended, through one instance or plain SQL, is refused by
another instance on the same database on its very next request."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text, update
from sqlmodel import col

from app.core.admin_auth import issue_admin_token
from app.hub.directory.models import UNWATCHED_PLATFORM_COLUMNS, WATCHED_PLATFORM_COLUMNS
from app.hub.parties.models import Platform
from tests.conftest import RunningServer, running_hub, running_party, token_header
from tests.hub.network import FAST, location, register
from tests.peers import FakeParty


def admin_headers(hub: RunningServer) -> dict[str, str]:
    assert hub.settings is not None
    return {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}


def ctx(hub: RunningServer) -> Any:
    return hub.app.state.hub


async def reads(http: httpx.AsyncClient, hub: RunningServer, token: str) -> int:
    """HTTP status of a functional-module call (the eMSP reads Locations)."""
    response = await http.get(
        f"{hub.base_url}/ocpi/2.2.1/sender/locations", headers=token_header(token)
    )
    if response.status_code == 200:
        assert response.json()["status_code"] == 1000, response.text
    return response.status_code


async def version(hub: RunningServer) -> int:
    async with ctx(hub).sessions() as session:
        value = (await session.exec(text("SELECT value FROM parties_version"))).scalar_one()
        return int(value)


async def test_another_instance_refuses_a_rotated_suspended_or_revoked_token_at_once(
    database_url: str,
) -> None:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        running_hub(database_url, **FAST) as a,
        running_hub(database_url, **FAST) as b,
        running_party(FakeParty(roles=[("EMSP", "NL", "EM1")])) as emsp,
    ):
        await register(http, a, emsp)
        old = emsp.hub_token
        assert old
        # B has the caller cached.
        assert await reads(http, b, old) == 200
        assert await reads(http, b, old) == 200

        # Rotated through A (PUT credentials): B refuses the old token, takes the new one.
        emsp.accepted_tokens.add("rotated-token-b-" + "x" * 16)
        response = await http.put(
            f"{a.base_url}/ocpi/2.2.1/credentials",
            json=emsp.credentials("rotated-token-b-" + "x" * 16),
            headers=token_header(old),
        )
        assert response.json()["status_code"] == 1000, response.text
        new = response.json()["data"]["token"]
        assert await reads(http, b, old) == 401
        assert await reads(http, b, new) == 200

        # Suspended through A's admin API, then resumed.
        [platform_id] = [
            p["id"]
            for p in (
                await http.get(f"{a.base_url}/admin/platforms", headers=admin_headers(a))
            ).json()
            if p["registered"]
        ]
        r = await http.post(
            f"{a.base_url}/admin/platforms/{platform_id}/suspend", headers=admin_headers(a)
        )
        assert r.status_code == 200, r.text
        assert await reads(http, b, new) == 401
        r = await http.post(
            f"{a.base_url}/admin/platforms/{platform_id}/resume", headers=admin_headers(a)
        )
        assert r.status_code == 200, r.text
        assert await reads(http, b, new) == 200

        # Changed with plain SQL, as an operator might: seen too.
        async with ctx(a).sessions() as session:
            await session.exec(
                update(Platform).where(col(Platform.id) == platform_id).values(status="SUSPENDED")
            )
            await session.commit()
        assert await reads(http, b, new) == 401
        async with ctx(a).sessions() as session:
            await session.exec(
                update(Platform).where(col(Platform.id) == platform_id).values(status="CONNECTED")
            )
            await session.commit()
        assert await reads(http, b, new) == 200

        # Revoked (DELETE credentials) through A.
        r = await http.delete(f"{a.base_url}/ocpi/2.2.1/credentials", headers=token_header(new))
        assert r.json()["status_code"] == 1000, r.text
        assert await reads(http, b, new) == 401


async def test_a_receiver_is_found_anew_when_its_roles_change(database_url: str) -> None:
    """A Location push announced to the eMSPs that are connected now, as B sees them."""
    async with (
        httpx.AsyncClient(timeout=10) as http,
        running_hub(database_url, **FAST) as a,
        running_hub(database_url, **FAST) as b,
        running_party(FakeParty(roles=[("CPO", "NL", "CPA")])) as cpo,
        running_party(
            FakeParty(roles=[("EMSP", "NL", "EM1")], endpoints=[("locations", "RECEIVER")])
        ) as emsp,
    ):
        await register(http, a, cpo)
        assert cpo.hub_token
        url = f"{b.base_url}/ocpi/2.2.1/receiver/locations/NL/CPA/LOC1"
        r = await http.put(url, json=location(), headers=token_header(cpo.hub_token))
        assert r.json()["status_code"] == 1000, r.text
        # No eMSP yet: B cached an empty list of receivers. It registers through A.
        await register(http, a, emsp)
        r = await http.put(url, json=location(), headers=token_header(cpo.hub_token))
        assert r.json()["status_code"] == 1000, r.text
        async with ctx(b).sessions() as session:
            queued = (
                await session.exec(text("SELECT count(*) FROM delivery WHERE module = 'locations'"))
            ).scalar_one()
        assert queued == 1


def test_every_platform_column_is_watched_or_said_not_to_be() -> None:
    columns = set(Platform.__table__.columns.keys())  # type: ignore[attr-defined]
    assert columns == WATCHED_PLATFORM_COLUMNS | UNWATCHED_PLATFORM_COLUMNS
    assert not WATCHED_PLATFORM_COLUMNS & UNWATCHED_PLATFORM_COLUMNS


async def test_the_triggers_watch_what_the_model_says(database_url: str) -> None:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        running_hub(database_url, **FAST) as hub,
        running_party(FakeParty(roles=[("EMSP", "NL", "EM1")])) as emsp,
    ):
        await register(http, hub, emsp)
        for column in sorted(WATCHED_PLATFORM_COLUMNS):
            before = await version(hub)
            async with ctx(hub).sessions() as session:
                # Set to what it is: the column is written, nothing changes.
                await session.exec(text(f"UPDATE platform SET {column} = {column}"))
                await session.commit()
            assert await version(hub) > before, column
        before = await version(hub)
        async with ctx(hub).sessions() as session:
            await session.exec(text("UPDATE platform SET last_seen_at = created_at"))
            await session.exec(text("UPDATE platform SET updated_at = created_at"))
            await session.commit()
        assert await version(hub) == before
        async with ctx(hub).sessions() as session:
            await session.exec(text("UPDATE platform_role SET party_id = party_id"))
            await session.commit()
        assert await version(hub) > before
