"""Rows for the admin overview tests, written straight into a running hub's database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.core.dbtypes import utcnow
from app.hub.outbox.models import Delivery, DeliveryStatus
from app.hub.store.models import OcpiObject
from app.payments.models import Payment


async def ensure_payment_table(ctx: Any) -> None:
    """The payment table, also while the database has no payments migration yet."""

    def create(sync: Connection) -> None:
        Payment.__table__.create(sync, checkfirst=True)  # type: ignore[attr-defined]

    async with ctx.engine.begin() as conn:
        await conn.run_sync(create)


async def drop_payment_table(ctx: Any) -> None:
    cascade = " CASCADE" if ctx.engine.dialect.name == "postgresql" else ""
    async with ctx.engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE IF EXISTS payment{cascade}"))


def payment(number: int, status: str, created_at: datetime, **values: Any) -> Payment:
    fields: dict[str, Any] = {
        "public_id": f"pay_test_{number:04d}",
        "provider": "local",
        "status": status,
        "cpo_country_code": "NL",
        "cpo_party_id": "CPA",
        "location_id": "LOC1",
        "evse_uid": f"EVSE-{number}",
        "connector_id": "1",
        "currency": "EUR",
        "hold_amount": 5000,
        "token_uid": f"ADHOC{number:04d}",
        "created_at": created_at,
        "updated_at": created_at,
    }
    fields.update(values)
    return Payment(**fields)


async def add_payments(ctx: Any, rows: list[Payment]) -> None:
    await ensure_payment_table(ctx)
    async with ctx.sessions() as session:
        session.add_all(rows)
        await session.commit()


async def add_sessions(ctx: Any, statuses: dict[str, str], module: str = "sessions") -> None:
    """OCPI Sessions (id -> status) of the CPO NL*CPA, stored as the hub stores them."""
    async with ctx.sessions() as session:
        for key, status in statuses.items():
            session.add(
                OcpiObject(
                    module=module,
                    country_code="NL",
                    party_id="CPA",
                    object_key=key,
                    data={"id": key, "status": status, "country_code": "NL", "party_id": "CPA"},
                    last_updated=utcnow(),
                )
            )
        await session.commit()


async def add_deliveries(
    ctx: Any,
    platform_id: int,
    pending: int,
    failed: int,
    age: timedelta,
    error: str | None = None,
) -> None:
    """Pushes that stay as they are: pending ones are not due for a day, failed ones are final."""
    now = utcnow()
    async with ctx.sessions() as session:
        for n in range(pending + failed):
            session.add(
                Delivery(
                    platform_id=platform_id,
                    module="locations",
                    method="PUT",
                    path=f"NL/CPA/TEST{n}",
                    object_ref=f"test-overview-{n}",
                    status=DeliveryStatus.PENDING if n < pending else DeliveryStatus.FAILED,
                    created_at=now - age + timedelta(seconds=n),
                    next_attempt_at=now + timedelta(days=1),
                    attempts=0 if n < pending else 1,
                    last_error=None if n < pending else error,
                )
            )
        await session.commit()
