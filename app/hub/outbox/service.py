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
- Delivery is at least once, so a repeat must be harmless: every row carries the X-Request-ID and
  X-Correlation-ID of its request from the moment it is queued (a resend, by any instance, carries
  the same ids, so the receiver can tell a repeat), and a row whose earlier attempt may have been
  applied is sent again in a form that cannot count twice (``prepare_repeat``).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, or_, text, tuple_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import detached
from app.core.dbtypes import utcnow
from app.core.ids import correlation_id_var, new_id
from app.core.settings import Settings
from app.core.sqlite_driver import committing, quick
from app.hub.outbox.models import Delivery, DeliveryStatus
from app.hub.store import service as store
from app.ocpi.headers import PartyRef


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


# The channel outbox.presence LISTENs on.
OUTBOX_CHANNEL = "voltroam_outbox"
_NOTIFY = text(f"SELECT pg_notify('{OUTBOX_CHANNEL}', '')")

DELIVERY: Table = Delivery.__table__  # type: ignore[attr-defined]
_c = DELIVERY.c
_INSERT = insert(DELIVERY)


def _row(push: Push, correlation: str, now: datetime) -> dict[str, Any]:
    """The columns of a new pending row for ``push``."""
    return {
        "platform_id": push.platform_id,
        "module": push.module,
        "method": push.method,
        "path": push.path,
        "query": push.query,
        "url": push.url,
        "object_ref": push.object_ref,
        "body": push.body,
        "from_country_code": push.from_party.country_code if push.from_party else None,
        "from_party_id": push.from_party.party_id if push.from_party else None,
        "to_country_code": push.to_party.country_code if push.to_party else None,
        "to_party_id": push.to_party.party_id if push.to_party else None,
        "correlation_id": correlation,
        # A new X-Request-ID for each push ("a new unique value [...] not a copy of the
        # X-Request-ID [...] of the incoming request"), fixed now: its attempts repeat it.
        "request_id": new_id(),
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def enqueue(session: AsyncSession, pushes: Sequence[Push]) -> None:
    """Queue the pushes in the caller's transaction (the caller commits).

    SQLAlchemy Core statements, executed at once: one UPDATE per object that a full version
    supersedes and one multi-row INSERT, without building ORM objects (this runs on every push).
    Rows are inserted in the order of ``pushes``, so their ids keep it.
    """
    if not pushes:
        return
    # The request being handled keeps its correlation id across the hop ("the request SHALL
    # contain the same X-Correlation-ID"); work that no request started (a TIMEOUT result, an
    # OCPP charger's Session) gets one here, stored, so that every attempt of every push of this
    # unit of work carries the same one.
    correlation = correlation_id_var.get() or new_id()
    # One UPDATE per object (not per receiver) marks what the new full versions supersede.
    superseding: dict[str, set[int]] = {}
    for push in pushes:
        if push.full:
            superseding.setdefault(push.object_ref, set()).add(push.platform_id)
    for ref, platform_ids in superseding.items():
        await session.exec(
            update(DELIVERY)
            .where(
                _c.platform_id.in_(platform_ids),
                _c.object_ref == ref,
                _c.status == DeliveryStatus.PENDING,
            )
            .values(status=DeliveryStatus.SUPERSEDED, last_error="a newer version was queued")
        )
    now = utcnow()
    values = [_row(push, correlation, now) for push in pushes]
    # One INSERT executed for every row (a statement compiled once and cached; several rows
    # go to the driver's executemany), in the order of the rows: ids follow it.
    await session.exec(_INSERT, params=values)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # Sent at commit (and only then) to every instance's worker (outbox.presence).
        await (await session.connection()).execute(_NOTIFY)


_INSERT_TAKEN = quick(insert(DELIVERY).returning(_c.id))
_INSERT_TAKEN_COMMITTING = committing(_INSERT_TAKEN)


async def enqueue_taken(
    session: AsyncSession, push: Push, lease_until: datetime, *, commit: bool = False
) -> Delivery:
    """Queue one push already taken by this instance: 'sending', attempt 1, its lease set, for
    the caller to hand to its worker right after the commit (a CommandResult relayed at once,
    app/hub/relay/service.py). The row is the fallback: should this instance stop before the
    outcome is recorded, the lease ends and any instance sends it (the same request id).
    (No ``leased_by``: it is not claimed under the worker's presence lock.)

    One Core INSERT; with ``commit`` it is the last statement of the caller's unit of work, and
    SQLite commits it in the same trip (``committing``; the caller's commit then costs nothing).
    """
    values = _row(push, correlation_id_var.get() or new_id(), utcnow())
    values.update(status=DeliveryStatus.SENDING, attempts=1, lease_until=lease_until)
    conn = await session.connection()
    statement = _INSERT_TAKEN_COMMITTING if commit else _INSERT_TAKEN
    row_id = (await conn.execute(statement, values)).scalar_one()
    return detached(
        Delivery,
        {"id": row_id, "leased_by": None, "last_error": None, "delivered_at": None, **values},
    )


def _open_earlier() -> Any:
    """An earlier row of the same receiver and object is still open (served by the partial
    index ix_delivery_open_order)."""
    earlier = DELIVERY.alias("earlier")
    return (
        select(earlier.c.id)
        .where(
            earlier.c.platform_id == _c.platform_id,
            earlier.c.object_ref == _c.object_ref,
            earlier.c.id < _c.id,
            earlier.c.status.in_(DeliveryStatus.OPEN),
        )
        .exists()
    )


async def anything_due(session: AsyncSession, me: str | None = None) -> bool:
    """Whether a claim or a recovery could find work: one read of two partial indexes.

    What an idle worker runs on each poll instead of a claim (which writes and commits). With
    ``me`` (this instance's id, when it holds its presence lock), rows in flight at another
    instance count too: that instance may be gone.
    """
    params: dict[str, Any] = {"now": utcnow()}
    if me is not None:
        params["me"] = me
    stmt = _ANYTHING_DUE_OR_ELSEWHERE if me is not None else _ANYTHING_DUE
    found = (await session.exec(stmt, params=params)).one()
    return any(found)


def _anything_due(with_me: bool) -> Any:
    now = bindparam("now", type_=_c.next_attempt_at.type)
    due = (
        select(_c.id).where(_c.status == DeliveryStatus.PENDING, _c.next_attempt_at <= now).limit(1)
    )
    expired = (
        select(_c.id)
        .where(
            _c.status == DeliveryStatus.SENDING,
            or_(_c.lease_until < now, _c.leased_by != bindparam("me"))
            if with_me
            else _c.lease_until < now,
        )
        .limit(1)
    )
    return select(due.exists(), expired.exists())


# What an idle worker reads on every poll, built once (building it cost more than running it).
_ANYTHING_DUE = _anything_due(with_me=False)
_ANYTHING_DUE_OR_ELSEWHERE = _anything_due(with_me=True)


async def recover(session: AsyncSession, live_instances: Collection[str] | None = None) -> int:
    """Rows in flight whose lease ended, or whose instance is gone: back to the queue.

    ``live_instances``: when given, a row leased by an instance not in it is taken back at once
    (its worker cannot be sending it any more). The caller commits.
    """
    gone: Any = _c.lease_until < utcnow()
    if live_instances is not None:
        # (A row claimed without an instance id keeps its lease: NOT IN is not true for NULL.)
        gone = or_(gone, _c.leased_by.not_in(list(live_instances)))
    result = await session.exec(
        update(DELIVERY)
        .where(_c.status == DeliveryStatus.SENDING, gone)
        .values(status=DeliveryStatus.PENDING, lease_until=None, leased_by=None)
    )
    return int(result.rowcount or 0)


def claim_statement(settings: Settings, limit: int, instance_id: str | None, postgres: bool) -> Any:
    """The claim's UPDATE ... RETURNING (see ``claim``)."""
    now = utcnow()
    candidates = (
        select(_c.id)
        .where(
            _c.status == DeliveryStatus.PENDING,
            _c.next_attempt_at <= now,
            ~_open_earlier(),
        )
        .order_by(_c.next_attempt_at, _c.id)
        .limit(limit)
    )
    if postgres:
        candidates = candidates.with_for_update(skip_locked=True)
    lease = now + timedelta(seconds=settings.delivery_lease_seconds)
    # Core, not the ORM: the claimed rows come back as plain rows (``claim`` makes them
    # Delivery objects for a fraction of what the ORM's loading costs per row).
    return (
        update(DELIVERY)
        .where(_c.id.in_(candidates.scalar_subquery()))
        .values(
            status=DeliveryStatus.SENDING,
            lease_until=lease,
            leased_by=instance_id,
            attempts=_c.attempts + 1,
        )
        .returning(*DELIVERY.c)
    )


# For the claim's transaction only (set_config(..., true) is SET LOCAL), in one round trip.
# The plan must not depend on statistics: a generic plan cached by a pooled connection while the
# outbox was empty scanned the whole table for every candidate once it held 100,000 rows (20 s a
# claim), and with statistics of an empty table a fresh plan gathered and sorted every pending
# row (0.14 s on 20,000). Re-planned at every execution and with sorts, bitmap, sequential, hash
# and merge scans ruled out, the one plan left walks ix_delivery_pending_due in order and probes
# ix_delivery_open_order per candidate, stopping at ``limit``: a few ms, whatever ANALYZE last saw.
_PLAN_SETTINGS = text(
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
    " set_config('enable_sort', 'off', true),"
    " set_config('enable_bitmapscan', 'off', true),"
    " set_config('enable_seqscan', 'off', true),"
    " set_config('enable_hashjoin', 'off', true),"
    " set_config('enable_mergejoin', 'off', true)"
)


async def claim(
    session: AsyncSession, settings: Settings, limit: int, instance_id: str | None = None
) -> list[Delivery]:
    """Claim up to ``limit`` due deliveries, at most one per receiver and object; commits.

    One UPDATE ... RETURNING: the candidates come from the partial index of pending rows (due
    first), each checked against the partial index of open rows. On PostgreSQL they are locked
    with ``FOR UPDATE SKIP LOCKED`` (several instances share the queue), and its plan does not
    depend on table statistics (``_PLAN_SETTINGS``). Rows whose lease ran out are not taken back
    here (see ``recover``).
    """
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    if postgres:
        await (await session.connection()).execute(_PLAN_SETTINGS)
    stmt = claim_statement(settings, limit, instance_id, postgres)
    connection = await session.connection()
    claimed = (await connection.execute(stmt)).all()
    await session.commit()
    # Detached, as the ORM's would be once the session is closed (they are not in it).
    return sorted((detached(Delivery, row._asdict()) for row in claimed), key=lambda r: r.id or 0)


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Exponential backoff with full jitter, capped."""
    ceiling = min(
        settings.delivery_backoff_cap_seconds,
        settings.delivery_backoff_base_seconds * (2 ** max(attempts - 1, 0)),
    )
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - not crypto


def _outcome_values(
    status: str, error: str | None, retry_at: datetime | None, now: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": status,
        "lease_until": None,
        "leased_by": None,
        "last_error": (error or None) and error[:500],
    }
    if status == DeliveryStatus.PENDING:
        values["next_attempt_at"] = retry_at or now
    if status == DeliveryStatus.DELIVERED:
        values["delivered_at"] = now
    return values


async def finish(
    session: AsyncSession,
    delivery_id: int,
    attempt: int,
    status: str,
    *,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Record the outcome of attempt number ``attempt`` (the caller commits).

    Only while the row is still at that attempt: when this worker was too slow (its lease ran
    out and another worker took the row again, or an admin re-queued it), the newer attempt's
    outcome is the one that counts. Returns whether it was recorded.
    """
    recorded = await finish_many(session, [Outcome(delivery_id, attempt, status, error, retry_at)])
    return bool(recorded)


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    attempt: int
    status: str
    error: str | None = None
    retry_at: datetime | None = None


async def finish_many(
    session: AsyncSession, outcomes: Sequence[Outcome], *, commit: bool = False
) -> int:
    """Record several outcomes, each guarded as in ``finish`` (the caller commits).

    One UPDATE per distinct outcome (all the deliveries that went through share one), matching
    (id, attempt) pairs. Returns how many rows were recorded. With ``commit`` these UPDATEs are
    the whole unit of work: on SQLite the last one commits it in its own trip (``committing``),
    so the write lock is held for one trip to SQLite's thread, not until the event loop gets
    round to the COMMIT (every other writer waits for that lock, the busy handler sleeping at
    least a millisecond).
    """
    now = utcnow()
    groups: dict[tuple[str, str | None, datetime | None], list[tuple[int, int]]] = {}
    for o in outcomes:
        groups.setdefault((o.status, o.error, o.retry_at), []).append((o.delivery_id, o.attempt))
    recorded = 0
    last = len(groups) - 1
    for i, ((status, error, retry_at), keys) in enumerate(groups.items()):
        values = _outcome_values(status, error, retry_at, now)
        params: dict[str, Any] = {f"v_{name}": value for name, value in values.items()}
        params["ids"] = [k[0] for k in keys]
        params["keys"] = keys
        statement = _finish_statement(tuple(values), commit and i == last)
        result = await session.exec(statement, params=params)
        recorded += int(result.rowcount or 0)
    return recorded


# finish_many's UPDATEs, one per set of columns an outcome sets (three), built once with bound
# parameters: building the statement (its IN lists above all) cost more CPU than running it, a
# tenth of the hub's CPU per relayed command result.
_FINISH: dict[tuple[tuple[str, ...], bool], Any] = {}


def _finish_statement(columns: tuple[str, ...], commit: bool = False) -> Any:
    statement = _FINISH.get((columns, commit))
    if statement is None:
        statement = (
            update(DELIVERY)
            .where(
                _c.id.in_(bindparam("ids", expanding=True)),
                tuple_(_c.id, _c.attempts).in_(bindparam("keys", expanding=True)),
                _c.status.in_(DeliveryStatus.OPEN),
            )
            .values({name: bindparam(f"v_{name}", type_=_c[name].type) for name in columns})
        )
        # (A batch of outcomes by primary key: quick on SQLite.)
        statement = quick(committing(statement) if commit else statement)
        _FINISH[(columns, commit)] = statement
    return statement


# Why sending a push again cannot do harm, module by module. A repeat happens when the outcome of
# an attempt is unknown to the hub: its worker died (even ``kill -9``) between sending and
# recording, the receiver's answer never came (timeout, a dropped connection, a 5xx), or an admin
# queued a failed push again. The receiver may or may not have applied the first copy. Later rows
# of the same receiver and object wait until this one is closed, so a repeat always comes before
# anything newer about its object.
# - locations PUT (Location, EVSE, Connector), tariffs PUT, tokens PUT, sessions PUT,
#   chargingprofiles PUT (ActiveChargingProfile), hubclientinfo PUT: "The newly received [...]
#   object SHALL replace the existing object": the same object twice is the same object.
# - tariffs DELETE: the Tariff is gone either way (a receiver may answer that it does not know it
#   any more; that ends the row as failed and changes nothing).
# - locations PATCH (Location, EVSE, Connector) and tokens PATCH: a PATCH sets the fields it
#   carries ("Fields/objects which are not specified are considered unchanged"), lists included;
#   none of these objects has a field a PATCH adds to, so a repeat sets the same values again.
# - sessions PATCH is the exception: "When a PATCH request contains the charging_periods field
#   [...] this SHALL be processed as a request to add all the ChargingPeriod objects", so a
#   repeat would count its energy and time twice. It is sent again as a PUT of the whole Session
#   as the hub stores it ("the Sender SHALL use the PUT method to replace the entire Session
#   object (including all the charging_periods)"), see ``prepare_repeat``.
# - cdrs POST: the same CDR, with the same id ("unique per country_code/party_id"), and the same
#   X-Request-ID: the eMSP already holds a CDR with that id and can tell the copy. CDRs have no
#   PUT; a CDR is final, so there is nothing newer to send instead.
# - commands and chargingprofiles results POSTed to a requester's response_url (the CPO's
#   CommandResult or ChargingProfileResult, or the hub's own TIMEOUT): the same body with the same
#   ids; a result states an outcome, and stating it again changes nothing.
def repeat_needs_full_session(row: Delivery) -> bool:
    """Whether a repeat of this row must be turned into a PUT of the whole Session."""
    return row.module == "sessions" and row.method == "PATCH"


async def prepare_repeat(session: AsyncSession, row: Delivery) -> str | None:
    """Turn a Session PATCH that may have reached its receiver into a PUT of the whole Session.

    The PUT carries the Session as the hub stores it now, so it also holds what the rows queued
    after this one (same receiver and Session, not sent yet: they wait for this one) would have
    added: those are superseded and not sent. It gets a new X-Request-ID: it is another request
    than the PATCH (a receiver that drops a repeat by X-Request-ID must not drop it), and its own
    repeats carry that one. Same X-Correlation-ID.

    Guarded like ``finish``: nothing changes unless the row is still at ``row.attempts`` in
    ``row.status``. Returns None when the row is ready to send, else why it is not (the caller
    then leaves it alone; when the Session is gone or now belongs to another eMSP's token, the row
    is closed here). The caller commits.
    """
    ref = store.parse_object_ref(row.object_ref)
    current = None
    if ref is not None:
        module, owner, key, subtype = ref
        # Locked before anything else: no new version (and no new row for it) can be stored
        # between reading the Session and superseding the rows it covers.
        current = await store.get_locked(session, module, owner, key, subtype)
    guard = (
        col(Delivery.id) == row.id,
        col(Delivery.status) == row.status,
        col(Delivery.attempts) == row.attempts,
    )
    to_party = (
        PartyRef(row.to_country_code, row.to_party_id)
        if row.to_country_code and row.to_party_id
        else None
    )
    recipient = (
        PartyRef(current.recipient_country_code, current.recipient_party_id)
        if current is not None and current.recipient_country_code and current.recipient_party_id
        else None
    )
    # Not sent on a guess, and another eMSP's Session is never sent to this one.
    ended: tuple[str, str] | None = None
    if current is None:
        reason = "the Session is no longer stored; its PATCH may have been applied already"
        ended = (DeliveryStatus.FAILED, reason)
    elif to_party is not None and recipient != to_party:
        ended = (DeliveryStatus.SUPERSEDED, "the Session now belongs to another eMSP's token")
    if ended is not None:
        await session.exec(
            update(Delivery)
            .where(*guard)
            .values(status=ended[0], lease_until=None, leased_by=None, last_error=ended[1])
            .execution_options(synchronize_session=False)
        )
        return ended[1]
    assert current is not None
    request_id = new_id()
    taken = await session.exec(
        update(Delivery)
        .where(*guard)
        .values(method="PUT", body=current.data, request_id=request_id)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        return "taken by another attempt"
    await session.exec(
        update(Delivery)
        .where(
            col(Delivery.platform_id) == row.platform_id,
            col(Delivery.object_ref) == row.object_ref,
            col(Delivery.id) > row.id,
            col(Delivery.status) == DeliveryStatus.PENDING,
        )
        .values(
            status=DeliveryStatus.SUPERSEDED,
            last_error=f"included in the whole Session sent by delivery {row.id}",
        )
        .execution_options(synchronize_session=False)
    )
    row.method, row.body, row.request_id = "PUT", current.data, request_id
    return None


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
    # An earlier attempt may have been applied; the count of attempts restarts below, so the
    # worker would not know this is a repeat: the Session PATCH becomes a PUT here.
    repeat = row.attempts > 0 and repeat_needs_full_session(row)
    if repeat and await prepare_repeat(session, row) is not None:
        await session.commit()
        await session.refresh(row)
        return row
    row.request_id = row.request_id or new_id()
    row.correlation_id = row.correlation_id or new_id()
    row.status = DeliveryStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.last_error = None
    session.add(row)
    await session.commit()
    return row
