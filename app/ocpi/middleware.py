"""ASGI middlewares of the OCPI transport: URL shapes peers use, and request size.

Both work on the raw ASGI messages, before FastAPI routes a request or parses its body.
"""

from __future__ import annotations

import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.ocpi.envelope import ocpi_response
from app.ocpi.status import OcpiStatus
from app.ocpi.version import OCPI_PREFIX

_SLASHES = re.compile(r"/{2,}")
_RAW_SLASHES = re.compile(rb"/{2,}")


def is_ocpi_path(path: str) -> bool:
    return path == OCPI_PREFIX or path.startswith(OCPI_PREFIX + "/")


def canonical_path(path: str) -> str:
    """The path with every run of slashes as one slash and no trailing slash."""
    path = _SLASHES.sub("/", path)
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


def _canonical_raw(raw: bytes) -> bytes:
    raw = _RAW_SLASHES.sub(b"/", raw)
    return raw[:-1] if len(raw) > 1 and raw.endswith(b"/") else raw


class OcpiPathMiddleware:
    """Route both ways peers build URLs from the endpoints the hub advertises.

    The version details end every module URL with a slash, so a peer that concatenates
    (``url + "NL/CPA/LOC1"``) reaches the route; a peer that joins with a slash
    (``url + "/" + "NL/CPA/LOC1"``) sends a doubled slash, taken as one; a collection URL used as
    advertised (``.../sender/locations/``) is the collection. Every OCPI path is made canonical
    before routing, so what the hub answers (Link headers, ...) is built from the canonical form.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Nearly every request is canonical already: two substring checks, no regex.
        if (
            scope["type"] == "http"
            and ("//" in (path := scope["path"]) or (path.endswith("/") and len(path) > 1))
            and is_ocpi_path(path)
        ):
            path = canonical_path(path)
            if path != scope["path"]:
                scope = dict(scope)
                scope["path"] = path
                raw = scope.get("raw_path")
                if isinstance(raw, bytes):
                    scope["raw_path"] = _canonical_raw(raw)
        await self.app(scope, receive, send)


class RequestSizeLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` (MAX_REQUEST_BYTES) with HTTP 413.

    A body that announces a larger Content-Length is refused before a byte of it is read; one
    without (Transfer-Encoding: chunked) is counted as it streams in and refused as soon as it
    passes the limit, so no more than ``max_bytes`` of it is ever held. Either way nothing is
    parsed, so nothing is stored. On /ocpi the answer is the OCPI envelope (status 2000, the
    message names the limit); elsewhere (admin, payment webhooks, pages) ``{"detail": ...}``.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length" and declared is None:
                declared = value.decode("latin-1")
            elif name == b"transfer-encoding":
                chunked = True
        if declared is None and not chunked:
            # No Content-Length and no Transfer-Encoding: an HTTP/1.1 request without a body
            # (RFC 9112, 6.3), every GET. Nothing to count, nothing to hold and replay.
            await self.app(scope, receive, send)
            return
        if declared is not None and declared.strip().isdigit():
            # The server checks that the body matches its Content-Length: nothing to count.
            if int(declared) > self.max_bytes:
                await self._refuse(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away; nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"Request body larger than MAX_REQUEST_BYTES ({self.max_bytes} bytes)"
        # No "Connection: close": the server then discards the rest of the body as it arrives
        # (uvicorn drops request data once the response is complete) instead of resetting the
        # connection under a client that is still sending, which would never read this answer.
        if is_ocpi_path(scope["path"]):
            response = ocpi_response(None, OcpiStatus.CLIENT_ERROR, message, http_status=413)
        else:
            response = JSONResponse({"detail": message}, status_code=413)
        await response(scope, receive, send)
