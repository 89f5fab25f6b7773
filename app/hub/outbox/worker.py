"""The delivery worker: takes due rows from the outbox and pushes them to their receivers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime

from app.core.context import HubContext
from app.core.security import UndecryptableToken
from app.hub.outbox import service as outbox
from app.hub.outbox.models import Delivery, DeliveryStatus
from app.hub.parties.models import ConnectionStatus, Platform, endpoint_url
from app.ocpi.client import PeerError, join_url
from app.ocpi.headers import PartyRef, RoutingHeaders, correlation_id_var

log = logging.getLogger("voltroam.delivery")


def _routing(row: Delivery) -> RoutingHeaders:
    return RoutingHeaders(
        from_party=PartyRef(row.from_country_code, row.from_party_id)
        if row.from_country_code and row.from_party_id
        else None,
        to_party=PartyRef(row.to_country_code, row.to_party_id)
        if row.to_country_code and row.to_party_id
        else None,
    )


class DeliveryWorker:
    """Keeps up to DELIVERY_CONCURRENCY pushes in flight.

    Rows are claimed as soon as there is room, so one slow receiver holds up nothing but its own
    row. Outcomes of finished pushes are written together in one transaction per loop turn (on
    SQLite every commit takes the write lock incoming pushes need too); until then a finished row
    is still 'sending', which keeps later rows of the same receiver and object waiting.
    """

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._outcomes: list[tuple[int, str, str | None, datetime | None]] = []

    def wake(self) -> None:
        """Called after a commit that queued deliveries: no need to wait for the next poll."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="delivery-worker")

    async def stop(self) -> None:
        """Stop at once; pushes in flight are abandoned (their leases expire and they are sent
        again), finished ones are recorded."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._in_flight):
            task.cancel()
        for task in list(self._in_flight):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self._flush()

    async def _run(self) -> None:
        poll = self.ctx.settings.delivery_poll_seconds
        while not self._stopping:
            try:
                busy = await self._turn()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end delivery for good
                log.exception("delivery round failed")
                busy = False
            if busy:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll)

    async def _turn(self) -> bool:
        """Record finished pushes and start new ones; False when there was nothing to do."""
        busy = await self._flush()
        room = self.ctx.settings.delivery_concurrency - len(self._in_flight)
        if room <= 0:
            return busy
        async with self.ctx.sessions() as session:
            rows = await outbox.claim(
                session, self.ctx.settings, min(room, self.ctx.settings.delivery_batch)
            )
            platforms = {
                platform_id: await session.get(Platform, platform_id)
                for platform_id in {r.platform_id for r in rows}
            }
        for row in rows:
            task = asyncio.create_task(self._deliver(row, platforms.get(row.platform_id)))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return busy or bool(rows)

    async def _flush(self) -> bool:
        if not self._outcomes:
            return False
        outcomes, self._outcomes = self._outcomes, []
        async with self.ctx.sessions() as session:
            for delivery_id, status, error, retry_at in outcomes:
                await outbox.finish(session, delivery_id, status, error=error, retry_at=retry_at)
            await session.commit()
        if any(status == DeliveryStatus.PENDING for _i, status, _e, _r in outcomes):
            # Something is due later: make sure the loop looks again.
            self._wake.set()
        return True

    async def _deliver(self, row: Delivery, platform: Platform | None) -> None:
        try:
            status, error, retry_at = await self._attempt(row, platform)
        except Exception as exc:  # a bug must not leave the row 'sending' until its lease ends
            log.exception("delivery %s failed unexpectedly", row.id)
            status, error = DeliveryStatus.PENDING, f"internal error: {type(exc).__name__}"
            retry_at = outbox.utcnow() + outbox.backoff(self.ctx.settings, row.attempts)
        assert row.id is not None
        self._outcomes.append((row.id, status, error, retry_at))
        self._wake.set()

    async def _attempt(
        self, row: Delivery, platform: Platform | None
    ) -> tuple[str, str | None, datetime | None]:
        settings = self.ctx.settings
        if platform is None or not platform.registered or platform.outbound_token is None:
            return DeliveryStatus.DROPPED, "receiver is no longer registered", None
        if platform.status == ConnectionStatus.SUSPENDED or (
            # An asynchronous result (row.url) is not resent by a resync: keep trying it.
            platform.status == ConnectionStatus.OFFLINE and row.url is None
        ):
            return DeliveryStatus.DROPPED, f"receiver is {platform.status}", None
        base = row.url or endpoint_url(platform, row.module, "RECEIVER")
        if base is None:
            return DeliveryStatus.FAILED, f"receiver has no {row.module} RECEIVER endpoint", None
        url = join_url(base, row.path) if row.path else base
        if row.query:
            url = f"{url}?{row.query}"
        try:
            token = self.ctx.cipher.decrypt(platform.outbound_token)
        except UndecryptableToken as exc:
            # No retry can help (the key will not change under a running hub): failed at once,
            # with the reason an admin needs (GET /admin/deliveries?status=failed, /admin).
            log.error("delivery %s to platform %s: %s", row.id, row.platform_id, exc)
            return DeliveryStatus.FAILED, str(exc), None
        reset = correlation_id_var.set(row.correlation_id)
        started = time.perf_counter()
        try:
            reply = await self.ctx.ocpi.request(
                row.method, url, token, json=row.body, routing=_routing(row), module=row.module
            )
            error = None
            if reply.ok:
                outcome = DeliveryStatus.DELIVERED
            elif 2000 <= reply.status_code < 3000 and reply.http_status not in (401, 403, 429):
                # The receiver refused this message: sending it again will not help.
                outcome = DeliveryStatus.FAILED
                error = f"refused: HTTP {reply.http_status}, OCPI {reply.status_code} " + (
                    reply.status_message or ""
                )
            else:
                outcome = DeliveryStatus.PENDING
                error = f"HTTP {reply.http_status}, OCPI {reply.status_code}"
        except PeerError as exc:
            outcome = DeliveryStatus.PENDING
            error = exc.message
        finally:
            correlation_id_var.reset(reset)
        elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
        log.info(
            "delivery %s %s %s -> %s",
            row.id,
            row.method,
            row.module,
            outcome,
            extra={
                "fields": {
                    "delivery_id": row.id,
                    "platform_id": row.platform_id,
                    "module": row.module,
                    "method": row.method,
                    "path": row.path,
                    "attempt": row.attempts,
                    "outcome": outcome,
                    "ms": elapsed_ms,
                    "correlation_id": row.correlation_id,
                    **({"error": error} if error else {}),
                }
            },
        )
        metrics = self.ctx.metrics
        metrics.delivery_outcomes.labels(row.module, outcome).inc()
        if outcome == DeliveryStatus.DELIVERED:
            waited = (outbox.utcnow() - row.created_at).total_seconds()
            metrics.delivery_latency.labels(row.module).observe(max(waited, 0.0))
        if outcome == DeliveryStatus.PENDING:
            if row.attempts >= settings.delivery_max_attempts:
                return (
                    DeliveryStatus.FAILED,
                    f"gave up after {row.attempts} attempts: {error}",
                    None,
                )
            return (
                DeliveryStatus.PENDING,
                error,
                outbox.utcnow() + outbox.backoff(settings, row.attempts),
            )
        return outcome, error, None
