"""Several hub instances on one database.

Each instance has a row in ``hub_instance`` whose lease it renews every
INSTANCE_HEARTBEAT_SECONDS; what an instance holds (its chargers) is valid while that lease is.
A killed instance stops renewing and, INSTANCE_LEASE_SECONDS later, holds nothing any more.

Facts every instance and command reads (``hub_fact``): the fingerprint of the secret key, the
URL the last `voltroam serve` started at.

Scheduled work that must run once across the cluster takes a named lease (``hub_lease``) with a
conditional UPDATE: whoever holds an unexpired lease keeps it, anyone may take an expired one. On
SQLite (one instance by construction) every lease is granted without touching the database.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub.cluster.models import HubFact, HubInstance, HubLease
from app.hub.context import HubContext

log = logging.getLogger("voltroam.cluster")


def _lease(ctx: HubContext) -> timedelta:
    return timedelta(seconds=ctx.settings.instance_lease_seconds)


async def announce(ctx: HubContext) -> None:
    """Create or renew this instance's row (its lease)."""
    until = utcnow() + _lease(ctx)
    async with ctx.sessions() as session:
        result = await session.exec(
            update(HubInstance)
            .where(col(HubInstance.id) == ctx.instance_id)
            .values(lease_until=until)
        )
        if not result.rowcount:
            session.add(HubInstance(id=ctx.instance_id, lease_until=until))
        await session.commit()


async def retire(ctx: HubContext) -> None:
    """A clean stop: the instance's claims end now rather than when the lease runs out."""
    async with ctx.sessions() as session:
        await session.exec(delete(HubInstance).where(col(HubInstance.id) == ctx.instance_id))
        await session.commit()


async def live_instance_ids(session: AsyncSession) -> set[str]:
    rows = await session.exec(select(HubInstance.id).where(HubInstance.lease_until > utcnow()))
    return set(rows.all())


async def is_live(session: AsyncSession, instance_id: str) -> bool:
    row = await session.get(HubInstance, instance_id, populate_existing=True)
    return row is not None and row.lease_until > utcnow()


async def take_lease(ctx: HubContext, name: str, seconds: float) -> bool:
    """Whether this instance may do the job ``name`` now (and holds it for ``seconds``)."""
    if ctx.engine.dialect.name != "postgresql":
        return True
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    async with ctx.sessions() as session:
        taken = await session.exec(
            update(HubLease)
            .where(
                col(HubLease.name) == name,
                or_(col(HubLease.holder) == ctx.instance_id, col(HubLease.lease_until) <= now),
            )
            .values(holder=ctx.instance_id, lease_until=until)
        )
        if taken.rowcount:
            await session.commit()
            return True
        exists = await session.get(HubLease, name)
        if exists is not None:
            await session.rollback()
            return False
        session.add(HubLease(name=name, holder=ctx.instance_id, lease_until=until))
        try:
            await session.commit()
        except IntegrityError:  # another instance created it first
            await session.rollback()
            return False
        return True


# --- facts ------------------------------------------------------------------------------------

SERVING_URL = "serving_url"


async def get_fact(session: AsyncSession, name: str) -> str | None:
    row = await session.get(HubFact, name, populate_existing=True)
    return row.value if row is not None else None


async def set_fact(session: AsyncSession, name: str, value: str) -> None:
    """Set a fact and commit."""
    for _ in range(2):
        result = await session.exec(
            update(HubFact)
            .where(col(HubFact.name) == name)
            .values(value=value, updated_at=utcnow())
        )
        if not result.rowcount:
            session.add(HubFact(name=name, value=value))
        try:
            await session.commit()
            return
        except IntegrityError:  # another process added it meanwhile: update theirs
            await session.rollback()


async def add_fact_once(session: AsyncSession, name: str, value: str) -> str:
    """Record a fact unless it is already there, and commit; the value that holds afterwards
    (another process's, when it recorded the fact first)."""
    existing = await get_fact(session, name)
    if existing is not None:
        return existing
    session.add(HubFact(name=name, value=value))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        existing = await get_fact(session, name)
        assert existing is not None
        return existing
    return value


async def record_serving_url(ctx: HubContext) -> None:
    """`voltroam serve` says where it is: commands run elsewhere hand out this URL when
    PUBLIC_URL is not set."""
    async with ctx.sessions() as session:
        try:
            await set_fact(session, SERVING_URL, ctx.settings.base_url)
        except DBAPIError as exc:  # a schema not migrated yet (MIGRATE_ON_START=false)
            log.warning("serving URL not recorded: %s", exc.orig)
