"""OCPI commands in flight at the own chargers (``RemoteRequest``): a remote start waits for its
transaction, a remote stop for its end, a reservation for the charger's answer. Whatever happens
first answers the command's CommandResult through the relay callback, once."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub.context import HubContext
from app.hub.relay import service as relay
from app.ocpp.models import RemoteRequest


async def find_open(
    session: AsyncSession, charge_point_id: str, kind: str, subject: str | None = None
) -> RemoteRequest | None:
    """The oldest open, unexpired request of this kind at a charger (for START_SESSION: for this
    idTag; otherwise about ``subject``)."""
    stmt = select(RemoteRequest).where(
        RemoteRequest.charge_point_id == charge_point_id,
        RemoteRequest.kind == kind,
        col(RemoteRequest.open).is_(True),
        col(RemoteRequest.expires_at) > utcnow(),
    )
    if subject is not None:
        field_ = RemoteRequest.id_tag if kind == "START_SESSION" else RemoteRequest.subject
        stmt = stmt.where(field_ == subject)
    return (await session.exec(stmt.order_by(col(RemoteRequest.id)))).first()


async def answer(
    session: AsyncSession,
    ctx: HubContext,
    remote: RemoteRequest,
    result: str,
    text: str | None = None,
) -> None:
    """Close a remote request and queue its CommandResult (the caller commits).

    Closed with a conditional UPDATE: of everything that may answer one request (the
    transaction starting, the charger's refusal, the watchdog of any hub instance) only the
    first one does.
    """
    taken = await session.exec(
        update(RemoteRequest)
        .where(col(RemoteRequest.id) == remote.id, col(RemoteRequest.open).is_(True))
        .values(open=False)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(remote, "open", False)
    if taken.rowcount != 1 or remote.callback_id is None:
        return
    callback = await relay.find(session, "command", remote.callback_id)
    if callback is None:
        return
    await relay.relay_result(session, ctx, callback, "commands", relay.result_body(result, text))
