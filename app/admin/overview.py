"""Admin overview: one JSON summary of the hub (JWT) and the page that shows it (no JWT).

``GET /admin`` is a static shell without any data: a browser navigation cannot send a Bearer
header, so the page's script takes the admin JWT from the URL fragment (``#token=...``) or a
sign-in form and fetches ``GET /admin/overview`` with it. Only the JSON endpoint needs the JWT,
which is why this router has no router-level dependency.

Every number is a SQL aggregate; only the short lists (platforms, a few chargers, the newest
payments) load rows.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, case, func
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.admin_auth import require_admin
from app.core.dbtypes import utcnow
from app.hub.auth import get_session
from app.hub.cluster.service import live_instance_ids
from app.hub.outbox.models import Delivery, DeliveryStatus
from app.hub.outbox.service import counts as delivery_counts
from app.hub.parties.models import Platform
from app.hub.parties.service import list_platforms
from app.hub.store.models import OcpiObject
from app.hub.syncs import service as syncs
from app.ocpp.models import Charger
from app.payments import ledger
from app.payments.models import Payment
from app.tariffs.money import currency_exponent

log = logging.getLogger("voltroam.admin.overview")

router = APIRouter(tags=["admin"])

# How many chargers, payments, failed deliveries and pulls the overview lists (the counts cover
# all of them).
CHARGER_LIST_LIMIT = 20
PAYMENT_LIST_LIMIT = 10
FAILED_LIST_LIMIT = 10
SYNC_LIST_LIMIT = 10
# OCPI SessionStatus values of a session that is going on.
OPEN_SESSION_STATUSES = ("ACTIVE", "PENDING")

_STATIC = Path(__file__).resolve().parent / "static"
# The page's files, by URL name: (file, media type). Nothing else is served from the folder.
_ASSETS = {
    "overview.js": ("overview.js", "text/javascript; charset=utf-8"),
    "overview.css": ("overview.css", "text/css; charset=utf-8"),
}
# The page loads only its own script and style, and talks only to this hub.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


# --- response model -------------------------------------------------------------------------


class RoleSummary(BaseModel):
    role: str = Field(examples=["CPO"])
    country_code: str = Field(examples=["NL"])
    party_id: str = Field(examples=["CPA"])


class PlatformSummary(BaseModel):
    id: int
    name: str
    status: str = Field(
        description="Connection status (hubclientinfo): CONNECTED, OFFLINE, PLANNED, SUSPENDED",
        examples=["CONNECTED"],
    )
    registered: bool = Field(description="The credentials handshake completed")
    roles: list[RoleSummary]
    last_seen_at: datetime | None = Field(description="Last OCPI call from the platform")


class ChargerSummary(BaseModel):
    charge_point_id: str
    ocpp_version: str | None = Field(examples=["1.6", "2.0.1"])
    online: bool = Field(
        description="Connected to a live hub instance (one whose lease is not expired)"
    )
    last_seen_at: datetime | None = Field(
        description="Last heartbeat or other message (written at most every half heartbeat)"
    )


class ChargersOverview(BaseModel):
    total: int = Field(description="Registered chargers")
    online: int = Field(description="Chargers connected to a live hub instance")
    items: list[ChargerSummary] = Field(
        description=f"At most {CHARGER_LIST_LIMIT} chargers, online ones first"
    )


class FailedDelivery(BaseModel):
    id: int
    platform_id: int
    platform_name: str
    module: str = Field(examples=["locations"])
    method: str = Field(examples=["PUT"])
    path: str
    attempts: int
    last_error: str | None = Field(description="Why it failed")
    created_at: datetime


class DeliveriesOverview(BaseModel):
    pending: int = Field(description="Pushes not delivered yet (pending or being sent)")
    failed: int = Field(description="Pushes that failed for good (an admin may retry them)")
    oldest_pending_at: datetime | None = Field(
        description="When the oldest push not delivered yet was queued"
    )
    oldest_pending_age_seconds: float | None = Field(description="Its age, in seconds")
    by_status: dict[str, int] = Field(description="Pushes in each state")
    recent_failed: list[FailedDelivery] = Field(
        description=f"The {FAILED_LIST_LIMIT} newest failed pushes, with the reason"
    )


class SyncModuleSummary(BaseModel):
    objects: int = Field(description="Objects received so far")
    total: int | None = Field(description="The partner's X-Total-Count")
    stored: int
    ignored: int
    error: str | None


class SyncSummary(BaseModel):
    id: int
    platform_id: int
    platform_name: str
    reason: str = Field(examples=["registration"])
    state: str = Field(description="pending, running, done or failed", examples=["done"])
    attempts: int
    modules: dict[str, SyncModuleSummary]
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class PaymentSummary(BaseModel):
    public_id: str
    provider: str = Field(examples=["stripe", "local"])
    status: str = Field(examples=["captured"])
    evse_uid: str
    currency: str = Field(examples=["EUR"])
    currency_exponent: int = Field(
        description="Decimals of the currency's minor unit: amounts / 10**exponent = major units",
        examples=[2],
    )
    hold_amount: int = Field(description="Minor units held on the card")
    price: int | None = Field(description="The CDR's total cost incl. VAT, minor units")
    amount_captured: int
    amount_refunded: int
    shortfall: int = Field(description="Price that could not be captured, minor units")
    created_at: datetime


class PayoutSummary(BaseModel):
    """What the ledger says the hub owes one CPO in one currency (minor units)."""

    cpo: str = Field(examples=["NL*CPA"])
    currency: str = Field(examples=["EUR"])
    currency_exponent: int
    captured: int
    refunded: int
    fees: int = Field(description="The hub's fee, net of refunds")
    payable: int = Field(description="The CPO's share, net of refunds")
    transferred: int = Field(description="To its Stripe Connect account, net of reversals")
    owed: int = Field(description="Payable and not transferred yet")


class PaymentsOverview(BaseModel):
    total: int
    by_status: dict[str, int]
    recent: list[PaymentSummary] = Field(description=f"The {PAYMENT_LIST_LIMIT} newest payments")
    payouts: list[PayoutSummary] = Field(
        default_factory=list, description="What the hub owes each CPO and what it transferred"
    )


_EXAMPLE: dict[str, Any] = {
    "generated_at": "2026-03-02T09:30:00Z",
    "platforms": [
        {
            "id": 1,
            "name": "Example CPO B.V.",
            "status": "CONNECTED",
            "registered": True,
            "roles": [{"role": "CPO", "country_code": "NL", "party_id": "CPA"}],
            "last_seen_at": "2026-03-02T09:29:41Z",
        },
        {
            "id": 2,
            "name": "Example eMSP GmbH",
            "status": "OFFLINE",
            "registered": True,
            "roles": [{"role": "EMSP", "country_code": "DE", "party_id": "EM2"}],
            "last_seen_at": "2026-03-01T17:02:10Z",
        },
    ],
    "chargers": {
        "total": 2,
        "online": 1,
        "items": [
            {
                "charge_point_id": "CP-0001",
                "ocpp_version": "1.6",
                "online": True,
                "last_seen_at": "2026-03-02T09:28:00Z",
            },
            {
                "charge_point_id": "CP-0002",
                "ocpp_version": "2.0.1",
                "online": False,
                "last_seen_at": "2026-02-27T11:00:00Z",
            },
        ],
    },
    "active_sessions": 3,
    "deliveries": {
        "pending": 4,
        "failed": 1,
        "oldest_pending_at": "2026-03-02T09:29:12Z",
        "oldest_pending_age_seconds": 48.0,
        "by_status": {"delivered": 1520, "pending": 3, "sending": 1, "failed": 1},
        "recent_failed": [
            {
                "id": 1517,
                "platform_id": 2,
                "platform_name": "Example eMSP GmbH",
                "module": "tariffs",
                "method": "PUT",
                "path": "NL/CPA/T1",
                "attempts": 1,
                "last_error": "refused: HTTP 200, OCPI 2001 Invalid tariff",
                "created_at": "2026-03-02T08:12:40Z",
            }
        ],
    },
    "syncs": [
        {
            "id": 3,
            "platform_id": 1,
            "platform_name": "Example CPO B.V.",
            "reason": "registration",
            "state": "done",
            "attempts": 1,
            "modules": {
                "locations": {
                    "objects": 250,
                    "total": 250,
                    "stored": 249,
                    "ignored": 1,
                    "error": None,
                },
                "tariffs": {"objects": 4, "total": 4, "stored": 4, "ignored": 0, "error": None},
            },
            "error": None,
            "created_at": "2026-03-02T09:00:00Z",
            "finished_at": "2026-03-02T09:00:12Z",
        }
    ],
    "payments": {
        "total": 2,
        "by_status": {"captured": 1, "charging": 1},
        "recent": [
            {
                "public_id": "pay_8Qx0c2JvF1nQ",
                "provider": "stripe",
                "status": "charging",
                "evse_uid": "EVSE-0001",
                "currency": "EUR",
                "currency_exponent": 2,
                "hold_amount": 5000,
                "price": None,
                "amount_captured": 0,
                "amount_refunded": 0,
                "shortfall": 0,
                "created_at": "2026-03-02T09:10:00Z",
            },
            {
                "public_id": "pay_1mD3a9KpX7wE",
                "provider": "stripe",
                "status": "captured",
                "evse_uid": "EVSE-0002",
                "currency": "EUR",
                "currency_exponent": 2,
                "hold_amount": 5000,
                "price": 1234,
                "amount_captured": 1234,
                "amount_refunded": 0,
                "shortfall": 0,
                "created_at": "2026-03-01T18:45:00Z",
            },
        ],
        "payouts": [
            {
                "cpo": "NL*CPA",
                "currency": "EUR",
                "currency_exponent": 2,
                "captured": 1234,
                "refunded": 0,
                "fees": 148,
                "payable": 1086,
                "transferred": 1086,
                "owed": 0,
            }
        ],
    },
}


class Overview(BaseModel):
    """What the hub is doing right now."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    generated_at: datetime
    platforms: list[PlatformSummary]
    chargers: ChargersOverview
    active_sessions: int = Field(
        description="Stored OCPI Sessions whose status is ACTIVE or PENDING"
    )
    deliveries: DeliveriesOverview
    syncs: list[SyncSummary] = Field(
        description=f"The {SYNC_LIST_LIMIT} newest pulls of CPOs' Locations and Tariffs"
    )
    payments: PaymentsOverview | None = Field(
        description="Null while the database has no payment tables (not migrated yet)"
    )


