"""Relaying requests whose answer comes later, to a ``response_url`` (Commands, ChargingProfiles).

The hub replaces the requester's ``response_url`` with its own URL carrying a unique id and
remembers the original in the database. The receiver's asynchronous result is then queued to the
original URL through the outbox, so it survives a restart and is retried like any push.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError
from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import detached
from app.core.dbtypes import utcnow
from app.core.sqlite_driver import committing, quick
from app.hub.context import HubContext
from app.hub.directory.service import platform_by_id
from app.hub.forward import call_party
from app.hub.outbox.service import Push, enqueue, enqueue_taken
from app.hub.parties.models import ConnectionStatus, Platform
from app.hub.relay.models import Callback, CallbackStatus
from app.hub.routing import Party
from app.ocpi.client import OcpiReply
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.version import VERSION_PREFIX

log = logging.getLogger("voltroam.relay")

RESULT_PATHS = {"command": "sender/commands", "chargingprofile": "sender/chargingprofiles/results"}
# How long past the receiver's announced timeout the hub waits before answering TIMEOUT itself.
TIMEOUT_GRACE_SECONDS = 5
# How long a command's deadline waits to be written (seconds): a result relayed meanwhile
# makes it moot (``record_answer``).
RECORD_WINDOW = 0.05


def result_url(ctx: HubContext, callback: Callback) -> str:
    return result_url_of(ctx, callback.kind, callback.public_id)


def result_url_of(ctx: HubContext, kind: str, public_id: str) -> str:
    return f"{ctx.settings.base_url}{VERSION_PREFIX}/{RESULT_PATHS[kind]}/{public_id}"


def callback_values(
    *,
    kind: str,
    action: str,
    subject: str | None,
    requester_platform_id: int | None,
    requester: PartyRef,
    receiver: Party,
    original_url: str,
) -> dict[str, Any]:
    """The columns of a new callback (without its id)."""
    return {
        "public_id": secrets.token_urlsafe(18),
        "kind": kind,
        "action": action,
        "subject": subject,
        "requester_platform_id": requester_platform_id,
        "requester_country_code": requester.country_code,
        "requester_party_id": requester.party_id,
        "receiver_platform_id": receiver.platform.id,
        "receiver_country_code": receiver.ref.country_code,
        "receiver_party_id": receiver.ref.party_id,
        "original_url": original_url,
        "status": CallbackStatus.WAITING,
        "expires_at": None,
        "results": [],
        "created_at": utcnow(),
        "answered_at": None,
    }


_CALLBACK_TABLE = Callback.__table__  # type: ignore[attr-defined]
# (Core statements on the table, run on the session's connection: no ORM step per execution.)
# Committed in the INSERT's own trip on SQLite (app/core/sqlite_driver.py): the eMSP's answer
# waits for this commit, and a second trip to SQLite's thread was most of that wait.
_INSERT_CALLBACK = quick(committing(insert(_CALLBACK_TABLE).returning(_CALLBACK_TABLE.c.id)))


async def _insert(session: AsyncSession, values: dict[str, Any]) -> Callback:
    # One INSERT (no unit of work), committed.
    conn = await session.connection()
    callback_id = (await conn.execute(_INSERT_CALLBACK, values)).scalar_one()
    await session.commit()
    return detached(Callback, {"id": callback_id, **values})


async def open_callback(session: AsyncSession, values: dict[str, Any]) -> Callback:
    """A callback (``callback_values``), committed before the request leaves: the receiver may
    post its result before it answers."""
    return await _insert(session, values)


def open_callback_meanwhile(
    session: AsyncSession, ctx: HubContext, values: dict[str, Any]
) -> asyncio.Task[Callback]:
    """Write the callback (``callback_values``) while the request goes to the receiver already:
    the task's result is the committed callback. Its response_url is known at once
    (``values["public_id"]``); a result posted to it before the commit waits for this write
    (``find``). ``session`` is the task's until it is done: await it before using the session.
    """
    public_id = values["public_id"]
    written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    ctx.callbacks.pending[public_id] = written

    async def write() -> Callback:
        try:
            callback = await _insert(session, values)
        except BaseException:
            written.set_result(False)
            raise
        finally:
            if ctx.callbacks.pending.get(public_id) is written:
                del ctx.callbacks.pending[public_id]
        ctx.callbacks.remember(public_id, {"id": callback.id, **values})
        written.set_result(True)
        return callback

    def done(_task: asyncio.Task[Callback]) -> None:
        # (Cancelled before it ran: nobody waits for it forever.)
        if not written.done():
            written.set_result(False)
        if ctx.callbacks.pending.get(public_id) is written:
            del ctx.callbacks.pending[public_id]

    task = asyncio.create_task(write())
    task.add_done_callback(done)
    return task


def expires_at(now: datetime, timeout_seconds: int | None) -> datetime:
    """When the hub answers TIMEOUT itself: the receiver's announced timeout, plus the grace."""
    return now + timedelta(seconds=max(timeout_seconds or 0, 0) + TIMEOUT_GRACE_SECONDS)


