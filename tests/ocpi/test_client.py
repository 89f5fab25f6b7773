"""The outbound client against real, quirky OCPI servers (and raw TCP peers where a fault is
needed: silence, a connection closed under a request)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from app.ocpi.client import OcpiClient, PeerError, join_url, url_path
from app.ocpi.errors import OcpiError
from app.ocpi.wire import WireClient
from tests import raw_http
from tests.conftest import free_port, serve
from tests.peers import envelope
from tests.raw_http import Peer, peer, reply

TOTAL = 23


def quirky_app(port: int) -> FastAPI:
    app = FastAPI(redirect_slashes=False)
    items = [{"id": str(i)} for i in range(TOTAL)]

    @app.get("/good/items")
    async def good(request: Request, offset: int = 0, limit: int = 10) -> JSONResponse:
        page = items[offset : offset + limit]
        response = envelope(page)
        response.headers["X-Total-Count"] = str(TOTAL)
        if offset + limit < TOTAL:
            target = f"http://127.0.0.1:{port}/good/items?offset={offset + limit}&limit={limit}"
            response.headers["Link"] = f'<{target}>; rel="next"'
        return response

    @app.get("/broken-link/items")
    async def broken(offset: int = 0) -> JSONResponse:
        # A Link to a host that does not exist, and pages of 5 whatever was asked.
        response = envelope(items[offset : offset + 5])
        response.headers["X-Total-Count"] = str(TOTAL)
        response.headers["Link"] = '<https://internal.invalid/items?page=2>; rel="next"'
        return response

    @app.get("/no-headers/items")
    async def no_headers(offset: int = 0) -> JSONResponse:
        return envelope(items[offset : offset + 7])

    @app.get("/one")
    async def one() -> JSONResponse:
        return envelope([{"id": "only"}])

    @app.get("/slash/")
    async def slash() -> JSONResponse:
        return envelope({"ok": True})

    @app.get("/not-ocpi")
    async def not_ocpi() -> PlainTextResponse:
        return PlainTextResponse("hello")

    @app.get("/proxy-error")
    async def proxy_error() -> PlainTextResponse:
        return PlainTextResponse("bad gateway", status_code=502)

    slow_once: set[int] = set()

    @app.get("/slow-once/items")
    async def slow_once_items(offset: int = 0) -> JSONResponse:
        # The second page is slower than the client waits, the first time it is asked.
        if offset == 10 and offset not in slow_once:
            slow_once.add(offset)
            await asyncio.sleep(1.5)
        response = envelope(items[offset : offset + 10])
        response.headers["X-Total-Count"] = str(TOTAL)
        return response

    flaky_gateway: list[int] = []

    @app.get("/gateway-once/items")
    async def gateway_once(offset: int = 0) -> Any:
        if offset == 20 and not flaky_gateway:
            flaky_gateway.append(offset)
            return PlainTextResponse("service unavailable", status_code=503)
        response = envelope(items[offset : offset + 10])
        response.headers["X-Total-Count"] = str(TOTAL)
        return response

    @app.get("/echo")
    async def echo(request: Request) -> JSONResponse:
        return envelope(dict(request.headers))

    return app


@pytest.fixture
async def quirky() -> AsyncIterator[tuple[str, OcpiClient]]:
    port = free_port()
    async with serve(quirky_app(port), port), WireClient() as http:
        yield f"http://127.0.0.1:{port}", OcpiClient(http, timeout=5)


async def collect(client: OcpiClient, url: str, **kwargs: Any) -> list[str]:
    return [item["id"] async for item in client.get_all(url, "tok", **kwargs)]


async def test_walks_link_headers(quirky: tuple[str, OcpiClient]) -> None:
    base, client = quirky
    assert await collect(client, f"{base}/good/items") == [str(i) for i in range(TOTAL)]


async def test_broken_link_falls_back_to_offsets(quirky: tuple[str, OcpiClient]) -> None:
    base, client = quirky
    assert await collect(client, f"{base}/broken-link/items") == [str(i) for i in range(TOTAL)]


async def test_a_page_that_timed_out_or_met_a_gateway_error_is_asked_again() -> None:
    # A GET changes nothing: one slow page must not end the walk (a pull of thousands of
    # Locations from a CPO that is busy for a moment).
    port = free_port()
    async with serve(quirky_app(port), port), WireClient() as http:
        client = OcpiClient(http, timeout=1)
        base = f"http://127.0.0.1:{port}"
        everything = [str(i) for i in range(TOTAL)]
        assert await collect(client, f"{base}/slow-once/items") == everything
        assert await collect(client, f"{base}/gateway-once/items") == everything


async def test_no_pagination_headers_reads_until_an_empty_page(
    quirky: tuple[str, OcpiClient],
) -> None:
    base, client = quirky
    # Without X-Total-Count or Link the client cannot know there is more: it reads one page.
    assert await collect(client, f"{base}/no-headers/items") == [str(i) for i in range(7)]


async def test_list_of_one_where_an_object_is_expected(quirky: tuple[str, OcpiClient]) -> None:
    base, client = quirky
    reply = await client.request("GET", f"{base}/one", "tok")
    assert reply.ok and reply.one() == {"id": "only"}


async def test_trailing_slash_difference_is_tolerated(quirky: tuple[str, OcpiClient]) -> None:
    base, client = quirky
    reply = await client.request("GET", f"{base}/slash", "tok")
    assert reply.ok and reply.one() == {"ok": True}


async def test_sets_auth_and_ids(quirky: tuple[str, OcpiClient]) -> None:
    base, client = quirky
    reply = await client.request("GET", f"{base}/echo", "example-token")
    headers = reply.one()
    assert headers["authorization"] == "Token ZXhhbXBsZS10b2tlbg=="
    assert len(headers["x-request-id"]) == 36 and len(headers["x-correlation-id"]) == 36


async def test_non_ocpi_and_http_errors(quirky: tuple[str, OcpiClient]) -> None:
    base, client = quirky
    with pytest.raises(PeerError) as info:
        await client.request("GET", f"{base}/not-ocpi", "tok")
    assert info.value.kind == "bad_response"
    reply = await client.request("GET", f"{base}/proxy-error", "tok")
    assert not reply.ok and reply.http_status == 502 and reply.status_code == 3000


async def test_unreachable_and_timeout() -> None:
    async def silent(request: raw_http.Request, writer: asyncio.StreamWriter) -> bool:
        # Reads the request and never answers (a partner hanging on its database).
        await asyncio.sleep(30)
        return False

    async with peer(silent) as p, WireClient() as http:
        client = OcpiClient(http, timeout=0.5)
        with pytest.raises(PeerError) as info:
            await client.request("GET", f"http://127.0.0.1:{free_port()}/versions", "tok")
        assert info.value.kind == "unreachable"
        with pytest.raises(PeerError) as info:
            await client.request("GET", f"{p.base}/versions", "tok")
        assert info.value.kind == "timeout"
        assert len(p.requests) == 1  # a timeout is not a closed connection: not asked again


def test_join_url() -> None:
    assert join_url("http://a/b/", "NL", "ABC", "1") == "http://a/b/NL/ABC/1"
    assert join_url("http://a/b", "/x/") == "http://a/b/x"


def test_url_path_encodes_every_segment() -> None:
    assert url_path("NL", "CPA", "a?b=c", "a#b") == "NL/CPA/a%3Fb%3Dc/a%23b"
    assert url_path("a%b", "..\\..\\x", "a b", "x~y-z_1.2") == "a%25b/..%5C..%5Cx/a%20b/x~y-z_1.2"
    for value in (".", "..", "a/b"):
        with pytest.raises(OcpiError) as info:
            url_path("NL", "CPA", value)
        assert info.value.status_code == 2001


async def answers_once_per_connection(
    request: raw_http.Request, writer: asyncio.StreamWriter
) -> bool:
    """A partner behind a proxy whose idle timeout is shorter than the hub's: each connection
    answers its first request (keep-alive, no ``Connection: close``) and is closed without an
    answer when a second request arrives on it, as if the close crossed that request."""
    if request.sequence > 1:
        return False  # closed without a word
    writer.write(
        reply(200, b'{"data":{"ok":true},"status_code":1000,"timestamp":"2026-11-29T00:00:00Z"}')
    )
    return True


@pytest.fixture
async def closing_peer() -> AsyncIterator[Peer]:
    async with peer(answers_once_per_connection) as p:
        yield p


async def test_a_get_on_a_connection_closed_under_it_is_sent_once_more_on_a_new_one(
    closing_peer: Peer,
) -> None:
    base = closing_peer.base
    async with WireClient() as http:
        client = OcpiClient(http, timeout=5)
        for _ in range(3):
            reply = await client.request("GET", f"{base}/versions", "t")
            assert reply.data == {"ok": True}
    # The 2nd and 3rd GETs met a closed connection first: 5 GETs arrived, on 3 connections.
    assert [r.method for r in closing_peer.requests] == ["GET"] * 5
    assert closing_peer.connections == 3


async def test_a_post_on_a_connection_closed_under_it_is_not_sent_again(
    closing_peer: Peer,
) -> None:
    base = closing_peer.base
    async with WireClient() as http:
        client = OcpiClient(http, timeout=5)
        url = f"{base}/commands/START_SESSION"
        first = await client.request("POST", url, "t", json={"a": 1})
        assert first.data == {"ok": True}
        with pytest.raises(PeerError) as failed:
            await client.request("POST", url, "t", json={"a": 1})
        assert failed.value.kind == "unreachable"
    # The partner got the second POST once: whether it ran it is unknown, so it is not resent.
    assert [r.method for r in closing_peer.requests] == ["POST", "POST"]
    assert closing_peer.connections == 1