# --- queries --------------------------------------------------------------------------------


async def _platforms(session: AsyncSession) -> list[PlatformSummary]:
    out = []
    for view in await list_platforms(session):
        p = view.platform
        assert p.id is not None
        out.append(
            PlatformSummary(
                id=p.id,
                name=p.name,
                status=p.status,
                registered=p.registered,
                roles=[
                    RoleSummary(role=r.role, country_code=r.country_code, party_id=r.party_id)
                    for r in view.roles
                ],
                last_seen_at=p.last_seen_at,
            )
        )
    return out


async def _chargers(session: AsyncSession) -> ChargersOverview:
    # Connected means held by a live instance: the same rule as Csms.holder (app/ocpp/csms.py).
    live = await live_instance_ids(session)
    online = and_(col(Charger.connected).is_(True), col(Charger.instance_id).in_(live))
    total = (await session.exec(select(func.count()).select_from(Charger))).one()
    online_count = (await session.exec(select(func.count()).where(online))).one()
    rows = await session.exec(
        select(Charger)
        .order_by(case((online, 0), else_=1), col(Charger.charge_point_id))
        .limit(CHARGER_LIST_LIMIT)
    )
    items = [
        ChargerSummary(
            charge_point_id=c.charge_point_id,
            ocpp_version=c.ocpp_version,
            online=c.connected and c.instance_id in live,
            last_seen_at=c.last_seen_at,
        )
        for c in rows
    ]
    return ChargersOverview(total=int(total), online=int(online_count), items=items)


