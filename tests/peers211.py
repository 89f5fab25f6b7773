"""A minimal OCPI 2.1.1 party (CPO or eMSP), served for real on 127.0.0.1 in tests.

Written from the 2.1.1 specification (credentials.md, version_information_endpoint.md,
transport_and_format.md and the module pages), not from the hub's code:

- one party per credentials object: ``token``, ``url``, ``business_details``, ``party_id``,
  ``country_code`` at the top level, no roles;
- version details list endpoints without a role;
- the Authorization header is ``Token <token>``, not Base64 encoded;
- no routing headers, no X-Request-ID / X-Correlation-ID;
- objects carry no country_code/party_id (they are in the URL).

It records every call it receives and answers pushes with a plain success.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.peers import envelope

VERSION = "2.1.1"
MODULES = ("locations", "tariffs", "tokens", "sessions", "cdrs", "commands")


def auth_211(token: str) -> dict[str, str]:
    """transport_and_format.md: "Authorization: Token IpbJOXxkxOAuKR92z0nEcmVF3Qw09VG7I7d/WCg0koM=" """
    return {"Authorization": f"Token {token}"}


@dataclass
class Call211:
    method: str
    path: str
    token: str | None
    headers: dict[str, str]
    query: str
    body: Any = None


@dataclass
class Party211:
    role: str = "CPO"  # CPO or EMSP: what it implements (2.1.1 says it nowhere)
    country_code: str = "BE"
    party_id: str = "BEC"
    base_url: str = ""
    accepted_tokens: set[str] = field(default_factory=set)
    # What we use to call the hub (the token it gave us).
    hub_token: str | None = None
    # The hub's 2.1.1 endpoints, by module (from its version details).
    hub_endpoints: dict[str, str] = field(default_factory=dict)
    calls: list[Call211] = field(default_factory=list)
    registered_hub: dict[str, Any] | None = None
    # Objects served on GET {module} (a CPO's Locations and Tariffs, an eMSP's Tokens).
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The `data` answered on POST {module}/..., by module (a CommandResponse for "commands",
    # an AuthorizationInfo for "tokens").
    answers: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = self._build()

    def received(self, module: str, method: str | None = None) -> list[Call211]:
        return [
            c
            for c in self.calls
            if c.path.startswith(f"/{VERSION}/{module}") and (method is None or c.method == method)
        ]

    def credentials(self, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": f"{self.base_url}/versions",
            "business_details": {"name": f"Fake 2.1.1 {self.role} {self.party_id}"},
            "party_id": self.party_id,
            "country_code": self.country_code,
        }

    # --- as a party calling the hub ---

    async def register_with(
        self, client: httpx.AsyncClient, versions_url: str, token_a: str, method: str = "POST"
    ) -> httpx.Response:
        """credentials.md, "Registration": GET versions, GET the 2.1.1 details, POST our
        credentials with token A, keep the token in the answer."""
        auth = auth_211(token_a)
        versions = (await client.get(versions_url, headers=auth)).json()["data"]
        url = next(v["url"] for v in versions if v["version"] == VERSION)
        details = (await client.get(url, headers=auth)).json()["data"]
        assert details["version"] == VERSION
        self.hub_endpoints = {e["identifier"]: e["url"] for e in details["endpoints"]}
        token_b = secrets.token_urlsafe(32)
        self.accepted_tokens.add(token_b)
        response = await client.request(
            method, self.hub_endpoints["credentials"], json=self.credentials(token_b), headers=auth
        )
        body = response.json()
        if body.get("status_code") == 1000:
            self.hub_token = body["data"]["token"]
        return response

    async def call(
        self,
        client: httpx.AsyncClient,
        method: str,
        module: str,
        path: str = "",
        body: Any = None,
    ) -> httpx.Response:
        """A request to the hub's 2.1.1 endpoint of ``module`` (``path`` appended)."""
        assert self.hub_token is not None
        base = self.hub_endpoints[module].rstrip("/")
        url = f"{base}/{path}" if path else base
        return await client.request(method, url, json=body, headers=auth_211(self.hub_token))

    async def call_url(self, client: httpx.AsyncClient, method: str, url: str) -> httpx.Response:
        assert self.hub_token is not None
        return await client.request(method, url, headers=auth_211(self.hub_token))

    # --- as a server the hub calls ---

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Any:
            raw = await request.body()
            header = request.headers.get("authorization", "")
            token = header[6:] if header.startswith("Token ") else None
            self.calls.append(
                Call211(
                    request.method,
                    request.url.path,
                    token,
                    dict(request.headers),
                    request.url.query,
                    json.loads(raw) if raw else None,
                )
            )
            if token not in self.accepted_tokens:
                return envelope(None, 2000, http_status=401)
            return await call_next(request)

        @app.get("/versions")
        async def versions() -> JSONResponse:
            return envelope([{"version": VERSION, "url": f"{self.base_url}/{VERSION}"}])

        @app.get(f"/{VERSION}")
        async def details() -> JSONResponse:
            endpoints = [
                {"identifier": m, "url": f"{self.base_url}/{VERSION}/{m}/"}
                for m in ("credentials", *MODULES)
            ]
            return envelope({"version": VERSION, "endpoints": endpoints})

        @app.post(f"/{VERSION}/credentials/")
        @app.post(f"/{VERSION}/credentials")
        async def post_credentials(request: Request) -> JSONResponse:
            body = await request.json()
            self.registered_hub = body
            self.hub_token = body["token"]
            token_c = secrets.token_urlsafe(32)
            self.accepted_tokens.add(token_c)
            return envelope(self.credentials(token_c))

        @app.get(f"/{VERSION}/{{module}}/")
        @app.get(f"/{VERSION}/{{module}}")
        async def get_all(module: str, offset: int = 0, limit: int = 50) -> JSONResponse:
            items = self.objects.get(module, [])
            response = envelope(items[offset : offset + limit])
            response.headers["X-Total-Count"] = str(len(items))
            response.headers["X-Limit"] = str(limit)
            return response

        @app.api_route(f"/{VERSION}/{{module}}/{{rest:path}}", methods=["PUT", "PATCH", "POST"])
        @app.api_route(f"/{VERSION}/{{module}}", methods=["POST"])
        async def receive(module: str, request: Request, rest: str = "") -> JSONResponse:
            return envelope(self.answers.get(module))

        return app
