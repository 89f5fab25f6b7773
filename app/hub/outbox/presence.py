"""Which hub instances are alive, for the outbox, and wake-ups between them (PostgreSQL).

An instance's delivery worker keeps one connection of its own to PostgreSQL, outside the pool:

- on it, the instance holds a session-level advisory lock named after its id. PostgreSQL releases
  the lock when the connection ends, and the connection ends when the process does (even after
  ``kill -9``: the kernel closes its socket). A row 'sending' whose ``leased_by`` instance holds
  no such lock has no worker sending it any more, so another instance takes it back at once
  instead of waiting for its lease (DELIVERY_LEASE_SECONDS) to end;
- on it, the instance LISTENs for the NOTIFY that every transaction queueing deliveries sends
  (``enqueue``), so the worker of another instance starts at once instead of at its next poll.

A row is claimed with ``leased_by`` set only while this connection holds the lock; when the
connection is lost the worker abandons its pushes in flight (another instance may take their
rows now) and claims with leases only until the lock is held again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.engine import make_url
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.context import HubContext
from app.hub.outbox.models import DeliveryStatus
from app.hub.outbox.service import DELIVERY, OUTBOX_CHANNEL

log = logging.getLogger("voltroam.delivery")

CHANNEL = OUTBOX_CHANNEL


def lock_key(instance_id: str) -> int:
    """The advisory lock of an instance: 56 bits of a hash of its id (never negative)."""
    return int.from_bytes(hashlib.blake2b(instance_id.encode(), digest_size=7).digest(), "big")


class Presence:
    """The worker's own connection: its instance's advisory lock and LISTEN."""

    def __init__(
        self, ctx: HubContext, on_notify: Callable[[], None], on_lost: Callable[[], None]
    ) -> None:
        self.ctx = ctx
        self._on_notify = on_notify
        self._on_lost = on_lost
        self._conn: Any = None
        self.held = False

    @property
    def enabled(self) -> bool:
        return self.ctx.engine.dialect.name == "postgresql"

    async def ensure(self) -> bool:
        """Hold the lock and listen (connecting again after a loss); whether it is held."""
        if not self.enabled:
            return False
        # Imported here: only PostgreSQL needs asyncpg (a hub on SQLite never loads it).
        import asyncpg

        if self._conn is not None and not self._conn.is_closed() and self.held:
            return True
        await self.close()
        url = make_url(self.ctx.settings.async_database_url).set(drivername="postgresql")
        try:
            conn = await asyncpg.connect(
                url.render_as_string(hide_password=False),
                timeout=self.ctx.settings.delivery_poll_seconds * 5,
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("delivery presence: no connection (%s); leases only", exc)
            return False
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", lock_key(self.ctx.instance_id))
            await conn.add_listener(CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("delivery presence: %s; leases only", exc)
            with contextlib.suppress(Exception):
                await conn.close()
            return False
        conn.add_termination_listener(self._terminated)
        self._conn = conn
        self.held = True
        return True

    def _notified(self, *_args: Any) -> None:
        self._on_notify()

    def _terminated(self, *_args: Any) -> None:
        if self.held:
            log.warning("delivery presence: connection lost; pushes in flight abandoned")
            self.held = False
            self._on_lost()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        self.held = False
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=5)


async def recover_gone(session: AsyncSession, me: str) -> int:
    """Rows 'sending' whose instance holds no presence lock: back to the queue (PostgreSQL).

    The caller commits.
    """
    leased = (
        await session.exec(
            select(DELIVERY.c.leased_by)
            .where(
                DELIVERY.c.status == DeliveryStatus.SENDING,
                DELIVERY.c.leased_by.is_not(None),
                DELIVERY.c.leased_by != me,
            )
            .distinct()
        )
    ).all()
    if not leased:
        return 0
    held = await _held_keys(session)
    gone = [i for i in leased if i is not None and lock_key(i) not in held]
    if not gone:
        return 0
    log.info("delivery: taking back the rows of %s instance(s) that are gone", len(gone))
    result = await session.exec(
        update(DELIVERY)
        .where(DELIVERY.c.status == DeliveryStatus.SENDING, DELIVERY.c.leased_by.in_(gone))
        .values(status=DeliveryStatus.PENDING, lease_until=None, leased_by=None)
    )
    return int(result.rowcount or 0)


async def _held_keys(session: AsyncSession) -> Collection[int]:
    # A bigint advisory lock shows in pg_locks as classid (high 32 bits), objid (low 32 bits),
    # objsubid 1.
    rows = await (await session.connection()).execute(
        text(
            "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks"
            " WHERE locktype = 'advisory' AND objsubid = 1 AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    )
    return {int(r[0]) for r in rows}
