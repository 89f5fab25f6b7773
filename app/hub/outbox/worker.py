"""The delivery worker: takes due rows from the outbox and pushes them to their receivers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from datetime import datetime

from sqlmodel import col, select

from app.core.ids import correlation_id_var
from app.core.security import UndecryptableToken
from app.core.settings import Settings
from app.hub import edge
from app.hub.context import HubContext
from app.hub.outbox import service as outbox
from app.hub.outbox.models import Delivery, DeliveryStatus
from app.hub.outbox.presence import Presence, recover_gone
from app.hub.parties.models import ConnectionStatus, Platform, endpoint_url
from app.ocpi.client import OcpiClient, PeerError, join_url
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef, RoutingHeaders
from app.ocpi.wire import WireClient

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


# How long a claim may wait for more free slots (see DeliveryWorker._turn).
CLAIM_HOLD = 0.05
# A receiver's connection pool is closed after this long without a push (see _close_idle_clients).
CLIENT_IDLE_SECONDS = 300.0


def _claim_at_least(settings: Settings) -> int:
    """Free slots worth a claim while pushes are in flight."""
    return max(1, min(settings.delivery_batch, settings.delivery_concurrency) // 4)


class DeliveryWorker:
    """Keeps up to DELIVERY_CONCURRENCY pushes in flight.

    Rows are claimed as soon as there is room, so one slow receiver holds up nothing but its own
    row. Each outcome is recorded as soon as it is known, in a short transaction of its own right
    after the answer, not on the loop's next turn: a worker that dies later (``kill -9``) has not
    left a delivered row 'sending', to be sent again by whoever takes it when its lease ends.
    Outcomes that come in while one such transaction runs are written together in the next one
    (on SQLite every commit takes the write lock that incoming pushes and claims need too).
    """

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._outcomes: list[tuple[outbox.Outcome, asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None
        self._recovered = -math.inf
        self._claimed_at = -math.inf
        self._held = False
        self.presence = Presence(ctx, on_notify=self.wake, on_lost=self._abandon)
        self._clients: dict[int, OcpiClient] = {}
        # Per receiver: pushes in flight on its client, and when it was last given one.
        self._client_users: dict[int, int] = {}
        self._client_used: dict[int, float] = {}
        self._swept = time.monotonic()

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
        if self._recorder is not None:
            with contextlib.suppress(Exception):
                await self._recorder
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.http.aclose()
        # Last: the rows of the pushes abandoned above are taken back by other instances now.
        await self.presence.close()

    def _client(self, platform_id: int) -> OcpiClient:
        """The HTTP client of one receiver's pushes: a connection pool of its own, so that a
        slow receiver's connections and slots are its own (up to DELIVERY_CONCURRENCY each).
        Same timeout, headers and metrics as the hub's shared client."""
        self._client_used[platform_id] = time.monotonic()
        client = self._clients.get(platform_id)
        if client is None:
            shared, slots = self.ctx.ocpi, self.ctx.settings.delivery_concurrency
            http = WireClient(
                timeout=shared.http.timeout,
                headers=shared.http.headers,
                max_connections=slots,
                max_keepalive=slots,
            )
            client = OcpiClient(http, timeout=shared.timeout, metrics=shared.metrics)
            self._clients[platform_id] = client
        return client

    async def _close_idle_clients(self) -> None:
        """Close the pools of receivers given no push for CLIENT_IDLE_SECONDS and none in
        flight (a platform removed or suspended, a receiver that went quiet): without this the
        pool of every receiver ever pushed to stays until the worker stops. Checked once a
        minute; a receiver pushed to again gets a new pool."""
        now = time.monotonic()
        if now - self._swept < 60:
            return
        self._swept = now
        idle = [
            platform_id
            for platform_id, used in self._client_used.items()
            if now - used > CLIENT_IDLE_SECONDS and not self._client_users.get(platform_id)
        ]
        for platform_id in idle:
            del self._client_used[platform_id]
            self._client_users.pop(platform_id, None)
            client = self._clients.pop(platform_id, None)
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.http.aclose()

    def _abandon(self) -> None:
        """The presence lock is lost: other instances may take this instance's rows in flight
        now, so none of them may still be on its way from here."""
        for task in list(self._in_flight):
            task.cancel()

    async def _run(self) -> None:
        poll = self.ctx.settings.delivery_poll_seconds
        polled = True
        while not self._stopping:
            try:
                busy = await self._turn(polled)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end delivery for good
                log.exception("delivery round failed")
                busy = False
            if busy:
                polled = False
                continue
            self._wake.clear()
            # (A claim held back for more room is made when its hold ends, answers or not.)
            held = self._held
            wait = max(self._claimed_at + CLAIM_HOLD - time.monotonic(), 0.0) if held else poll
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
                polled = False
            except TimeoutError:
                polled = not held

    async def _turn(self, polled: bool = False) -> bool:
        """Start new pushes; False when there was nothing to do.

        ``polled``: no commit queued anything since the last turn (the poll's timer ran out), so
        a read of the partial indexes decides whether a claim (a write and a commit) is worth it.
        """
        await self._close_idle_clients()
        settings = self.ctx.settings
        room = settings.delivery_concurrency - len(self._in_flight)
        if room <= 0:
            # Nothing to hold: an answer frees a slot and wakes the loop.
            self._held = False
            return False
        # A claim is a write transaction (on SQLite it takes the one write lock the pushes need
        # too): while many pushes are in flight, wait until a quarter of the slots are free
        # rather than claim a row or two after each answer, but no longer than CLAIM_HOLD after
        # the last claim. An idle worker claims whatever room there is.
        if (
            not polled
            and self._in_flight
            and room < _claim_at_least(settings)
            and time.monotonic() < self._claimed_at + CLAIM_HOLD
        ):
            self._held = True
            return False
        self._held = False
        self._claimed_at = time.monotonic()
        poll = self.ctx.settings.delivery_poll_seconds
        now = time.monotonic()
        recovering = now - self._recovered >= poll
        if recovering and self.presence.enabled and not self.presence.held:
            await self.presence.ensure()
        # Rows are claimed in this instance's name only while it holds its presence lock.
        me = self.ctx.instance_id if self.presence.held else None
        async with self.ctx.sessions() as session:
            if polled and not await outbox.anything_due(session, me):
                return False
            # Rows whose lease ran out, or whose instance is gone: taken back at most once a
            # poll, not on every claim.
            if recovering:
                self._recovered = now
                await outbox.recover(session)
                if me is not None:
                    await recover_gone(session, me)
            rows = await outbox.claim(session, settings, min(room, settings.delivery_batch), me)
            # The receivers as they are now (status, token, endpoints), in one query.
            ids = {r.platform_id for r in rows}
            found = (
                await session.exec(select(Platform).where(col(Platform.id).in_(ids))) if ids else ()
            )
            platforms = {p.id: p for p in found}
        for row in rows:
            task = asyncio.create_task(self._deliver(row, platforms.get(row.platform_id)))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return bool(rows)

    def take(
        self,
        row: Delivery,
        platform: Platform,
        committed: asyncio.Future[bool] | None = None,
    ) -> None:
        """Send a row that this instance took in the transaction that queued it ('sending',
        attempt 1, its lease set: a result relayed at once, app/hub/relay/service.py): the same
        attempt as a claimed row's, its outcome recorded the same way.

        ``committed``: the row is sent while its transaction commits; its outcome is recorded
        once the commit is done (True), and not at all when it failed (False: no such row)."""
        task = asyncio.create_task(self._deliver(row, platform, wake=False, committed=committed))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _deliver(
        self,
        row: Delivery,
        platform: Platform | None,
        wake: bool = True,
        committed: asyncio.Future[bool] | None = None,
    ) -> None:
        assert row.id is not None
        try:
            # An earlier attempt may have been applied (see outbox.prepare_repeat).
            repeat = row.attempts > 1 and outbox.repeat_needs_full_session(row)
            if repeat and not await self._prepare_repeat(row):
                self._wake.set()
                return
            # An attempt ends before the row's lease does: once another worker may take the row
            # again, this copy must not be on its way still (it could arrive after the repeat).
            async with asyncio.timeout(self._time_left(row)):
                status, error, retry_at = await self._attempt(row, platform)
        except TimeoutError:
            status, error = DeliveryStatus.PENDING, "no answer before the row's lease ended"
            retry_at = outbox.utcnow() + outbox.backoff(self.ctx.settings, row.attempts)
        except Exception as exc:  # a bug must not leave the row 'sending' until its lease ends
            log.exception("delivery %s failed unexpectedly", row.id)
            status, error = DeliveryStatus.PENDING, f"internal error: {type(exc).__name__}"
            retry_at = outbox.utcnow() + outbox.backoff(self.ctx.settings, row.attempts)
        if committed is not None and not await asyncio.shield(committed):
            return
        await self._record(outbox.Outcome(row.id, row.attempts, status, error, retry_at))
        # A slot is free, and the rows queued after this one may leave now. (After a row taken
        # at once and delivered, no claim round: the only row that can wait behind it is a
        # second result to the same response_url, which the next poll takes.)
        if wake or status != DeliveryStatus.DELIVERED:
            self._wake.set()

    def _time_left(self, row: Delivery) -> float:
        """Seconds until shortly before the row's lease ends."""
        lease = self.ctx.settings.delivery_lease_seconds
        if row.lease_until is None:
            return lease
        margin = min(1.0, lease / 10)
        return max((row.lease_until - outbox.utcnow()).total_seconds() - margin, 0.0)

    async def _prepare_repeat(self, row: Delivery) -> bool:
        async with self.ctx.sessions() as session:
            reason = await outbox.prepare_repeat(session, row)
            await session.commit()
        if reason is not None:
            log.info("delivery %s not repeated: %s", row.id, reason)
        return reason is None

    async def _record(self, outcome: outbox.Outcome) -> None:
        """Write the outcome now, with any others that are waiting (one transaction)."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((outcome, written))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._write_outcomes(), name="delivery-outcomes")
        # Shielded: a worker stopping while this push's outcome is being written still writes it.
        await asyncio.shield(written)

    async def _write_outcomes(self) -> None:
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            for attempt in range(1, 4):
                try:
                    async with self.ctx.sessions() as session:
                        await outbox.finish_many(session, [o for o, _written in batch], commit=True)
                        await session.commit()
                    break
                except Exception:
                    if attempt < 3:
                        log.warning("recording %s delivery outcomes failed; again", len(batch))
                        await asyncio.sleep(self.ctx.settings.delivery_poll_seconds)
                        continue
                    # Given up: those rows stay 'sending' until their lease ends, then go out
                    # again, which delivery can afford (a repeat does no harm).
                    log.exception("recording %s delivery outcomes failed", len(batch))
            for _o, written in batch:
                if not written.done():
                    written.set_result(None)

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
        try:
            # In the receiver's OCPI version (app/hub/edge.py); 2.2.1 receivers get the row.
            out = await edge.outbound(
                self.ctx.sessions,
                settings,
                platform,
                module=row.module,
                interface="RECEIVER",
                method=row.method,
                path=row.path,
                query=row.query,
                body=row.body,
                routing=_routing(row),
                result=row.url is not None,
            )
        except OcpiError as exc:
            log.info("delivery %s not sent to platform %s: %s", row.id, row.platform_id, exc)
            return DeliveryStatus.DROPPED, f"not sent in OCPI {platform.version}: {exc}", None
        url = join_url(base, out.path) if out.path else base
        if out.query:
            url = f"{url}?{out.query}"
        try:
            token = self.ctx.cipher.decrypt(platform.outbound_token)
        except UndecryptableToken as exc:
            # No retry can help (the key will not change under a running hub): failed at once,
            # with the reason an admin needs (GET /admin/deliveries?status=failed, /admin).
            log.error("delivery %s to platform %s: %s", row.id, row.platform_id, exc)
            return DeliveryStatus.FAILED, str(exc), None
        reset = correlation_id_var.set(row.correlation_id)
        started = time.perf_counter()
        users = self._client_users
        users[row.platform_id] = users.get(row.platform_id, 0) + 1
        try:
            reply = await self._client(row.platform_id).request(
                out.method,
                url,
                token,
                json=out.body,
                routing=out.routing,
                module=row.module,
                # Every attempt of this row, by any instance, carries the same X-Request-ID.
                request_id=row.request_id,
                version=out.version,
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
            users[row.platform_id] -= 1
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
                    "request_id": row.request_id,
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