async def after_response(
    session: AsyncSession,
    callback: Callback,
    accepted: bool,
    timeout_seconds: int | None,
    ctx: HubContext | None = None,
) -> None:
    """The receiver answered the request itself: wait for its result, or close the callback."""
    values: dict[str, Any]
    if accepted:
        values = {"expires_at": expires_at(utcnow(), timeout_seconds)}
    else:
        values = {"status": CallbackStatus.ANSWERED, "answered_at": utcnow()}
        if ctx is not None:
            ctx.callbacks.forget(callback.public_id)
    # One UPDATE of these columns only (a result may have been stored meanwhile).
    await session.exec(
        update(Callback)
        .where(col(Callback.id) == callback.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    for name, value in values.items():
        set_committed_value(callback, name, value)
    await session.commit()


_CALLBACK_COLUMNS = tuple(Callback.__table__.columns)  # type: ignore[attr-defined]


_FIND = quick(
    select(*_CALLBACK_COLUMNS).where(
        col(Callback.kind) == bindparam("kind"),
        col(Callback.public_id) == bindparam("public_id"),
    )
)
# A miss on an id of the hub's own shape is looked up again for this long (seconds, in steps):
# another instance may be committing the callback while its receiver already answers.
_MISS_WAITS = (0.05, 0.1, 0.2, 0.4)
_PUBLIC_ID_LENGTH = len(secrets.token_urlsafe(18))


async def find(
    session: AsyncSession, kind: str, public_id: str, ctx: HubContext | None = None
) -> Callback | None:
    """The callback behind one of the hub's response_urls (one Core SELECT, or none for a
    callback this instance opened; the row comes back detached, ``session.add`` it to change
    it). With ``ctx``: a callback still being written by this instance is waited for, and an
    unknown id of the hub's own shape is looked up again for a moment (being written by
    another instance)."""
    if ctx is not None:
        pending = ctx.callbacks.pending.get(public_id)
        if pending is not None:
            await asyncio.shield(pending)
        values = ctx.callbacks.get(public_id)
        if values is not None and values["kind"] == kind:
            return _held(session, values["id"]) or detached(Callback, values)
    waits = _MISS_WAITS if ctx is not None and len(public_id) == _PUBLIC_ID_LENGTH else ()
    for wait in (0.0, *waits):
        if wait:
            await session.rollback()  # (a fresh snapshot)
            await asyncio.sleep(wait)
        row = (await session.exec(_FIND, params={"kind": kind, "public_id": public_id})).first()
        if row is not None:
            return _held(session, row.id) or detached(Callback, row._asdict())
    return None


def _held(session: AsyncSession, callback_id: int) -> Callback | None:
    """Already in this session (as an ORM query would have answered): that object."""
    held = session.sync_session.identity_map.get(identity_key(Callback, callback_id))
    return held if isinstance(held, Callback) else None


async def latest_for_subject(
    session: AsyncSession,
    kind: str,
    subject: str,
    action: str | None = None,
    *,
    requester_platform_id: int | None = None,
) -> Callback | None:
    stmt = select(Callback).where(Callback.kind == kind, Callback.subject == subject)
    if action is not None:
        stmt = stmt.where(Callback.action == action)
    if requester_platform_id is not None:
        stmt = stmt.where(Callback.requester_platform_id == requester_platform_id)
    return (await session.exec(stmt.order_by(col(Callback.id).desc()))).first()


def result_body(result: str, text: str | None = None) -> dict[str, Any]:
    """A CommandResult the hub states itself (for the own chargers, or TIMEOUT)."""
    body: dict[str, Any] = {"result": result}
    if text:
        body["message"] = [{"language": "en", "text": text[:512]}]
    return body


def _result_push(callback: Callback, module: str, body: dict[str, Any]) -> Push:
    """The result, to the requester's own response_url, as from the receiver to the requester.

    Through the outbox like any push, so it is repeated when the hub does not know whether it
    arrived; a repeat is the same body with the same X-Request-ID and X-Correlation-ID (fixed
    when it is queued), and a result stated twice changes nothing at the requester.
    """
    return Push(
        platform_id=callback.requester_platform_id or 0,
        module=module,
        method="POST",
        path="",
        url=callback.original_url,
        object_ref=f"callback:{callback.public_id}",
        body=body,
        from_party=PartyRef(callback.receiver_country_code, callback.receiver_party_id),
        to_party=PartyRef(callback.requester_country_code, callback.requester_party_id),
    )


async def _deliver(
    session: AsyncSession,
    ctx: HubContext,
    callback: Callback,
    module: str,
    body: dict[str, Any],
    requester: Platform | None = None,
) -> None:
    """Queue a result to the requester's response_url, or hand it to the requester in this
    transaction when it is a local party (the payments eMSP's own commands)."""
    if requester is None:
        requester = await _requester(session, callback)
    local = ctx.local_parties.of(requester) if requester is not None else None
    if local is not None:
        await local.result(session, callback, module, body)
        return
    await enqueue(session, [_result_push(callback, module, body)])


# The first result of a waiting callback: it is taken (rowcount 1) by one writer only.
_TAKE_FIRST_RESULT = quick(
    update(_CALLBACK_TABLE)
    .where(
        _CALLBACK_TABLE.c.id == bindparam("cid"),
        _CALLBACK_TABLE.c.status == CallbackStatus.WAITING,
    )
    .values(
        status=CallbackStatus.ANSWERED,
        answered_at=bindparam("at", type_=_CALLBACK_TABLE.c.answered_at.type),
        results=bindparam("results", type_=_CALLBACK_TABLE.c.results.type),
    )
)


async def relay_result_now(
    session: AsyncSession,
    ctx: HubContext,
    callback: Callback,
    module: str,
    body: dict[str, Any],
) -> None:
    """``relay_result``, committed, and the result sent to the requester right after the commit.

    The outbox row is written in the same transaction as always, but already taken by this
    instance ('sending', attempt 1, under a lease), and handed to the delivery worker, which sends
    it at once and records its outcome like any attempt's: delivered, or by the outbox rules when
    the answer never came (pending again, sent again with the same X-Request-ID). When this
    instance dies first, the lease runs out and any instance's worker sends the row. So the row
    is the fallback and is never sent twice on a guess.

    Only the first result of a waiting callback goes out this way (taken with a conditional
    UPDATE, so a concurrent TIMEOUT or second result cannot overtake it); anything else, a local
    requester, or an instance without a delivery worker, goes through ``relay_result``.
    """
    requester = await _requester(session, callback)
    send = ctx.deliver_claimed
    if (
        send is not None
        and callback.status == CallbackStatus.WAITING
        and requester is not None
        and ctx.local_parties.of(requester) is None
        and requester.local is None
        and requester.registered
        and requester.status == ConnectionStatus.CONNECTED
        and requester.outbound_token is not None
    ):
        now = utcnow()
        conn = await session.connection()
        taken = await conn.execute(
            _TAKE_FIRST_RESULT,
            {"cid": callback.id, "at": now, "results": [*callback.results, body]},
        )
        if taken.rowcount == 1:
            ctx.callbacks.forget(callback.public_id)
            lease = now + timedelta(seconds=ctx.settings.delivery_lease_seconds)
            row = await enqueue_taken(
                session, _result_push(callback, module, body), lease, commit=True
            )
            # Sent while the transaction commits (on SQLite it was committed with the INSERT,
            # in one trip to its thread: the write lock is not held while this instance's event
            # loop gets round to a COMMIT): the callback is taken (the conditional UPDATE
            # above holds its row until the commit), so this is the one first send. The worker
            # records the outcome only once the row is committed, and forgets it when the
            # commit fails (then the row never existed and nothing resends it).
            committed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            send(row, requester, committed=committed)
            # One turn of the loop: the result leaves now, before the receiver's answer is built
            # (on SQLite the commit below has nothing left to wait for, so it would not yield).
            await asyncio.sleep(0)
            try:
                await session.commit()
            except BaseException:
                committed.set_result(False)
                raise
            committed.set_result(True)
            _answered_here(ctx, callback.id)
            return
        # Answered or timed out meanwhile: as any later result.
        ctx.callbacks.forget(callback.public_id)
        session.add(callback)
        await session.refresh(callback)
    await relay_result(session, ctx, callback, module, body, requester=requester)
    await session.commit()
    ctx.notify_outbox()


async def _requester(session: AsyncSession, callback: Callback) -> Platform | None:
    if callback.requester_platform_id is None:
        return None
    return await platform_by_id(session, callback.requester_platform_id)


async def relay_result(
    session: AsyncSession,
    ctx: HubContext,
    callback: Callback,
    module: str,
    body: dict[str, Any],
    *,
    requester: Platform | None = None,
) -> bool:
    """Queue the receiver's result to the requester's own response_url (the caller commits)."""
    if callback.status == CallbackStatus.TIMED_OUT:
        # The requester was already told TIMEOUT; a late result would contradict it.
        log.info("late result for callback %s dropped (already TIMEOUT)", callback.public_id)
        return False
    await _deliver(session, ctx, callback, module, body, requester)
    callback.results = [*callback.results, body]
    callback.status = CallbackStatus.ANSWERED
    callback.answered_at = utcnow()
    session.add(callback)
    return True


# The background poll's read (nearly always finding nothing), built once. Bound: now.
_EXPIRED = select(Callback).where(
    Callback.status == CallbackStatus.WAITING,
    Callback.kind == "command",
    col(Callback.expires_at) <= bindparam("now"),
)


async def expire_due(ctx: HubContext) -> int:
    """Answer TIMEOUT for every command whose receiver never sent its result in time.

    Each callback is taken with a conditional UPDATE, so with several hub instances on one
    database exactly one of them answers it.
    """
    now = utcnow()
    answered = 0
    async with ctx.sessions() as session:
        due = (await session.exec(_EXPIRED, params={"now": now})).all()
        for callback in due:
            taken = await session.exec(
                update(Callback)
                .where(
                    col(Callback.id) == callback.id, col(Callback.status) == CallbackStatus.WAITING
                )
                .values(status=CallbackStatus.TIMED_OUT, answered_at=now)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:
                continue
            ctx.callbacks.forget(callback.public_id)
            # No request started this: enqueue gives the TIMEOUT its own X-Correlation-ID, kept
            # by every attempt like its X-Request-ID.
            await _deliver(session, ctx, callback, "commands", _TIMEOUT_RESULT)
            answered += 1
        await session.commit()
    if answered:
        ctx.notify_outbox()
    return answered


_TIMEOUT_RESULT = result_body("TIMEOUT", "No result from the CPO within its timeout")


class Answer(Protocol):
    """A CommandResponse or ChargingProfileResponse."""

    @property
    def result(self) -> str: ...

    @property
    def timeout(self) -> int: ...


A = TypeVar("A", bound=Answer)


async def ask_local(session: AsyncSession, callback: Callback, call: Awaitable[A]) -> A:
    """A request to a local receiver (``call``: its LocalParty method), recorded like
    ``forward_meanwhile`` records a remote receiver's answer."""
    try:
        answer = await call
    except OcpiError:
        await after_response(session, callback, accepted=False, timeout_seconds=None)
        raise
    await after_response(
        session, callback, accepted=answer.result == "ACCEPTED", timeout_seconds=answer.timeout
    )
    return answer


@dataclass(frozen=True)
class Forwarded:
    """A remote receiver's immediate answer (relayed unchanged), the callback it goes with and
    what the answer said."""

    reply: OcpiReply
    callback: Callback
    accepted: bool
    timeout: int | None

    def record(self, ctx: HubContext) -> Callable[[], Awaitable[None]]:
        """Writes what the receiver answered in a session of its own: run it once the requester
        has the answer (``record_answer``)."""
        return partial(record_answer, ctx, self.callback, self.accepted, self.timeout)

    async def record_in(self, session: AsyncSession, ctx: HubContext) -> None:
        """Writes what the receiver answered in ``session``, now (``after_response``)."""
        await after_response(session, self.callback, self.accepted, self.timeout, ctx)


async def forward_meanwhile(
    session: AsyncSession,
    ctx: HubContext,
    values: dict[str, Any],
    party: Party,
    *,
    module: str,
    method: str,
    path: str,
    requester: PartyRef,
    response_model: type[Any],
    params: Sequence[tuple[str, str]] = (),
    body: dict[str, Any] | None = None,
) -> Forwarded:
    """Forward a request with the hub's own response_url to a remote receiver while its
    callback (``callback_values``) is written (``open_callback_meanwhile``): in the body when
    there is one, else in the query.

    The receiver's immediate answer (a CommandResponse or ChargingProfileResponse) says ACCEPTED
    and how long the result may take; anything else closes the callback (written by the caller:
    ``Forwarded.record`` or ``record_in``).
    When the call fails the callback is closed before the error is raised; when the callback
    cannot be written the requester gets the hub's error (the receiver's result will then find
    no callback: the database is what failed).
    """
    written = open_callback_meanwhile(session, ctx, values)
    hub_url = result_url_of(ctx, values["kind"], values["public_id"])
    if body is not None:
        body = {**body, "response_url": hub_url}
    else:
        params = [*params, ("response_url", hub_url)]
    try:
        reply = await call_party(
            ctx,
            party,
            module=module,
            interface="RECEIVER",
            method=method,
            path=path,
            params=params,
            body=body,
            from_party=requester,
        )
    except OcpiError:
        callback = await written
        await after_response(session, callback, accepted=False, timeout_seconds=None, ctx=ctx)
        raise
    except BaseException:
        # (Cancelled: the write ends with the session it uses.)
        await asyncio.wait([written])
        raise
    callback = await written
    accepted, timeout = answer_of(reply, response_model)
    return Forwarded(reply, callback, accepted, timeout)


def answer_of(reply: OcpiReply, response_model: type[Any]) -> tuple[bool, int | None]:
    """Whether the receiver's immediate answer accepted the request, and its timeout."""
    if reply.ok:
        try:
            response = response_model.model_validate(reply.one())
        except ValidationError:
            return False, None
        return response.result == "ACCEPTED", response.timeout
    return False, None


async def record_answer(
    ctx: HubContext, callback: Callback, accepted: bool, timeout_seconds: int | None
) -> None:
    """``after_response`` in a session of its own, once the requester has the receiver's answer
    (it does not wait for this write).

    Should the hub stop before this commit, the callback stays as opened: waiting, without a
    deadline, as when the hub stops while the request is on its way. Its result is still
    relayed; only the hub's own TIMEOUT is not sent. (A deadline set when the callback is
    opened would instead send TIMEOUT for a command the receiver may have rejected.)

    A command's deadline is written after ``RECORD_WINDOW``, with the answers that came in
    meanwhile, and not at all when its result was relayed by this instance first (the deadline
    of an answered callback is never read; a charging profile's ``expires_at`` is, it marks an
    accepted request).
    """
    now = utcnow()
    if accepted:
        answer = {"cid": callback.id, "expires": expires_at(now, timeout_seconds)}
        if callback.kind == "command" and callback.id is not None:
            ctx.callbacks.unrecorded[callback.id] = answer
    else:
        ctx.callbacks.forget(callback.public_id)
        answer = {"cid": callback.id, "at": now}
    written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    answers = ctx.callbacks.answers
    answers.append((answer, written))
    if ctx.callbacks.recorder is None or ctx.callbacks.recorder.done():
        ctx.callbacks.recorder = asyncio.create_task(_write_answers(ctx), name="callback-answers")
    await asyncio.shield(written)


def _answered_here(ctx: HubContext, callback_id: int | None) -> None:
    """This instance committed the callback's first result: its deadline need not be written
    (``record_answer``)."""
    answer = ctx.callbacks.unrecorded.pop(callback_id, None) if callback_id is not None else None
    if answer is not None:
        answer["answered"] = True


async def answers_recorded(ctx: HubContext) -> None:
    """Wait until what receivers answered, queued by ``record_answer`` on this instance, is
    written (for a reader that tells accepted requests from the others by ``expires_at``)."""
    recorder = ctx.callbacks.recorder
    if recorder is not None and not recorder.done():
        await asyncio.wait([recorder])


_SET_EXPIRY = (
    update(Callback)
    .where(col(Callback.id) == bindparam("cid"))
    .values(expires_at=bindparam("expires", type_=Callback.__table__.c.expires_at.type))  # type: ignore[attr-defined]
)
_SET_ANSWERED = (
    update(Callback)
    .where(col(Callback.id) == bindparam("cid"))
    .values(
        status=CallbackStatus.ANSWERED,
        answered_at=bindparam("at", type_=Callback.__table__.c.answered_at.type),  # type: ignore[attr-defined]
    )
)


async def _write_answers(ctx: HubContext) -> None:
    """Write the answers ``record_answer`` queued, those that came in meanwhile in one
    transaction (two statements, each run for many rows). A queue of commands' deadlines only
    is written after ``RECORD_WINDOW``, without those whose result came meanwhile."""
    queue = ctx.callbacks.answers
    while queue:
        if all(a["cid"] in ctx.callbacks.unrecorded for a, _w in queue):
            await asyncio.sleep(RECORD_WINDOW)
        batch = queue[:]
        del queue[:]
        for a, _w in batch:
            ctx.callbacks.unrecorded.pop(a["cid"], None)
        try:
            expiries = [
                {"cid": a["cid"], "expires": a["expires"]}
                for a, _w in batch
                if "expires" in a and not a.get("answered")
            ]
            closed = [{"cid": a["cid"], "at": a["at"]} for a, _w in batch if "at" in a]
            if expiries or closed:
                async with ctx.sessions() as session:
                    conn = await session.connection()
                    if expiries:
                        await conn.execute(_SET_EXPIRY, expiries)
                    if closed:
                        await conn.execute(_SET_ANSWERED, closed)
                    await session.commit()
        except Exception:
            log.exception("recording the answers to %s callbacks failed", len(batch))
        for _a, written in batch:
            if not written.done():
                written.set_result(None)
