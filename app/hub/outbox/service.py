"""Queueing and claiming deliveries.

Rules that keep delivery correct:
- A delivery row is added in the caller's transaction, next to the object it announces, so an
  object is never stored without its pushes or pushed without being stored.
- Per receiver and object (``object_ref``), rows leave strictly in id order: a row is only claimed
  when no earlier row of the same receiver and object is still open.
- A new full version supersedes older rows that have not left yet, so an older version never
  overwrites a newer one and bursts collapse.
- A claimed row carries a lease; a worker that dies (even ``kill -9``) leaves rows whose lease
  expires and which are claimed again. PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so that
  several instances share the queue.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.core.settings import Settings
from app.hub.outbox.models import Delivery, DeliveryStatus
from app.ocpi.headers import PartyRef, correlation_id_var


@dataclass(frozen=True)
class Push:
    """One push to one receiver, before it becomes a Delivery row."""

    platform_id: int
    module: str
    method: str
    path: str
    object_ref: str
    body: dict[str, Any] | None
    from_party: PartyRef | None
    to_party: PartyRef | None
    query: str = ""
    url: str | None = None
    # True for a full version of the whole object (PUT of a Location, Tariff, Token, Session):
    # older rows for the same receiver and object that have not left are superseded.
    full: bool = False


async def enqueue(session: AsyncSession, pushes: Sequence[Push]) -> list[Delivery]:
    """Add the pushes to the session (the caller commits)."""
    rows: list[Delivery] = []
    correlation = correlation_id_var.get()
    # One UPDATE per object (not per receiver) marks what the new full versions supersede.
    superseding: dict[str, set[int]] = {}
    for push in pushes:
        if push.full:
            superseding.setdefault(push.object_ref, set()).add(push.platform_id)
    for ref, platform_ids in superseding.items():
        await session.exec(
            update(Delivery)
            .where(
                col(Delivery.platform_id).in_(platform_ids),
                col(Delivery.object_ref) == ref,
                col(Delivery.status) == DeliveryStatus.PENDING,
            )
            .values(status=DeliveryStatus.SUPERSEDED, last_error="a newer version was queued")
            .execution_options(synchronize_session=False)
        )
    for push in pushes:
        row = Delivery(
            platform_id=push.platform_id,
            module=push.module,
            method=push.method,
            path=push.path,
            query=push.query,
            url=push.url,
            object_ref=push.object_ref,
            body=push.body,
            from_country_code=push.from_party.country_code if push.from_party else None,
            from_party_id=push.from_party.party_id if push.from_party else None,
            to_country_code=push.to_party.country_code if push.to_party else None,
            to_party_id=push.to_party.party_id if push.to_party else None,
            correlation_id=correlation,
        )
        session.add(row)
        rows.append(row)
    return rows


async def claim(session: AsyncSession, settings: Settings, limit: int) -> list[Delivery]:
    """Claim up to ``limit`` due deliveries, at most one per receiver and object."""
    now = utcnow()
    # Rows whose worker died: back to the queue.
    await session.exec(
        update(Delivery)
        .where(col(Delivery.status) == DeliveryStatus.SENDING, col(Delivery.lease_until) < now)
        .values(status=DeliveryStatus.PENDING, lease_until=None)
    )
    earlier = aliased(Delivery)
    blocked = (
        select(earlier.id)
        .where(
            and_(
                col(earlier.platform_id) == col(Delivery.platform_id),
                col(earlier.object_ref) == col(Delivery.object_ref),
                col(earlier.id) < col(Delivery.id),
                col(earlier.status).in_(DeliveryStatus.OPEN),
            )
        )
        .exists()
    )
    stmt = (
        select(Delivery)
        .where(
            col(Delivery.status) == DeliveryStatus.PENDING,
            col(Delivery.next_attempt_at) <= now,
            ~blocked,
        )
        .order_by(col(Delivery.id))
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Delivery)
    rows = list((await session.exec(stmt)).all())
    if not rows:
        await session.commit()
        return []
    lease = now + timedelta(seconds=settings.delivery_lease_seconds)
    await session.exec(
        update(Delivery)
        .where(col(Delivery.id).in_([r.id for r in rows]))
        .values(
            status=DeliveryStatus.SENDING,
            lease_until=lease,
            attempts=Delivery.attempts + 1,
        )
        # The rows in hand are updated below, once, whatever the dialect's evaluator does.
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    for row in rows:
        row.status = DeliveryStatus.SENDING
        row.attempts += 1
        row.lease_until = lease
    return rows


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Exponential backoff with full jitter, capped."""
    ceiling = min(
        settings.delivery_backoff_cap_seconds,
        settings.delivery_backoff_base_seconds * (2 ** max(attempts - 1, 0)),
    )
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - not crypto


async def finish(
    session: AsyncSession,
    delivery_id: int,
    status: str,
    *,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> None:
    values: dict[str, Any] = {"lease_until": None, "last_error": (error or None) and error[:500]}
    if status == DeliveryStatus.PENDING:
        values["next_attempt_at"] = retry_at or utcnow()
    if status == DeliveryStatus.DELIVERED:
        values["delivered_at"] = utcnow()
    values["status"] = status
    await session.exec(update(Delivery).where(col(Delivery.id) == delivery_id).values(**values))


async def drop_open_for_platform(session: AsyncSession, platform_id: int, reason: str) -> int:
    """The receiver went OFFLINE or away: its queue is dropped (it resyncs when it is back).

    Asynchronous results (sent to a response_url) are kept: no resync would bring them back.
    """
    result = await session.exec(
        update(Delivery)
        .where(
            col(Delivery.platform_id) == platform_id,
            col(Delivery.status) == DeliveryStatus.PENDING,
            col(Delivery.url).is_(None),
        )
        .values(status=DeliveryStatus.DROPPED, last_error=reason)
    )
    return int(result.rowcount or 0)


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = (
        await session.exec(select(Delivery.status, func.count()).group_by(col(Delivery.status)))
    ).all()
    return {status: int(n) for status, n in rows}


async def listing(
    session: AsyncSession, status: str | None, platform_id: int | None, limit: int
) -> list[Delivery]:
    stmt = select(Delivery)
    if status:
        stmt = stmt.where(col(Delivery.status) == status)
    if platform_id is not None:
        stmt = stmt.where(col(Delivery.platform_id) == platform_id)
    return list((await session.exec(stmt.order_by(col(Delivery.id).desc()).limit(limit))).all())


async def retry(session: AsyncSession, delivery_id: int) -> Delivery | None:
    """Put a failed or dropped delivery back in the queue (an admin's decision)."""
    row = await session.get(Delivery, delivery_id)
    if row is None or row.status in DeliveryStatus.OPEN or row.status == DeliveryStatus.DELIVERED:
        return row
    row.status = DeliveryStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.last_error = None
    session.add(row)
    await session.commit()
    return row
