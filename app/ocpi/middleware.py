"""ASGI middlewares of the OCPI transport: URL shapes peers use, and request size.

Both work on the raw ASGI messages, before FastAPI routes a request or parses its body.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

OCPI_PREFIX = "/ocpi"

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
        if scope["type"] == "http" and is_ocpi_path(scope["path"]):
            path = canonical_path(scope["path"])
            if path != scope["path"]:
                scope = dict(scope)
                scope["path"] = path
                raw = scope.get("raw_path")
                if isinstance(raw, bytes):
                    scope["raw_path"] = _canonical_raw(raw)
        await self.app(scope, receive, send)
