"""GET-all pages read as stored JSON text give what the objects hold, with the right totals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from app.hub.context import HubContext
from app.hub.store import service as store
from app.ocpi.headers import PartyRef
from app.ocpi.pagination import PageParams
from tests.conftest import running_hub

A = PartyRef("NL", "AAA")
B = PartyRef("DE", "BBB")
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[HubContext]:
    async with running_hub(database_url, delivery_enabled=False) as server:
        context: HubContext = server.app.state.hub
        async with context.sessions() as session:
            for i in range(25):
                owner = A if i % 3 else B
                stamp = START + timedelta(minutes=i)
                data = {
                    "id": f"LOC{i}",
                    "name": f'Caf\u00e9 {i} \u2013 "{i}"',
                    "coordinates": {"latitude": "52.1", "longitude": "4.2"},
                    "power": 22.5 + i,
                    "last_updated": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                await store.save(
                    session,
                    module="locations",
                    owner=owner,
                    key=f"LOC{i}",
                    data=data,
                    last_updated=stamp,
                    owner_platform_id=None,
                )
            # Another module's objects are not counted.
            await store.save(
                session,
                module="tariffs",
                owner=A,
                key="T1",
                data={"id": "T1"},
                last_updated=START,
                owner_platform_id=None,
            )
            await session.commit()
        yield context


@pytest.mark.parametrize(
    ("offset", "limit", "minutes_from", "minutes_to", "owners"),
    [
        (0, 10, None, None, None),
        (10, 10, None, None, None),
        (20, 10, None, None, None),
        (25, 10, None, None, None),
        (40, 10, None, None, None),
        (2, 5, 5, 20, None),
        (0, 100, None, None, [B]),
        (3, 3, None, 24, [A, B]),
        (0, 10, None, None, []),
    ],
)
async def test_json_pages_match_the_stored_objects(
    hub: HubContext,
    offset: int,
    limit: int,
    minutes_from: int | None,
    minutes_to: int | None,
    owners: list[PartyRef] | None,
) -> None:
    params = PageParams(
        offset=offset,
        limit=limit,
        date_from=None if minutes_from is None else START + timedelta(minutes=minutes_from),
        date_to=None if minutes_to is None else START + timedelta(minutes=minutes_to),
    )
    async with hub.sessions() as session:
        rows, total = await store.page(session, "locations", params, owners=owners)
        texts, json_total = await store.page_json(session, "locations", params, owners=owners)
    assert json_total == total
    assert [json.loads(t) for t in texts] == [r.data for r in rows]
    expected_total = {
        (None, None, None): 25,
        (5, 20, None): 15,
        (None, None, (B,)): 9,
        (None, 24, (A, B)): 24,
        (None, None, ()): 0,
    }[(minutes_from, minutes_to, None if owners is None else tuple(owners))]
    assert total == expected_total
