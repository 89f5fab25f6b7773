"""A minimal OCPI 2.2.1 party (a CPO by default), served for real on 127.0.0.1 in tests.

It records every call it receives, and can be configured to misbehave the ways real peers do.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def envelope(data: Any = None, status_code: int = 1000, http_status: int = 200) -> JSONResponse:
    body: dict[str, Any] = {
        "status_code": status_code,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status_code=http_status)


def decode_auth(header: str | None) -> str | None:
    if not header or not header.startswith("Token "):
        return None
    value = header[6:]
    try:
        return base64.b64decode(value, validate=True).decode()
    except ValueError:
        return value


@dataclass
class Call:
    method: str
    path: str
    token: str | None
    headers: dict[str, str]
    body: Any = None
    # The request target as it arrived (ASGI raw_path: still percent-encoded, no query).
    raw_path: str = ""


@dataclass
class FakeParty:
    roles: list[tuple[str, str, str]] = field(default_factory=lambda: [("CPO", "NL", "CPA")])
    versions: list[str] = field(default_factory=lambda: ["2.1.1", "2.2.1"])
    with_credentials_endpoint: bool = True
    # Advertise endpoint URLs with a trailing slash (some peers do).
    trailing_slash: bool = False
    base_url: str = ""
    # Tokens the hub may call us with (token A we issued, then the token B we gave the hub).
    accepted_tokens: set[str] = field(default_factory=set)
    # What we use to call the hub (its token C once registered).
    hub_token: str | None = None
    calls: list[Call] = field(default_factory=list)
    registered_hub: dict[str, Any] | None = None
    # Module endpoints to advertise besides credentials: (identifier, role). Served at
    # {base}/{version}/{identifier}.
    endpoints: list[tuple[str, str]] = field(default_factory=lambda: [("locations", "SENDER")])
    # Objects served on SENDER endpoints (GET-all), per module.
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    page_size: int = 10
    # Pagination quirk: a Link pointing nowhere useful (the hub must walk by offset).
    broken_link: bool = False
    # Fault injection for pushes: answer with this HTTP status (and OCPI 3000) instead.
    fail_with: int | None = None
    # Answer pushes with this OCPI status code (e.g. 2001) and HTTP 200.
    refuse_with: int | None = None
    # Seconds to wait before answering a push (timeouts).
    delay: float = 0.0
    # Seconds to wait before answering each page of a GET-all (a slow pull).
    page_delay: float = 0.0
    # The `data` to answer requests on a module endpoint with, by module (e.g. a CommandResponse
    # for "commands", an AuthorizationInfo for "tokens").
    answers: dict[str, Any] = field(default_factory=dict)
    # Hold the first push of each (module, method) named here until `release` is set: the peer
    # has received (and applied) the request, but its answer comes late, or never reaches a hub
    # that died meanwhile. The held calls are listed in `held`.
    hold: set[tuple[str, str]] = field(default_factory=set)
    held: list[Call] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.app = self._build()

    def pushes(self, module: str | None = None, method: str | None = None) -> list[Call]:
        """Calls the hub made on this party's module endpoints (not versions/credentials)."""
        return [
            c
            for c in self.calls
            if c.path.count("/") >= 2
            and c.path.split("/")[2] not in ("credentials",)
            and (module is None or c.path.split("/")[2] == module)
            and (method is None or c.method == method)
            and c.method != "GET"
        ]

    # --- as a party calling the hub (the party is the Sender of the credentials module) ---

    def credentials(self, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": f"{self.base_url}/versions",
            "roles": [
                {
                    "role": role,
                    "country_code": cc,
                    "party_id": pid,
                    "business_details": {"name": f"Fake {role} {cc}*{pid}"},
                }
                for role, cc, pid in self.roles
            ],
        }

    async def register_with(
        self, client: httpx.AsyncClient, versions_url: str, token_a: str
    ) -> httpx.Response:
        """The party-initiated handshake, as a well-behaved Sender does it."""
        auth = {"Authorization": "Token " + base64.b64encode(token_a.encode()).decode()}
        versions = (await client.get(versions_url, headers=auth)).json()["data"]
        url = next(v["url"] for v in versions if v["version"] == "2.2.1")
        details = (await client.get(url, headers=auth)).json()["data"]
        credentials_url = next(
            e["url"] for e in details["endpoints"] if e["identifier"] == "credentials"
        )
        token_b = secrets.token_urlsafe(32)
        self.accepted_tokens.add(token_b)
        response = await client.post(credentials_url, json=self.credentials(token_b), headers=auth)
        body = response.json()
        if body.get("status_code") == 1000:
            self.hub_token = body["data"]["token"]
        return response

    # --- as a server the hub calls ---

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Any:
            raw = await request.body()
            body = None
            if raw:
                try:
                    import json

                    body = json.loads(raw)
                except ValueError:
                    body = raw
            call = Call(
                request.method,
                request.url.path,
                decode_auth(request.headers.get("authorization")),
                dict(request.headers),
                body,
                request.scope.get("raw_path", b"").decode("latin-1"),
            )
            self.calls.append(call)
            request.state.call = call
            if decode_auth(request.headers.get("authorization")) not in self.accepted_tokens:
                return envelope(None, 2000, http_status=401)
            return await call_next(request)

        @app.get("/versions")
        async def versions() -> JSONResponse:
            return envelope([{"version": v, "url": f"{self.base_url}/{v}"} for v in self.versions])

        @app.get("/{version}")
        async def details(version: str) -> JSONResponse:
            if version not in self.versions:
                return envelope(None, 2000, http_status=404)
            slash = "/" if self.trailing_slash else ""
            endpoints = [
                {
                    "identifier": identifier,
                    "role": role,
                    "url": f"{self.base_url}/{version}/{identifier}{slash}",
                }
                for identifier, role in self.endpoints
            ]
            if self.with_credentials_endpoint:
                endpoints.append(
                    {
                        "identifier": "credentials",
                        "role": "SENDER",
                        "url": f"{self.base_url}/{version}/credentials{slash}",
                    }
                )
            return envelope({"version": version, "endpoints": endpoints})

        @app.post("/{version}/credentials")
        async def post_credentials(version: str, request: Request) -> JSONResponse:
            body = await request.json()
            self.registered_hub = body
            self.hub_token = body["token"]
            token_c = secrets.token_urlsafe(32)
            self.accepted_tokens.add(token_c)
            return envelope(self.credentials(token_c))

        @app.delete("/{version}/credentials")
        async def delete_credentials(version: str) -> JSONResponse:
            self.registered_hub = None
            return envelope()

        @app.get("/{version}/{module}")
        async def get_all(
            version: str, module: str, offset: int = 0, limit: int = 50
        ) -> JSONResponse:
            if self.page_delay:
                await asyncio.sleep(self.page_delay)
            items = self.objects.get(module, [])
            size = min(limit, self.page_size)
            response = envelope(items[offset : offset + size])
            response.headers["X-Total-Count"] = str(len(items))
            response.headers["X-Limit"] = str(self.page_size)
            if offset + size < len(items):
                target = (
                    "http://elsewhere.invalid/next"
                    if self.broken_link
                    else f"{self.base_url}/{version}/{module}?offset={offset + size}&limit={size}"
                )
                response.headers["Link"] = f'<{target}>; rel="next"'
            return response

        @app.api_route(
            "/{version}/{module}/{rest:path}", methods=["PUT", "PATCH", "POST", "DELETE"]
        )
        @app.api_route("/{version}/{module}", methods=["POST"])
        async def receive(
            version: str, module: str, request: Request, rest: str = ""
        ) -> JSONResponse:
            if (module, request.method) in self.hold:
                self.hold.discard((module, request.method))
                self.held.append(request.state.call)
                await self.release.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.fail_with is not None:
                return envelope(None, 3000, http_status=self.fail_with)
            if self.refuse_with is not None:
                return envelope(None, self.refuse_with)
            response = envelope(self.answers.get(module))
            if module == "cdrs":
                response.headers["Location"] = f"{self.base_url}/{version}/cdrs/{len(self.calls)}"
            return response

        return app
