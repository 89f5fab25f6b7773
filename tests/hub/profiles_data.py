"""ChargingProfiles test helpers: parties that serve the module, and its objects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.conftest import RunningServer, running_hub, running_party
from tests.hub.network import CPO_ENDPOINTS, EMSP_ENDPOINTS, FAST, Network, register, stamp
from tests.peers import FakeParty, envelope

ACCEPTED = {"result": "ACCEPTED", "timeout": 30}


@dataclass
class ProfileParty(FakeParty):
    """A FakeParty that also answers GET on one object (the ChargingProfiles Receiver GET) and
    remembers the full URL (query string included) of every call."""

    urls: list[tuple[str, str]] = field(default_factory=list)

    def _build(self) -> FastAPI:
        app = super()._build()

        @app.get("/{version}/{module}/{rest:path}")
        async def get_one(version: str, module: str, rest: str) -> JSONResponse:
            return envelope(self.answers.get(module))

        @app.middleware("http")
        async def remember(request: Request, call_next: Any) -> Any:
            self.urls.append((request.method, str(request.url)))
            return await call_next(request)

        return app

    def query(self, method: str, path: str) -> dict[str, str]:
        """The query parameters of the last ``method`` call on ``path``."""
        for called, url in reversed(self.urls):
            parts = urlsplit(url)
            if called == method and parts.path == path:
                return {k: v[0] for k, v in parse_qs(parts.query).items()}
        raise AssertionError(f"no {method} {path} in {self.urls}")


@dataclass
class Parties:
    cpo: ProfileParty
    cpo2: ProfileParty
    emsp1: ProfileParty
    emsp2: ProfileParty

    def all(self) -> tuple[ProfileParty, ...]:
        return (self.emsp1, self.emsp2, self.cpo, self.cpo2)


@dataclass
class ProfilesNetwork(Network):
    cpo2: FakeParty


@asynccontextmanager
async def profile_parties() -> AsyncIterator[Parties]:
    """Two CPOs with a chargingprofiles RECEIVER, two eMSPs with a chargingprofiles SENDER."""
    cpo_endpoints = [*CPO_ENDPOINTS, ("chargingprofiles", "RECEIVER")]
    emsp_endpoints = [*EMSP_ENDPOINTS, ("chargingprofiles", "SENDER")]
    async with AsyncExitStack() as stack:

        async def start(role: str, cc: str, pid: str) -> ProfileParty:
            cpo = role == "CPO"
            party = ProfileParty(
                roles=[(role, cc, pid)],
                endpoints=cpo_endpoints if cpo else emsp_endpoints,
                answers={"chargingprofiles": dict(ACCEPTED)} if cpo else {},
            )
            return await stack.enter_async_context(running_party(party))

        yield Parties(
            cpo=await start("CPO", "NL", "CPA"),
            cpo2=await start("CPO", "BE", "CPB"),
            emsp1=await start("EMSP", "NL", "EM1"),
            emsp2=await start("EMSP", "DE", "EM2"),
        )


async def join(http: httpx.AsyncClient, hub: RunningServer, parties: Parties) -> None:
    for party in parties.all():
        await register(http, hub, party)


@asynccontextmanager
async def profiles_network(database_url: str) -> AsyncIterator[ProfilesNetwork]:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        parties = await stack.enter_async_context(profile_parties())
        hub = await stack.enter_async_context(running_hub(database_url, **FAST))
        await join(http, hub, parties)
        yield ProfilesNetwork(
            hub, parties.cpo, parties.emsp1, parties.emsp2, http, cpo2=parties.cpo2
        )


def charging_profile(limit: float = 11.0) -> dict[str, Any]:
    return {
        "charging_rate_unit": "W",
        "min_charging_rate": 1.5,
        "charging_profile_period": [
            {"start_period": 0, "limit": limit},
            {"start_period": 1800, "limit": 7.5},
        ],
    }


def set_charging_profile(response_url: str, limit: float = 11.0) -> dict[str, Any]:
    return {"charging_profile": charging_profile(limit), "response_url": response_url}


def active_charging_profile(minutes: int = 0, limit: float = 11.0) -> dict[str, Any]:
    return {"start_date_time": stamp(minutes), "charging_profile": charging_profile(limit)}


def path_of(url: str) -> str:
    """The path (and query) of a URL: the same resource on another hub instance."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
