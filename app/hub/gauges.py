"""Gauges of the hub read from the database when Prometheus scrapes (cheap aggregate queries).

The OCPP package adds its own (app/ocpp/gauges.py).
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select

from app.hub.context import HubContext
from app.hub.outbox.models import DeliveryStatus
from app.hub.outbox.service import counts
from app.hub.parties.models import Platform
from app.hub.store.models import OcpiObject

_QUEUE_STATES = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENDING,
    DeliveryStatus.FAILED,
    DeliveryStatus.DROPPED,
)


async def refresh_gauges(ctx: HubContext) -> None:
    metrics = ctx.metrics
    async with ctx.sessions() as session:
        queue = await counts(session)
        for state in _QUEUE_STATES:
            metrics.delivery_queue.labels(state).set(queue.get(state, 0))
        active = await session.exec(
            select(func.count()).where(
                col(OcpiObject.module) == "sessions",
                col(OcpiObject.data)["status"].as_string() == "ACTIVE",
            )
        )
        metrics.active_sessions.set(active.one())
        statuses = await session.exec(
            select(Platform.status, func.count())
            .where(col(Platform.registered).is_(True))
            .group_by(col(Platform.status))
        )
        metrics.platforms.clear()
        for status, number in statuses:
            metrics.platforms.labels(status).set(number)
