"""A small roaming network for tests: a hub, one CPO and two eMSPs, all real servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.core.admin_auth import issue_admin_token
from tests.conftest import RunningServer, invite, running_hub, running_party, token_header
from tests.peers import FakeParty

EMSP_ENDPOINTS = [
    ("locations", "RECEIVER"),
    ("tariffs", "RECEIVER"),
    ("sessions", "RECEIVER"),
    ("cdrs", "RECEIVER"),
    ("hubclientinfo", "RECEIVER"),
]
CPO_ENDPOINTS = [("locations", "SENDER"), ("tariffs", "SENDER"), ("tokens", "RECEIVER")]

# Fast delivery for tests: short polls, short backoff, short leases.
FAST = {
    "delivery_poll_seconds": 0.05,
    "delivery_backoff_base_seconds": 0.05,
    "delivery_backoff_cap_seconds": 0.3,
    "delivery_lease_seconds": 2.0,
    "alive_check_interval_seconds": 0,
    "ocpi_timeout_seconds": 2.0,
    "sync_poll_seconds": 0.05,
}


@dataclass
class Network:
    hub: RunningServer
    cpo: FakeParty
    emsp1: FakeParty
    emsp2: FakeParty
    http: httpx.AsyncClient

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


async def register(http: httpx.AsyncClient, hub: RunningServer, party: FakeParty) -> None:
    token_a = await invite(http, hub, "/".join(f"{r[1]}*{r[2]}" for r in party.roles))
    response = await party.register_with(http, hub.versions_url, token_a)
    assert response.json()["status_code"] == 1000, response.text


@asynccontextmanager
async def network(
    database_url: str,
    *,
    cpo_objects: dict[str, list[dict[str, Any]]] | None = None,
    extra_cpo_endpoints: Sequence[tuple[str, str]] = (),
    extra_emsp_endpoints: Sequence[tuple[str, str]] = (),
    **settings: Any,
) -> AsyncIterator[Network]:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        hub = await stack.enter_async_context(running_hub(database_url, **{**FAST, **settings}))
        emsp1 = await stack.enter_async_context(
            running_party(
                FakeParty(
                    roles=[("EMSP", "NL", "EM1")],
                    endpoints=[*EMSP_ENDPOINTS, *extra_emsp_endpoints],
                )
            )
        )
        emsp2 = await stack.enter_async_context(
            running_party(
                FakeParty(
                    roles=[("EMSP", "DE", "EM2")],
                    endpoints=[*EMSP_ENDPOINTS, *extra_emsp_endpoints],
                )
            )
        )
        cpo = await stack.enter_async_context(
            running_party(
                FakeParty(
                    roles=[("CPO", "NL", "CPA")],
                    endpoints=[*CPO_ENDPOINTS, *extra_cpo_endpoints],
                    objects=cpo_objects or {},
                )
            )
        )
        for party in (emsp1, emsp2, cpo):
            await register(http, hub, party)
        yield Network(hub, cpo, emsp1, emsp2, http)


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def stamp(minutes: int = 0) -> str:
    moment = datetime(2026, 1, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def connector(connector_id: str = "1", minutes: int = 0) -> dict[str, Any]:
    return {
        "id": connector_id,
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "last_updated": stamp(minutes),
    }


def evse(uid: str = "EVSE1", status: str = "AVAILABLE", minutes: int = 0) -> dict[str, Any]:
    return {
        "uid": uid,
        "evse_id": f"NL*CPA*E{uid}",
        "status": status,
        "connectors": [connector(minutes=minutes)],
        "last_updated": stamp(minutes),
    }


def location(
    location_id: str = "LOC1", minutes: int = 0, cc: str = "NL", pid: str = "CPA"
) -> dict[str, Any]:
    return {
        "country_code": cc,
        "party_id": pid,
        "id": location_id,
        "publish": True,
        "name": f"Location {location_id}",
        "address": "Stationsplein 1",
        "city": "Amsterdam",
        "country": "NLD",
        "coordinates": {"latitude": "52.378900", "longitude": "4.900000"},
        "time_zone": "Europe/Amsterdam",
        "evses": [evse(minutes=minutes)],
        "last_updated": stamp(minutes),
    }


def tariff(tariff_id: str = "T1", minutes: int = 0) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CPA",
        "id": tariff_id,
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
        "last_updated": stamp(minutes),
    }


def token(uid: str = "TOK1", cc: str = "NL", pid: str = "EM1", minutes: int = 0) -> dict[str, Any]:
    return {
        "country_code": cc,
        "party_id": pid,
        "uid": uid,
        "type": "RFID",
        "contract_id": f"{cc}-{pid}-C{uid}",
        "issuer": "Example eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": stamp(minutes),
    }


def cdr_token(cc: str = "NL", pid: str = "EM1") -> dict[str, Any]:
    return {
        "country_code": cc,
        "party_id": pid,
        "uid": "TOK1",
        "type": "RFID",
        "contract_id": f"{cc}-{pid}-CTOK1",
    }


def session(
    session_id: str = "S1", owner: tuple[str, str] = ("NL", "EM1"), minutes: int = 0
) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CPA",
        "id": session_id,
        "start_date_time": stamp(0),
        "kwh": 0,
        "cdr_token": cdr_token(*owner),
        "auth_method": "WHITELIST",
        "location_id": "LOC1",
        "evse_uid": "EVSE1",
        "connector_id": "1",
        "currency": "EUR",
        "status": "ACTIVE",
        "last_updated": stamp(minutes),
    }


def charging_period(minutes: int, kwh: float) -> dict[str, Any]:
    return {"start_date_time": stamp(minutes), "dimensions": [{"type": "ENERGY", "volume": kwh}]}


def cdr(cdr_id: str = "CDR1", owner: tuple[str, str] = ("NL", "EM1")) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CPA",
        "id": cdr_id,
        "start_date_time": stamp(0),
        "end_date_time": stamp(60),
        "cdr_token": cdr_token(*owner),
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "LOC1",
            "address": "Stationsplein 1",
            "city": "Amsterdam",
            "country": "NLD",
            "coordinates": {"latitude": "52.378900", "longitude": "4.900000"},
            "evse_uid": "EVSE1",
            "evse_id": "NL*CPA*EEVSE1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [charging_period(0, 10)],
        "total_cost": {"excl_vat": 2.5},
        "total_energy": 10,
        "total_time": 1,
        "last_updated": stamp(60),
    }
