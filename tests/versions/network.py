"""A hub with partners of every version: helpers for the version tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import RunningServer
from tests.peers import FakeParty

T0 = "2026-11-29T09:00:00Z"
T1 = "2026-11-29T10:00:00Z"
T2 = "2026-11-29T11:00:00Z"

EMSP_ENDPOINTS = [
    ("locations", "RECEIVER"),
    ("tariffs", "RECEIVER"),
    ("sessions", "RECEIVER"),
    ("cdrs", "RECEIVER"),
    ("tokens", "SENDER"),
    ("commands", "SENDER"),
]
CPO_ENDPOINTS = [
    ("locations", "SENDER"),
    ("tariffs", "SENDER"),
    ("tokens", "RECEIVER"),
    ("commands", "RECEIVER"),
]


async def invite_as(http: httpx.AsyncClient, hub: RunningServer, name: str, **declared: Any) -> str:
    """An invitation, with what a 2.1.1 party does not say (role, time_zone, vat)."""
    from app.core.admin_auth import issue_admin_token

    assert hub.settings is not None
    headers = {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}
    response = await http.post(
        f"{hub.base_url}/admin/invitations", json={"name": name, **declared}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token_a"])


async def admin(
    http: httpx.AsyncClient, hub: RunningServer, method: str, path: str, body: Any = None
) -> httpx.Response:
    from app.core.admin_auth import issue_admin_token

    assert hub.settings is not None
    headers = {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}
    return await http.request(method, f"{hub.base_url}{path}", json=body, headers=headers)


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Wait until ``check()`` gives something truthy (pushes leave through the outbox)."""
    for _ in range(int(timeout / 0.05)):
        value = check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached within {timeout}s: {check}")


def emsp221(cc: str = "NL", pid: str = "EMA") -> FakeParty:
    return FakeParty(roles=[("EMSP", cc, pid)], endpoints=list(EMSP_ENDPOINTS))


# --- OCPI 2.1.1 objects, as a 2.1.1 CPO sends them (mod_locations.md, mod_tariffs.md, ...) ---

CONNECTOR_211 = {
    "id": "1",
    "standard": "IEC_62196_T2",
    "format": "CABLE",
    "power_type": "AC_3_PHASE",
    "voltage": 220,
    "amperage": 16,
    "tariff_id": "11",
    "last_updated": T0,
}
EVSE_211 = {
    "uid": "3256",
    "evse_id": "BE-BEC-E041503001",
    "status": "AVAILABLE",
    "capabilities": ["RESERVABLE"],
    "connectors": [CONNECTOR_211],
    "physical_reference": "1",
    "floor_level": "-1",
    "last_updated": T0,
}
LOCATION_211 = {
    "id": "LOC1",
    "type": "ON_STREET",
    "name": "Gent Zuid",
    "address": "F.Rooseveltlaan 3A",
    "city": "Gent",
    "postal_code": "9000",
    "country": "BEL",
    "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
    "evses": [EVSE_211],
    "time_zone": "Europe/Brussels",
    "last_updated": T0,
}
TARIFF_211 = {
    "id": "11",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.2512, "step_size": 1}]},
        {"price_components": [{"type": "FLAT", "price": 1.5, "step_size": 1}]},
    ],
    "last_updated": T0,
}


def session_211(session_id: str, auth_id: str, status: str = "ACTIVE") -> dict[str, Any]:
    return {
        "id": session_id,
        "start_datetime": T1,
        "kwh": 5.5,
        "auth_id": auth_id,
        "auth_method": "WHITELIST",
        "location": {**LOCATION_211, "evses": [EVSE_211]},
        "currency": "EUR",
        "total_cost": 2.87,
        "status": status,
        "last_updated": T1,
    }


def cdr_211(cdr_id: str, auth_id: str) -> dict[str, Any]:
    return {
        "id": cdr_id,
        "start_date_time": T1,
        "stop_date_time": T2,
        "auth_id": auth_id,
        "auth_method": "WHITELIST",
        "location": {**LOCATION_211, "evses": [EVSE_211]},
        "currency": "EUR",
        "tariffs": [TARIFF_211],
        "charging_periods": [
            {"start_date_time": T1, "dimensions": [{"type": "ENERGY", "volume": 15}]}
        ],
        "total_cost": 5.27,
        "total_energy": 15,
        "total_time": 1.0,
        "last_updated": T2,
    }


def token_221(cc: str, pid: str, uid: str, contract_id: str) -> dict[str, Any]:
    return {
        "country_code": cc,
        "party_id": pid,
        "uid": uid,
        "type": "RFID",
        "contract_id": contract_id,
        "issuer": f"{pid} mobility",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": T0,
    }
