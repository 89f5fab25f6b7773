"""GET /admin/overview (JWT) and the page shell GET /admin (no JWT, no data)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update
from sqlmodel import col, select

from app.core.admin_auth import issue_admin_token
from app.core.dbtypes import utcnow
from app.core.settings import Settings
from app.hub.parties.models import Platform
from app.ocpp.models import Charger
from tests.admin.data import (
    add_deliveries,
    add_payments,
    add_sessions,
    drop_payment_table,
    payment,
)
from tests.conftest import RunningServer, invite
from tests.ocpp.harness import World, charger, world


async def _overview(http: httpx.AsyncClient, hub: RunningServer) -> dict[str, Any]:
    assert hub.settings is not None
    headers = {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}
    response = await http.get(f"{hub.base_url}/admin/overview", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


async def _overview_when(w: World, check: Any, timeout: float = 10.0) -> dict[str, Any]:
    """The overview once ``check(overview)`` holds (pushes of the setup drain meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        body = await _overview(w.http, w.hub)
        if check(body) or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)


async def test_overview_needs_a_valid_jwt(hub: RunningServer, http: httpx.AsyncClient) -> None:
    assert hub.settings is not None
    url = f"{hub.base_url}/admin/overview"
    for headers in (
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": f"Token {issue_admin_token(hub.settings)}"},
        {"Authorization": f"Bearer {issue_admin_token(Settings(secret_key='other-key'))}"},
        {"Authorization": f"Bearer {issue_admin_token(hub.settings, ttl=-10)}"},
    ):
        response = await http.get(url, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers.get("www-authenticate") == "Bearer"
        assert "platforms" not in response.text


async def test_empty_hub(hub: RunningServer, http: httpx.AsyncClient) -> None:
    body = await _overview(http, hub)
    assert body["platforms"] == []
    assert body["chargers"] == {"total": 0, "online": 0, "items": []}
    assert body["active_sessions"] == 0
    assert body["deliveries"] == {
        "pending": 0,
        "failed": 0,
        "oldest_pending_at": None,
        "oldest_pending_age_seconds": None,
        "by_status": {},
        "recent_failed": [],
    }
    assert body["syncs"] == []


async def test_overview_counts_what_the_hub_holds(database_url: str) -> None:
    async with world(database_url) as w:
        ctx = w.hub.app.state.hub
        # Platforms: the eMSP registered by the harness, one invited (PLANNED) and, once the
        # admin adds a Location, the hub's own CPO.
        await invite(w.http, w.hub, "Invited CPO")
        # Chargers through the admin API: CP-A connects for real; CP-B says it is connected to
        # an instance that is gone; CP-C never connected.
        await w.setup_site(["CP-A", "CP-B", "CP-C"])
        async with ctx.sessions() as session:
            await session.exec(
                update(Charger)
                .where(col(Charger.charge_point_id) == "CP-B")
                .values(
                    connected=True,
                    instance_id="dead-instance",
                    ocpp_version="2.0.1",
                    last_seen_at=utcnow(),
                )
            )
            await session.commit()
            emsp_id = (
                await session.exec(select(Platform.id).where(Platform.name == "NL*EM1"))
            ).one()
        assert emsp_id is not None
        await add_sessions(
            ctx, {"S1": "ACTIVE", "S2": "PENDING", "S3": "COMPLETED", "S4": "RESERVATION"}
        )
        await add_sessions(ctx, {"C1": "ACTIVE"}, module="cdrs")
        await add_deliveries(ctx, emsp_id, pending=2, failed=1, age=timedelta(hours=1))
        start = utcnow() - timedelta(days=1)
        statuses = ["captured"] * 5 + ["charging"] * 4 + ["canceled"] * 2 + ["failed"]
        rows = [
            payment(n, status, start + timedelta(minutes=n)) for n, status in enumerate(statuses)
        ]
        rows[11].currency = "JPY"
        rows[11].hold_amount = 3000
        rows[11].price = 1234
        rows[10].price = 1234
        rows[10].amount_captured = 1200
        rows[10].shortfall = 34
        await add_payments(ctx, rows)

        async with charger(w, "CP-A") as cp:
            await cp.boot()
            body = await _overview_when(
                w, lambda b: b["chargers"]["online"] == 1 and b["deliveries"]["pending"] == 2
            )

        platforms = {p["name"]: p for p in body["platforms"]}
        assert set(platforms) == {"NL*EM1", "Invited CPO", "Voltroam chargers"}
        emsp = platforms["NL*EM1"]
        assert emsp["status"] == "CONNECTED"
        assert emsp["registered"] is True
        assert emsp["roles"] == [{"role": "EMSP", "country_code": "NL", "party_id": "EM1"}]
        assert emsp["last_seen_at"] is not None
        assert platforms["Invited CPO"]["status"] == "PLANNED"
        assert platforms["Invited CPO"]["roles"] == []
        assert platforms["Voltroam chargers"]["roles"] == [
            {"role": "CPO", "country_code": "NL", "party_id": "VRC"}
        ]

        chargers = body["chargers"]
        assert chargers["total"] == 3
        assert chargers["online"] == 1
        items = chargers["items"]
        assert [c["charge_point_id"] for c in items] == ["CP-A", "CP-B", "CP-C"]
        assert items[0]["online"] is True
        assert items[0]["ocpp_version"] == "1.6"
        assert items[0]["last_seen_at"] is not None
        assert items[1]["online"] is False  # its instance holds no lease
        assert items[2] == {
            "charge_point_id": "CP-C",
            "ocpp_version": None,
            "online": False,
            "last_seen_at": None,
        }

        assert body["active_sessions"] == 2

        deliveries = body["deliveries"]
        assert deliveries["pending"] == 2
        assert deliveries["failed"] == 1
        assert deliveries["by_status"]["pending"] == 2
        assert deliveries["by_status"]["failed"] == 1
        assert deliveries["by_status"].get("delivered", 0) >= 1  # the setup's own pushes
        assert 3600 <= deliveries["oldest_pending_age_seconds"] < 3700
        assert deliveries["oldest_pending_at"] is not None
        [failed] = deliveries["recent_failed"]
        assert failed["platform_id"] == emsp_id and failed["platform_name"] == "NL*EM1"
        assert (failed["method"], failed["module"], failed["path"]) == (
            "PUT",
            "locations",
            "NL/CPA/TEST2",
        )

        payments = body["payments"]
        assert payments["total"] == 12
        assert payments["by_status"] == {"captured": 5, "charging": 4, "canceled": 2, "failed": 1}
        recent = payments["recent"]
        assert [p["public_id"] for p in recent] == [f"pay_test_{n:04d}" for n in range(11, 1, -1)]
        assert recent[0] == {
            "public_id": "pay_test_0011",
            "provider": "local",
            "status": "failed",
            "evse_uid": "EVSE-11",
            "currency": "JPY",
            "currency_exponent": 0,
            "hold_amount": 3000,
            "price": 1234,
            "amount_captured": 0,
            "amount_refunded": 0,
            "shortfall": 0,
            "created_at": recent[0]["created_at"],
        }
        assert recent[1]["currency_exponent"] == 2
        assert (recent[1]["price"], recent[1]["amount_captured"], recent[1]["shortfall"]) == (
            1234,
            1200,
            34,
        )

        # When the charger is gone, it is no longer online.
        body = await _overview_when(w, lambda b: b["chargers"]["online"] == 0)
        assert body["chargers"]["online"] == 0


async def test_overview_without_payment_tables(hub: RunningServer, http: httpx.AsyncClient) -> None:
    """A database older than the payments migration: everything else is still there."""
    await drop_payment_table(hub.app.state.hub)
    await invite(http, hub, "Still listed")
    body = await _overview(http, hub)
    assert body["payments"] is None
    assert [p["name"] for p in body["platforms"]] == ["Still listed"]


async def test_page_shell_needs_no_jwt_and_holds_no_data(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    await invite(http, hub, "Secret Platform Name")
    response = await http.get(f"{hub.base_url}/admin")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "connect-src 'self'" in csp
    assert "script-src 'self'" in csp
    page = response.text
    assert "Secret Platform Name" not in page
    assert '<script src="/admin/assets/overview.js"' in page
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere
    for name, media_type in (("overview.js", "text/javascript"), ("overview.css", "text/css")):
        asset = await http.get(f"{hub.base_url}/admin/assets/{name}")
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith(media_type)
        assert "Secret Platform Name" not in asset.text
    for missing in ("overview.html", "nothing.js", "..%2Foverview.py"):
        assert (await http.get(f"{hub.base_url}/admin/assets/{missing}")).status_code == 404
    # The rest of the admin API still needs the JWT.
    assert (await http.get(f"{hub.base_url}/admin/platforms")).status_code == 401
    assert (await http.get(f"{hub.base_url}/admin/chargers")).status_code == 401


async def test_openapi_documents_the_overview_not_the_page(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    spec = (await http.get(f"{hub.base_url}/openapi.json")).json()
    assert "/admin" not in spec["paths"]
    assert not any(path.startswith("/admin/assets") for path in spec["paths"])
    operation = spec["paths"]["/admin/overview"]["get"]
    assert operation["tags"] == ["admin"]
    assert operation["security"] == [{"HTTPBearer": []}]
    assert "401" in operation["responses"]
    schema = spec["components"]["schemas"]["Overview"]
    assert schema["examples"][0]["payments"]["recent"][0]["currency"] == "EUR"
