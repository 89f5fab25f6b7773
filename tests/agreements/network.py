"""A roaming network with agreements: a hub, two CPOs and three eMSPs, all real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from app.core.admin_auth import issue_admin_token
from tests.conftest import RunningServer, running_hub, running_party, token_header
from tests.hub.network import FAST, register
from tests.peers import FakeParty

EMSP_ENDPOINTS = [
    ("locations", "RECEIVER"),
    ("tariffs", "RECEIVER"),
    ("sessions", "RECEIVER"),
    ("cdrs", "RECEIVER"),
    ("hubclientinfo", "RECEIVER"),
    ("tokens", "SENDER"),
    ("commands", "SENDER"),
    ("chargingprofiles", "SENDER"),
]
CPO_ENDPOINTS = [
    ("locations", "SENDER"),
    ("tariffs", "SENDER"),
    ("tokens", "RECEIVER"),
    ("commands", "RECEIVER"),
    ("chargingprofiles", "RECEIVER"),
    ("sessions", "SENDER"),
    ("hubclientinfo", "RECEIVER"),
]
ALLOWED = {"allowed": "ALLOWED", "token": None}


@dataclass
class Agreed:
    hub: RunningServer
    cpo1: FakeParty
    cpo2: FakeParty
    emsp1: FakeParty
    emsp2: FakeParty
    emsp3: FakeParty
    http: httpx.AsyncClient

    @property
    def cpos(self) -> list[FakeParty]:
        return [self.cpo1, self.cpo2]

    @property
    def emsps(self) -> list[FakeParty]:
        return [self.emsp1, self.emsp2, self.emsp3]

    def url(self, path: str) -> str:
        return f"{self.hub.base_url}/ocpi/2.2.1/{path}"

    def auth(self, party: FakeParty, **routing: str) -> dict[str, str]:
        assert party.hub_token, "party is not registered"
        headers = token_header(party.hub_token)
        for name, value in routing.items():
            headers[f"OCPI-{name.replace('_', '-')}"] = value
        return headers

    @property
    def admin(self) -> dict[str, str]:
        assert self.hub.settings is not None
        return {"Authorization": f"Bearer {issue_admin_token(self.hub.settings)}"}

    @property
    def ctx(self) -> Any:
        return self.hub.app.state.hub

    async def agree(self, cpo: str, emsp: str, state: str, **extra: Any) -> list[dict[str, Any]]:
        response = await self.http.post(
            f"{self.hub.base_url}/admin/agreements",
            json={"cpo": cpo, "emsp": emsp, "state": state, **extra},
            headers=self.admin,
        )
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()
        return result

    async def agreements(self) -> dict[str, Any]:
        response = await self.http.get(f"{self.hub.base_url}/admin/agreements", headers=self.admin)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def party(role: str, cc: str, pid: str, **extra: Any) -> FakeParty:
    endpoints = CPO_ENDPOINTS if role == "CPO" else EMSP_ENDPOINTS
    return FakeParty(roles=[(role, cc, pid)], endpoints=list(endpoints), **extra)


@asynccontextmanager
async def agreed_network(database_url: str, **settings: Any) -> AsyncIterator[Agreed]:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        hub = await stack.enter_async_context(running_hub(database_url, **{**FAST, **settings}))
        parties = [
            party("CPO", "NL", "CPA"),
            party("CPO", "BE", "CPB"),
            party("EMSP", "NL", "EM1", answers={"tokens": ALLOWED}),
            party("EMSP", "DE", "EM2", answers={"tokens": ALLOWED}),
            party("EMSP", "FR", "EM3", answers={"tokens": ALLOWED}),
        ]
        for p in parties:
            await stack.enter_async_context(running_party(p))
        for p in parties:
            await register(http, hub, p)
        yield Agreed(hub, *parties, http=http)