async def _active_sessions(session: AsyncSession) -> int:
    # As app/hub/gauges.py counts them, PENDING included.
    result = await session.exec(
        select(func.count()).where(
            col(OcpiObject.module) == "sessions",
            col(OcpiObject.data)["status"].as_string().in_(OPEN_SESSION_STATUSES),
        )
    )
    return int(result.one())


async def _deliveries(session: AsyncSession, now: datetime) -> DeliveriesOverview:
    by_status = await delivery_counts(session)
    oldest = (
        await session.exec(
            select(func.min(col(Delivery.created_at))).where(
                col(Delivery.status).in_(DeliveryStatus.OPEN)
            )
        )
    ).one()
    failed = await session.exec(
        select(Delivery, Platform.name)
        .join(Platform, col(Platform.id) == col(Delivery.platform_id))
        .where(col(Delivery.status) == DeliveryStatus.FAILED)
        .order_by(col(Delivery.id).desc())
        .limit(FAILED_LIST_LIMIT)
    )
    return DeliveriesOverview(
        pending=sum(by_status.get(s, 0) for s in DeliveryStatus.OPEN),
        failed=by_status.get(DeliveryStatus.FAILED, 0),
        oldest_pending_at=oldest,
        oldest_pending_age_seconds=(
            max((now - oldest).total_seconds(), 0.0) if oldest is not None else None
        ),
        by_status=by_status,
        recent_failed=[
            FailedDelivery(
                id=d.id or 0,
                platform_id=d.platform_id,
                platform_name=name,
                module=d.module,
                method=d.method,
                path=d.path,
                attempts=d.attempts,
                last_error=d.last_error,
                created_at=d.created_at,
            )
            for d, name in failed.all()
        ],
    )


