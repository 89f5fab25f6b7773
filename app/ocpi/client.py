"""The one outbound OCPI client: every call the hub makes to a partner goes through here.

It sets the Authorization header, routing headers and request ids; unwraps the response envelope;
walks paginated lists; and tolerates what real peers do (a ``data`` list of one where an object is
expected, missing headers, a broken ``Link``, advertised URLs with or without a trailing slash).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from app.core.ids import correlation_id_var, new_id
from app.core.metrics import HubMetrics
from app.ocpi.auth import encode_token
from app.ocpi.errors import InvalidParameters
from app.ocpi.headers import CORRELATION_ID, REQUEST_ID, RoutingHeaders
from app.ocpi.schemas.common import check_path_segment
from app.ocpi.status import OcpiStatus, is_success
from app.ocpi.wire import (
    StaleConnection,
    WireClient,
    WireError,
    WireResponse,
    WireTimeout,
    with_params,
)

log = logging.getLogger("voltroam.ocpi.client")

# A page of a GET-all is asked at most this often, waiting PAGE_RETRY_SECONDS x attempt between.
PAGE_ATTEMPTS = 3
PAGE_RETRY_SECONDS = 0.5
# The version whose partners get no 2.2.1 headers (see OcpiClient.request).
LEGACY_VERSION = "2.1.1"


class PeerError(Exception):
    """The partner could not be used: unreachable, timed out, or not speaking OCPI."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "unreachable" | "timeout" | "bad_response"
        self.message = message


@dataclass
class OcpiReply:
    http_status: int
    status_code: int
    status_message: str | None
    data: Any
    headers: httpx.Headers = field(default_factory=httpx.Headers)

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300 and is_success(self.status_code)

    def one(self) -> Any:
        """``data`` as a single object; a list of one (seen in the field) is unwrapped."""
        if isinstance(self.data, list) and len(self.data) == 1:
            return self.data[0]
        return self.data

    def many(self) -> list[Any]:
        """``data`` as a list; a bare object is a list of one, nothing is an empty list."""
        if self.data is None:
            return []
        if isinstance(self.data, list):
            return self.data
        return [self.data]


def path_segment(value: str) -> str:
    """One id as one path segment, percent-encoded.

    RFC 3986 leaves only unreserved characters as they are; ``?``, ``#``, ``%``, spaces,
    backslashes and the rest of printable ASCII (all valid in a CiString) are escaped, so an id
    can neither end the path nor start a query. What no encoding carries (``.``, ``..``, ``/``)
    is refused with 2001; validated input never gets here with it.
    """
    try:
        check_path_segment(value)
    except ValueError as exc:
        raise InvalidParameters(str(exc)) from None
    return quote(value, safe="")


def url_path(*values: str) -> str:
    """The path the hub appends to a partner's endpoint URL, built from data (ids, country codes,
    party ids): every value one encoded segment. Pass the result to ``join_url``."""
    return "/".join(path_segment(value) for value in values)


def join_url(base: str, *parts: str) -> str:
    """Append already-encoded paths (see ``url_path``) to an advertised URL whether or not it
    ends with a slash."""
    url = base.rstrip("/")
    for part in parts:
        url += "/" + part.strip("/")
    return url


def _is_envelope(response: WireResponse) -> bool:
    try:
        body = response.json() if response.content else None
    except ValueError:
        return False
    return isinstance(body, dict) and "status_code" in body


def _may_try_other_spelling(method: str, response: WireResponse) -> bool:
    """Whether a request may be sent again with the other trailing-slash spelling.

    Only a GET (safe to repeat), and only when the answer is a missing route rather than an OCPI
    answer: a 404 with an envelope is the partner's word (2003 unknown Location, 2004 unknown
    Token, ...), and a POST, PUT, PATCH or DELETE sent again to another route could run what the
    partner refused ("never resend a non-idempotent request on a guess").
    """
    return method == "GET" and response.status_code in (404, 405) and not _is_envelope(response)


def _toggle_trailing_slash(url: str) -> str:
    scheme, netloc, path, query, fragment = urlsplit(url)
    path = path[:-1] if path.endswith("/") else path + "/"
    return urlunsplit((scheme, netloc, path, query, fragment))


