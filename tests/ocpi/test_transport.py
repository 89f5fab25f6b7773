"""Transport rules: envelope, status codes, auth header, ids, routing headers, pagination."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.settings import Settings
from app.hub.auth import Caller, get_session, registered_caller
from app.hub.parties.models import Platform
from app.main import create_app
from app.ocpi.auth import encode_token, token_candidates
from app.ocpi.envelope import ocpi_response
from app.ocpi.headers import RoutingHeaders
from app.ocpi.pagination import PageParams, fetch_page, page_params, paginated_response
from app.ocpi.schemas.common import format_datetime, parse_datetime
from tests.conftest import (
    RunningServer,
    free_port,
    hub_settings,
    invite,
    running_party,
    serve,
    token_header,
)
from tests.peers import FakeParty


def test_token_candidates() -> None:
    encoded = base64.b64encode(b"example-token").decode()
    assert token_candidates(f"Token {encoded}") == ["example-token", encoded]
    # The spec's own example encodes a trailing newline.
    assert token_candidates("Token ZXhhbXBsZS10b2tlbgo=")[0] == "example-token"
    assert token_candidates("Token raw-token-not-base64!") == ["raw-token-not-base64!"]
    assert token_candidates("token abc")[-1] == "abc"
    assert token_candidates("Bearer abc") == []
    assert token_candidates(None) == []
    assert encode_token("example-token") == "Token ZXhhbXBsZS10b2tlbg=="


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-29T20:39:09Z", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T20:39:09", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2016-12-29T17:45:09.2Z", datetime(2016, 12, 29, 17, 45, 9, 200000, tzinfo=UTC)),
        ("2016-12-29T17:45:09.2", datetime(2016, 12, 29, 17, 45, 9, 200000, tzinfo=UTC)),
        ("2018-01-01T01:08:01.123Z", datetime(2018, 1, 1, 1, 8, 1, 123000, tzinfo=UTC)),
        ("2018-01-01T03:08:01+02:00", datetime(2018, 1, 1, 1, 8, 1, tzinfo=UTC)),
    ],
)
def test_datetime_parsing(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("text", ["2015-06-29", "yesterday", "2015-13-29T20:39:09Z", ""])
def test_datetime_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_datetime_output_is_utc_with_z() -> None:
    plus_two = datetime(2020, 1, 1, 12, 0, 0, tzinfo=UTC).astimezone(
        datetime.now(UTC).astimezone().tzinfo
    )
    assert format_datetime(plus_two) == "2020-01-01T12:00:00Z"
    assert format_datetime(datetime(2020, 1, 1, 12, 0, 0, 250000, tzinfo=UTC)) == (
        "2020-01-01T12:00:00.25Z"
    )


async def test_request_ids_are_echoed_or_generated(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    response = await http.get(
        hub.versions_url, headers={"X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"}
    )
    assert response.headers["X-Request-ID"] == "req-1"
    assert response.headers["X-Correlation-ID"] == "corr-1"
    generated = await http.get(hub.versions_url)
    assert len(generated.headers["X-Request-ID"]) == 36
    assert len(generated.headers["X-Correlation-ID"]) == 36


async def test_outbound_calls_get_new_request_id_and_keep_correlation_id(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    token_a = await invite(http, hub)
    async with running_party(FakeParty()) as party:
        auth = token_header(token_a)
        details = (await http.get(f"{hub.base_url}/ocpi/2.2.1", headers=auth)).json()["data"]
        cred_url = details["endpoints"][0]["url"]
        token_b = "token-b-" + "y" * 30
        party.accepted_tokens.add(token_b)
        response = await http.post(
            cred_url,
            json=party.credentials(token_b),
            headers={**auth, "X-Request-ID": "incoming-req", "X-Correlation-ID": "corr-42"},
        )
        assert response.json()["status_code"] == 1000
    onward = [c for c in party.calls if c.path in ("/versions", "/2.2.1")]
    assert onward
    for call in onward:
        assert call.headers["x-correlation-id"] == "corr-42"
        assert call.headers["x-request-id"] not in ("incoming-req", "")
        assert call.headers["authorization"] == encode_token(token_b)


async def test_version_details_list_hub_endpoints(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    token_a = await invite(http, hub)
    response = await http.get(f"{hub.base_url}/ocpi/2.2.1", headers=token_header(token_a))
    body = response.json()
    assert body["status_code"] == 1000
    assert body["timestamp"].endswith("Z")
    assert body["data"]["version"] == "2.2.1"
    identifiers = {e["identifier"] for e in body["data"]["endpoints"]}
    assert "credentials" in identifiers
    for endpoint in body["data"]["endpoints"]:
        assert endpoint["url"].startswith(hub.base_url)


def test_routing_headers_parse_and_write() -> None:
    from starlette.datastructures import Headers

    headers = Headers(
        {
            "ocpi-from-country-code": "nl",
            "ocpi-from-party-id": "abc",
            "OCPI-to-country-code": "DE",
            "OCPI-to-party-id": "XYZ",
        }
    )
    routing = RoutingHeaders.from_headers(headers)
    assert str(routing.from_party) == "NL*ABC" and str(routing.to_party) == "DE*XYZ"
    assert routing.reversed().as_headers() == {
        "OCPI-from-country-code": "DE",
        "OCPI-from-party-id": "XYZ",
        "OCPI-to-country-code": "NL",
        "OCPI-to-party-id": "ABC",
    }
    assert RoutingHeaders.from_headers(Headers({})).as_headers() == {}


def _probe_app(database_url: str, port: int, **overrides: object) -> tuple[Settings, object]:
    """The hub app plus two probe routes that use the functional-module building blocks."""
    settings = hub_settings(database_url, port, **overrides)
    app = create_app(settings)

    @app.get("/ocpi/2.2.1/probe")
    async def probe(caller: Caller = Depends(registered_caller)) -> JSONResponse:
        return ocpi_response({"platform": caller.platform.id})

    @app.get("/ocpi/2.2.1/probe-page")
    async def probe_page(
        request: Request,
        params: PageParams = Depends(page_params),
        session: AsyncSession = Depends(get_session),
    ) -> JSONResponse:
        rows, total = await fetch_page(
            session, select(Platform), col(Platform.updated_at), col(Platform.id), params
        )
        return paginated_response(
            request, [{"id": r.id, "name": r.name} for r in rows], total, params
        )

    return settings, app


async def test_token_a_on_a_functional_module_is_401(
    database_url: str, http: httpx.AsyncClient
) -> None:
    port = free_port()
    settings, app = _probe_app(database_url, port)
    async with serve(app, port):  # type: ignore[arg-type]
        hub = RunningServer(app=app, base_url=settings.base_url, settings=settings)  # type: ignore[arg-type]
        token_a = await invite(http, hub)
        probe = f"{hub.base_url}/ocpi/2.2.1/probe"
        assert (await http.get(probe, headers=token_header(token_a))).status_code == 401
        async with running_party(FakeParty()) as party:
            await party.register_with(http, hub.versions_url, token_a)
        assert party.hub_token
        ok = await http.get(probe, headers=token_header(party.hub_token))
        assert ok.status_code == 200 and ok.json()["status_code"] == 1000
        # Suspended platforms are refused.
        from app.core.admin_auth import issue_admin_token

        admin = {"Authorization": f"Bearer {issue_admin_token(settings)}"}
        pid = ok.json()["data"]["platform"]
        await http.post(f"{hub.base_url}/admin/platforms/{pid}/suspend", headers=admin)
        assert (await http.get(probe, headers=token_header(party.hub_token))).status_code == 401
        await http.post(f"{hub.base_url}/admin/platforms/{pid}/resume", headers=admin)
        assert (await http.get(probe, headers=token_header(party.hub_token))).status_code == 200


async def test_expired_token_a_is_401(database_url: str, http: httpx.AsyncClient) -> None:
    port = free_port()
    settings, app = _probe_app(database_url, port)
    async with serve(app, port):  # type: ignore[arg-type]
        hub = RunningServer(app=app, base_url=settings.base_url, settings=settings)  # type: ignore[arg-type]
        token_a = await invite(http, hub)
        async with app.state.hub.sessions() as session:  # type: ignore[attr-defined]
            platform = (await session.exec(select(Platform))).one()
            platform.inbound_token_expires_at = datetime.now(UTC) - timedelta(seconds=1)
            session.add(platform)
            await session.commit()
        assert (await http.get(hub.versions_url, headers=token_header(token_a))).status_code == 401


async def test_pagination_headers_and_link(database_url: str, http: httpx.AsyncClient) -> None:
    port = free_port()
    settings, app = _probe_app(database_url, port, ocpi_max_page_size=3)
    async with serve(app, port):  # type: ignore[arg-type]
        hub = RunningServer(app=app, base_url=settings.base_url, settings=settings)  # type: ignore[arg-type]
        token_a = await invite(http, hub, "p0")
        async with running_party(FakeParty()) as party:
            await party.register_with(http, hub.versions_url, token_a)
        auth = token_header(party.hub_token or "")
        base = datetime(2020, 1, 1, tzinfo=UTC)
        async with app.state.hub.sessions() as session:  # type: ignore[attr-defined]
            for i in range(1, 8):
                session.add(Platform(name=f"p{i}", updated_at=base + timedelta(hours=i)))
            await session.commit()
        url = f"{hub.base_url}/ocpi/2.2.1/probe-page"

        # limit above the server maximum is capped; X-Limit says so.
        first = await http.get(
            url, params={"limit": 50, "date_from": "2020-01-01T02:00:00Z"}, headers=auth
        )
        assert first.headers["X-Limit"] == "3"
        # p2..p7 plus p0 (updated now): date_from is inclusive.
        assert first.headers["X-Total-Count"] == "7"
        assert [d["name"] for d in first.json()["data"]] == ["p2", "p3", "p4"]
        link = first.headers["Link"]
        assert link.startswith(f"<{hub.base_url}/ocpi/2.2.1/probe-page?")
        assert 'rel="next"' in link and "date_from=2020-01-01T02%3A00%3A00Z" in link
        assert "offset=3" in link and "limit=3" in link

        # date_to is exclusive; walking the Link reaches the end, the last page has no Link.
        params = {"date_from": "2020-01-01T02:00:00", "date_to": "2020-01-01T07:00:00Z"}
        seen: list[str] = []
        next_url: str | None = url
        query: dict[str, str] | None = params
        while next_url:
            page = await http.get(next_url, params=query, headers=auth)
            seen += [d["name"] for d in page.json()["data"]]
            assert page.headers["X-Total-Count"] == "5"
            link = page.headers.get("Link")
            next_url = link[1 : link.index(">")] if link else None
            query = None
        assert seen == ["p2", "p3", "p4", "p5", "p6"]

        bad = await http.get(url, params={"date_from": "last tuesday"}, headers=auth)
        assert bad.status_code == 200 and bad.json()["status_code"] == 2001
        negative = await http.get(url, params={"offset": -1}, headers=auth)
        assert negative.json()["status_code"] == 2001