async def _syncs(session: AsyncSession) -> list[SyncSummary]:
    return [
        SyncSummary(
            id=job.id or 0,
            platform_id=job.platform_id,
            platform_name=name,
            reason=job.reason,
            state=job.state,
            attempts=job.attempts,
            modules={m: SyncModuleSummary.model_validate(v) for m, v in job.modules.items()},
            error=job.error,
            created_at=job.created_at,
            finished_at=job.finished_at,
        )
        for job, name in await syncs.listing(session, limit=SYNC_LIST_LIMIT)
    ]


def _exponent(currency: str) -> int:
    try:
        return currency_exponent(currency)
    except ValueError:
        return 2


async def _payments(session: AsyncSession) -> PaymentsOverview:
    by_status = {
        str(status): int(n)
        for status, n in await session.exec(
            select(Payment.status, func.count()).group_by(col(Payment.status))
        )
    }
    rows = await session.exec(
        select(Payment)
        .order_by(col(Payment.created_at).desc(), col(Payment.id).desc())
        .limit(PAYMENT_LIST_LIMIT)
    )
    recent = [
        PaymentSummary(
            public_id=p.public_id,
            provider=p.provider,
            status=p.status,
            evse_uid=p.evse_uid,
            currency=p.currency,
            currency_exponent=_exponent(p.currency),
            hold_amount=p.hold_amount,
            price=p.price,
            amount_captured=p.amount_captured,
            amount_refunded=p.amount_refunded,
            shortfall=p.shortfall,
            created_at=p.created_at,
        )
        for p in rows
    ]
    try:
        balances = await ledger.balances(session)
    except (OperationalError, ProgrammingError) as exc:
        # A database older than the ledger's migration: the payments without what is owed.
        log.warning("admin overview without payouts: %s", exc.orig)
        await session.rollback()
        balances = []
    payouts = [
        PayoutSummary(
            cpo=b.cpo,
            currency=b.currency,
            currency_exponent=_exponent(b.currency),
            captured=b.captured,
            refunded=b.refunded,
            fees=b.fees,
            payable=b.payable,
            transferred=b.transferred,
            owed=b.owed,
        )
        for b in balances
    ]
    return PaymentsOverview(
        total=sum(by_status.values()), by_status=by_status, recent=recent, payouts=payouts
    )


async def build_overview(session: AsyncSession) -> Overview:
    now = utcnow()
    platforms = await _platforms(session)
    chargers = await _chargers(session)
    active = await _active_sessions(session)
    deliveries = await _deliveries(session, now)
    # A database older than the sync jobs migration (MIGRATE_ON_START=false) has no pulls to
    # show; the rollback loses nothing read above.
    try:
        pulls = await _syncs(session)
    except (OperationalError, ProgrammingError) as exc:
        log.warning("admin overview without pulls: %s", exc.orig)
        await session.rollback()
        pulls = []
    # Last: a database older than the payments migration fails here, and the rollback that
    # follows does not lose anything read above.
    payments: PaymentsOverview | None
    try:
        payments = await _payments(session)
    except (OperationalError, ProgrammingError) as exc:
        log.warning("admin overview without payments: %s", exc.orig)
        await session.rollback()
        payments = None
    return Overview(
        generated_at=now,
        platforms=platforms,
        chargers=chargers,
        active_sessions=active,
        deliveries=deliveries,
        syncs=pulls,
        payments=payments,
    )


# --- routes ---------------------------------------------------------------------------------


@router.get(
    "/admin/overview",
    summary="Overview of the hub: platforms, chargers, sessions, deliveries, pulls, payments",
    description=(
        "One call for a dashboard: the platforms and their roles, how many chargers are online, "
        "how many OCPI Sessions are going on, the delivery backlog and the newest failed "
        "pushes, the newest pulls of CPOs' Locations and Tariffs, and the newest payments "
        "(amounts in the currency's minor units). The page at `/admin` shows it."
    ),
    response_model=Overview,
    dependencies=[Depends(require_admin)],
    responses={401: {"description": "Missing or bad JWT"}},
)
async def overview(response: Response, session: AsyncSession = Depends(get_session)) -> Overview:
    response.headers["Cache-Control"] = "no-store"
    return await build_overview(session)


@cache
def _read(name: str) -> bytes:
    return (_STATIC / name).read_bytes()


def _file(name: str, media_type: str) -> Response:
    return Response(_read(name), media_type=media_type, headers=_PAGE_HEADERS)


@router.get("/admin", include_in_schema=False)
async def overview_page() -> Response:
    """The page shell: no data, no JWT needed (its script asks for the token)."""
    return _file("overview.html", "text/html; charset=utf-8")


@router.get("/admin/assets/{name}", include_in_schema=False)
async def overview_asset(name: str) -> Response:
    if name not in _ASSETS:
        raise HTTPException(404, "Not found")
    return _file(*_ASSETS[name])
