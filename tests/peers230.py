"""A minimal OCPI 2.3.0 party, served for real on 127.0.0.1 in tests.

From the 2.3.0 specification: the module URLs and objects of 2.2.1 (with Sender/Receiver
interfaces and routing headers), credentials whose ``roles`` a hub fills with the parties
reachable through it and which name the hub in ``hub_party_id`` (credentials.asciidoc, 2.3.0).
It is the 2.2.1 test party (tests/peers.py) offering and choosing version 2.3.0.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field

import httpx

from tests.peers import FakeParty

VERSION = "2.3.0"


@dataclass
class Party230(FakeParty):
    versions: list[str] = field(default_factory=lambda: [VERSION])
    # The hub's 2.3.0 endpoints, by (identifier, role).
    hub_endpoints: dict[tuple[str, str], str] = field(default_factory=dict)
    hub_credentials: dict[str, object] | None = None

    async def register_with(
        self, client: httpx.AsyncClient, versions_url: str, token_a: str
    ) -> httpx.Response:
        auth = {"Authorization": "Token " + base64.b64encode(token_a.encode()).decode()}
        versions = (await client.get(versions_url, headers=auth)).json()["data"]
        url = next(v["url"] for v in versions if v["version"] == VERSION)
        details = (await client.get(url, headers=auth)).json()["data"]
        self.hub_endpoints = {(e["identifier"], e["role"]): e["url"] for e in details["endpoints"]}
        credentials_url = next(
            e["url"] for e in details["endpoints"] if e["identifier"] == "credentials"
        )
        token_b = secrets.token_urlsafe(32)
        self.accepted_tokens.add(token_b)
        response = await client.post(credentials_url, json=self.credentials(token_b), headers=auth)
        body = response.json()
        if body.get("status_code") == 1000:
            self.hub_token = body["data"]["token"]
            self.hub_credentials = body["data"]
        return response

    def hub_url(self, module: str, role: str, path: str = "") -> str:
        base = self.hub_endpoints[(module, role)].rstrip("/")
        return f"{base}/{path}" if path else base

    def auth(self) -> dict[str, str]:
        assert self.hub_token is not None
        return {"Authorization": "Token " + base64.b64encode(self.hub_token.encode()).decode()}
