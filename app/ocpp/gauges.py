"""Gauges of the CSMS read from the database when Prometheus scrapes."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select

from app.core.dbtypes import utcnow
from app.hub.cluster.models import HubInstance
from app.hub.context import HubContext
from app.ocpp.models import Charger


async def refresh_charger_gauges(ctx: HubContext) -> None:
    async with ctx.sessions() as session:
        # A charger is online while the instance holding its WebSocket has a live lease (what
        # app/ocpp/csms.py goes by too); rows of a killed instance do not count.
        online = await session.exec(
            select(func.count())
            .select_from(Charger)
            .join(HubInstance, col(HubInstance.id) == col(Charger.instance_id))
            .where(col(Charger.connected).is_(True), col(HubInstance.lease_until) > utcnow())
        )
        ctx.metrics.chargers_online.set(online.one())
