"""The EVSE uid index: kept right by every way a Location is stored, filled by migration 0017,
and what the pay page's lookup (find_evses) reads instead of every Location's JSON."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import make_engine
from app.core.migrate import alembic_config, upgrade_to_head
from app.core.settings import Settings
from app.hub.store.evse_index import EvseIndex, evse_uids
from app.hub.store.models import OcpiObject
from app.ocpi.headers import PartyRef
from app.payments.evse import find_evses
from tests.hub.network import Network, evse, location, network


async def _index(net: Network) -> dict[str, set[str]]:
    """The index, by Location id, checked against the stored documents."""
    async with net.ctx.sessions() as session:
        rows = (
            await session.exec(select(OcpiObject).where(OcpiObject.module == "locations"))
        ).all()
        index = (await session.exec(select(EvseIndex))).all()
    by_row: dict[int | None, set[str]] = {row.id: set() for row in rows}
    for entry in index:
        by_row[entry.object_id].add(entry.evse_uid)
    for row in rows:
        assert by_row[row.id] == evse_uids(row.data), row.data
    return {row.object_key: by_row[row.id] for row in rows}


async def _found(net: Network, uid: str, cpo: PartyRef | None = None) -> list[tuple[str, str]]:
    async with net.ctx.sessions() as session:
        return [(str(c.location["id"]), c.uid) for c in await find_evses(session, uid, cpo)]


async def test_every_way_of_storing_a_location_keeps_the_index(database_url: str) -> None:
    async with network(database_url) as net:
        put = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"), json=location(), headers=net.auth(net.cpo)
        )
        assert put.status_code == 201, put.text
        assert await _index(net) == {"LOC1": {"EVSE1"}}
        assert await _found(net, "evse1") == [("LOC1", "EVSE1")]  # uids are CiStrings

        # A new EVSE by PUT of the EVSE object.
        put = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1/EVSE2"),
            json=evse("EVSE2", minutes=1),
            headers=net.auth(net.cpo),
        )
        assert put.status_code in (200, 201), put.text
        assert await _index(net) == {"LOC1": {"EVSE1", "EVSE2"}}

        # A status PATCH changes no uid; a REMOVED EVSE stays indexed but is not offered.
        patch = await net.http.patch(
            net.url("receiver/locations/NL/CPA/LOC1/EVSE2"),
            json={"status": "REMOVED", "last_updated": "2026-01-01T00:05:00Z"},
            headers=net.auth(net.cpo),
        )
        assert patch.status_code == 200, patch.text
        assert await _index(net) == {"LOC1": {"EVSE1", "EVSE2"}}
        assert await _found(net, "EVSE2") == []

        # A second Location with an EVSE of the same uid: both are found, or the CPO's one.
        put = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC2"),
            json=location("LOC2"),
            headers=net.auth(net.cpo),
        )
        assert put.status_code == 201, put.text
        assert sorted(await _found(net, "EVSE1")) == [("LOC1", "EVSE1"), ("LOC2", "EVSE1")]
        assert await _found(net, "EVSE1", PartyRef("DE", "XXX")) == []

        # PUT of the whole Location with other EVSEs replaces its uids.
        body = location(minutes=2)
        body["evses"] = [evse("EVSE3", minutes=2)]
        put = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"), json=body, headers=net.auth(net.cpo)
        )
        assert put.status_code == 200, put.text
        assert await _index(net) == {"LOC1": {"EVSE3"}, "LOC2": {"EVSE1"}}
        assert await _found(net, "EVSE1") == [("LOC2", "EVSE1")]
        assert await _found(net, "Evse3", PartyRef("NL", "CPA")) == [("LOC1", "EVSE3")]
        # Not a pattern: LIKE wildcards match nothing.
        assert await _found(net, "EVSE%") == []
        assert await _found(net, "EVSE_") == []


async def test_migration_0017_indexes_the_locations_stored_before(database_url: str) -> None:
    settings = Settings(database_url=database_url, secret_key="x")
    config = alembic_config(settings)
    await asyncio.to_thread(command.upgrade, config, "0011")
    objects = sa.table(
        "ocpi_object",
        sa.column("id", sa.Integer()),
        sa.column("module", sa.String()),
        sa.column("country_code", sa.String()),
        sa.column("party_id", sa.String()),
        sa.column("object_key", sa.String()),
        sa.column("subtype", sa.String()),
        sa.column("data", sa.JSON()),
        sa.column("last_updated", sa.DateTime(timezone=True)),
        sa.column("stored_at", sa.DateTime(timezone=True)),
    )
    when = datetime(2026, 1, 1, tzinfo=UTC)
    documents = [
        (1, "locations", {"id": "L1", "evses": [{"uid": "a1"}, {"uid": "B2"}, {"uid": "a1"}]}),
        (2, "locations", {"id": "L2", "evses": []}),
        (3, "locations", {"id": "L3", "evses": [{"uid": "C3", "status": "REMOVED"}]}),
        (4, "tariffs", {"id": "T1", "evses": [{"uid": "NOT-A-LOCATION"}]}),
    ]
    engine = make_engine(settings)
    try:
        async with AsyncSession(engine) as session:
            for object_id, module, data in documents:
                await session.exec(
                    sa.insert(objects).values(
                        id=object_id,
                        module=module,
                        country_code="NL",
                        party_id="CPA",
                        object_key=data["id"],
                        subtype="",
                        data=data,
                        last_updated=when,
                        stored_at=when,
                    )
                )
            await session.commit()
        await asyncio.to_thread(command.upgrade, config, "0017")
        async with AsyncSession(engine) as session:
            rows = (await session.exec(select(EvseIndex))).all()
        assert sorted((r.object_id, r.evse_uid) for r in rows) == [(1, "A1"), (1, "B2"), (3, "C3")]
    finally:
        await engine.dispose()
    # And on to the head, where the models agree with the schema (tests/core/test_migrations).
    await asyncio.to_thread(upgrade_to_head, settings)