class OcpiClient:
    """Thin OCPI layer over a shared :class:`WireClient` (connection pooling across calls)."""

    def __init__(
        self, http: WireClient, timeout: float = 10.0, metrics: HubMetrics | None = None
    ) -> None:
        self.http = http
        self.timeout = timeout
        self.metrics = metrics

    async def request(
        self,
        method: str,
        url: str,
        token: str | None,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        routing: RoutingHeaders | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        module: str = "other",
        request_id: str | None = None,
        version: str | None = None,
    ) -> OcpiReply:
        """``version``: the partner's OCPI version. To a 2.1.1 partner the hub sends none of the
        headers 2.1.1 does not have (routing headers, X-Request-ID, X-Correlation-ID) and the
        token as it is: 2.1.1's Authorization header is ``Token <token>``, not Base64
        (transport_and_format.md, "Authorization header")."""
        legacy = version == LEGACY_VERSION
        out_headers: dict[str, str] = {}
        if not legacy:
            # A new X-Request-ID on every hop; the correlation id is kept across hops. A resend
            # of a stored push gives the id of its first attempt, so the receiver sees a repeat.
            out_headers[REQUEST_ID] = request_id or new_id()
            out_headers[CORRELATION_ID] = correlation_id_var.get() or new_id()
        if token is not None:
            out_headers["Authorization"] = f"Token {token}" if legacy else encode_token(token)
        if routing is not None and not legacy:
            out_headers.update(routing.as_headers())
        if headers:
            out_headers.update(headers)
        try:
            response = await self._send(method, url, out_headers, json, params, timeout)
            if _may_try_other_spelling(method, response):
                # Advertised URLs come with or without a trailing slash, and not every server
                # redirects: a GET that found no route is tried once with the other spelling.
                retry = await self._send(
                    method, _toggle_trailing_slash(url), out_headers, json, params, timeout
                )
                if retry.status_code not in (404, 405):
                    response = retry
            reply = self._unwrap(method, url, response)
        except PeerError as exc:
            self._count(module, exc.kind, "")
            raise
        self._count(module, str(reply.http_status), str(reply.status_code))
        return reply

    def _count(self, module: str, http_status: str, ocpi_status: str) -> None:
        if self.metrics is not None:
            self.metrics.count_ocpi_request(module, "outbound", http_status, ocpi_status)

    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        json: Any,
        params: dict[str, Any] | None,
        timeout: float | None,
    ) -> WireResponse:
        def send() -> Awaitable[WireResponse]:
            return self.http.request(
                method,
                url,
                headers=headers,
                json=json,
                params=params,
                timeout=timeout if timeout is not None else self.timeout,
            )

        try:
            try:
                return await send()
            except StaleConnection as exc:
                if method != "GET":
                    raise
                # A kept-alive connection the partner (or a proxy in front of it) closed just as
                # the request went out: the server sent nothing. A GET is safe to repeat, and
                # the pool opens a fresh connection for it; anything else is not sent again on this
                # guess ("never resend a non-idempotent request on a guess"): its caller (or the
                # outbox, for pushes) decides.
                log.debug("GET %s: %s on a pooled connection, sent once more", url, exc)
                return await send()
        except WireTimeout as exc:
            raise PeerError("timeout", f"{method} {url} timed out") from exc
        except (WireError, ValueError) as exc:
            raise PeerError("unreachable", f"{method} {url} failed: {type(exc).__name__}") from exc

    @staticmethod
    def _unwrap(method: str, url: str, response: WireResponse) -> OcpiReply:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if isinstance(body, dict) and "status_code" in body:
            try:
                status_code = int(body["status_code"])
            except (TypeError, ValueError):
                status_code = int(OcpiStatus.SERVER_ERROR)
            message = body.get("status_message")
            return OcpiReply(
                http_status=response.status_code,
                status_code=status_code,
                status_message=message if isinstance(message, str) else None,
                data=body.get("data"),
                headers=response.headers,
            )
        if 200 <= response.status_code < 300:
            raise PeerError("bad_response", f"{method} {url} answered without an OCPI envelope")
        # An HTTP error without an envelope (a proxy's 502, a framework's 401 page, ...).
        return OcpiReply(
            http_status=response.status_code,
            status_code=int(OcpiStatus.SERVER_ERROR)
            if response.status_code >= 500
            else int(OcpiStatus.CLIENT_ERROR),
            status_message=f"HTTP {response.status_code}",
            data=None,
            headers=response.headers,
        )

    async def get_all(
        self,
        url: str,
        token: str | None,
        *,
        params: dict[str, Any] | None = None,
        routing: RoutingHeaders | None = None,
        max_pages: int = 100_000,
        module: str = "other",
        on_page: Callable[[int, int, int | None], Awaitable[None] | None] | None = None,
        version: str | None = None,
    ) -> AsyncIterator[Any]:
        """Yield every object of a paginated GET-all.

        Follows ``Link: <...>; rel="next"`` when present and sane; otherwise (no Link, or a Link
        pointing elsewhere, as some peers send) walks by offset until ``X-Total-Count`` objects
        were read or a page comes back empty.

        ``on_page(pages, objects, total)`` is called (and awaited, when it is a coroutine
        function) once the objects of each page were consumed: pages and objects read so far,
        and the page's X-Total-Count (None when absent).
        """
        query = dict(params or {})
        offset = int(query.get("offset", 0))
        next_url: str | None = url
        pages = 0
        seen = 0
        while next_url is not None and pages < max_pages:
            call_params = None if next_url != url else {**query, "offset": offset}
            reply = await self._get_page(next_url, token, call_params, routing, module, version)
            if not reply.ok:
                raise PeerError(
                    "bad_response",
                    f"GET {next_url}: HTTP {reply.http_status}, OCPI {reply.status_code}"
                    f" {reply.status_message or ''}".strip(),
                )
            items = reply.many()
            for item in items:
                yield item
            pages += 1
            seen += len(items)
            offset += len(items)
            total = _int_header(reply.headers, "X-Total-Count")
            if on_page is not None:
                told = on_page(pages, seen, total)
                if told is not None:
                    await told
            if not items or (total is not None and seen >= total):
                return
            link = _next_link(reply.headers.get("Link"), url)
            if link is not None:
                next_url = link
            elif total is not None:
                # No usable Link but more objects announced: ask for the next offset ourselves.
                next_url = with_params(url, {**query, "offset": offset})
            else:
                return

    async def _get_page(
        self,
        url: str,
        token: str | None,
        params: dict[str, Any] | None,
        routing: RoutingHeaders | None,
        module: str,
        version: str | None,
    ) -> OcpiReply:
        """One page of a GET-all, asked again after a timeout, a lost connection or a gateway's
        502/503/504. A GET changes nothing on the peer, so asking again is safe; a
        peer that is slow for a moment must not end a walk of thousands of objects."""
        for attempt in range(1, PAGE_ATTEMPTS + 1):
            try:
                reply = await self.request(
                    "GET",
                    url,
                    token,
                    params=params,
                    routing=routing,
                    module=module,
                    version=version,
                )
            except PeerError as exc:
                if exc.kind == "bad_response" or attempt == PAGE_ATTEMPTS:
                    raise
                log.info("GET %s: %s; asking again (attempt %s)", url, exc.kind, attempt + 1)
            else:
                if reply.http_status not in (502, 503, 504) or attempt == PAGE_ATTEMPTS:
                    return reply
            await asyncio.sleep(PAGE_RETRY_SECONDS * attempt)
        raise AssertionError("unreachable")  # pragma: no cover


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(headers.get(name, ""))
    except ValueError:
        return None


def _next_link(header: str | None, base: str) -> str | None:
    """The rel="next" target of a Link header, if it points at the same host as ``base``."""
    if not header:
        return None
    for part in header.split(","):
        segments = [s.strip() for s in part.split(";")]
        target = segments[0]
        if not (target.startswith("<") and target.endswith(">")):
            continue
        if not any(s.replace(" ", "") in ('rel="next"', "rel=next") for s in segments[1:]):
            continue
        link = target[1:-1].strip()
        if urlsplit(link).netloc and urlsplit(link).netloc == urlsplit(base).netloc:
            return link
        return None
    return None
