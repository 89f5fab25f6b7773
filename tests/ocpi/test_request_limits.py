"""Request size and duplicate ids inside one object (issue 14.7).

The largest legitimate object (a big Location) is far below MAX_REQUEST_BYTES (1 MB by default).
A bigger body is answered 413 before it is parsed, in the OCPI envelope on /ocpi paths and as a
plain ``{"detail": ...}`` elsewhere, whether it announces its length or streams chunked. EVSE
uids are unique within a Location and connector ids within an EVSE (mod_locations: "uid ...
Uniquely identifies the EVSE within the CPOs platform"; connector "id ... within the EVSE").
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from tests.hub.network import Network, connector, evse, location, network, wait_for

LIMIT = 1_000_000


def padded(document: dict[str, Any], size: int) -> bytes:
    """The JSON of ``document`` followed by whitespace (still valid JSON) up to ``size`` bytes."""
    raw = json.dumps(document).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


async def chunked(body: bytes, chunk: int = 65_536) -> AsyncIterator[bytes]:
    """The body as a stream without Content-Length (Transfer-Encoding: chunked)."""
    for start in range(0, len(body), chunk):
        yield body[start : start + chunk]


def headers(net: Network) -> dict[str, str]:
    return {**net.auth(net.cpo), "Content-Type": "application/json"}


async def deliveries(net: Network) -> int:
    response = await net.http.get(f"{net.hub.base_url}/admin/deliveries", headers=net.admin)
    return len(response.json())


async def test_bodies_over_the_limit_are_413_and_store_nothing(database_url: str) -> None:
    async with network(database_url) as net:
        assert net.hub.settings is not None and net.hub.settings.max_request_bytes == LIMIT
        url = net.url("receiver/locations/NL/CPA/BIG")
        queued = await deliveries(net)
        over = padded(location("BIG"), LIMIT + 1)
        huge = padded(location("BIG"), 4_400_000)  # what was found accepted
        for content in (huge, over, chunked(over)):
            response = await net.http.put(url, content=content, headers=headers(net))
            assert response.status_code == 413, response.text
            body = response.json()
            assert 2000 <= body["status_code"] < 3000 and "timestamp" in body
            assert str(LIMIT) in body["status_message"]
        assert "content-length" not in response.request.headers  # the second one streamed
        own = await net.http.get(url, headers=net.auth(net.cpo))
        assert own.json()["status_code"] == 2003  # nothing stored
        assert await deliveries(net) == queued  # nothing queued

        # Up to the limit is accepted, announced or streamed.
        exact = padded(location("BIG"), LIMIT)
        for content in (exact, chunked(exact)):
            response = await net.http.put(url, content=content, headers=headers(net))
            assert response.status_code in (200, 201), response.text
            assert response.json()["status_code"] == 1000
        stored = await net.http.get(url, headers=net.auth(net.cpo))
        assert stored.json()["data"]["id"] == "BIG"
        await wait_for(lambda: len(net.emsp1.pushes("locations")) >= 1)

        # Outside /ocpi: a plain 413.
        for path in ("/admin/invitations", "/payments/stripe/webhook"):
            response = await net.http.post(
                net.hub.base_url + path,
                content=chunked(b"{" + b" " * LIMIT + b"}"),
                headers={**net.admin, "Content-Type": "application/json"},
            )
            assert response.status_code == 413, (path, response.text)
            assert str(LIMIT) in response.json()["detail"]


async def test_duplicate_evse_uids_and_connector_ids_are_refused(database_url: str) -> None:
    async with network(database_url) as net:
        url = net.url("receiver/locations/NL/CPA/LOC1")
        ok = await net.http.put(url, json=location(), headers=net.auth(net.cpo))
        assert ok.json()["status_code"] == 1000
        stored = (await net.http.get(url, headers=net.auth(net.cpo))).json()["data"]
        queued = await deliveries(net)

        twice = [evse("EVSE1"), evse("evse1")]  # CiStrings: the same uid
        two_connectors = {**evse("EVSE2"), "connectors": [connector("1"), connector("1")]}
        refused: list[tuple[str, str, dict[str, Any], str]] = [
            ("PUT", "", location() | {"evses": twice}, "evses"),
            ("PUT", "", location() | {"evses": [two_connectors]}, "connectors"),
            ("PUT", "/EVSE2", two_connectors, "connectors"),
            ("PATCH", "", {"evses": twice, "last_updated": "2026-01-01T13:00:00Z"}, "evses"),
            ("PATCH", "/EVSE1", {"connectors": [connector("1"), connector("1")],
                                 "last_updated": "2026-01-01T13:00:00Z"}, "connectors"),
        ]  # fmt: skip
        for method, rest, body, field in refused:
            response = await net.http.request(
                method, url + rest, json=body, headers=net.auth(net.cpo)
            )
            answer = response.json()
            assert answer["status_code"] == 2001, (method, rest, answer)
            assert field in answer["status_message"], answer
        again = (await net.http.get(url, headers=net.auth(net.cpo))).json()["data"]
        assert again == stored
        assert await deliveries(net) == queued
