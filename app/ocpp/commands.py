"""OCPI commands addressed to the hub's own CPO, carried out as OCPP calls.

The OCPI CommandResponse is given at once (ACCEPTED with a timeout when the charger is connected);
the CommandResult follows what the charger does: START_SESSION and STOP_SESSION are ACCEPTED only
when the transaction actually starts or ends within the timeout (FAILED otherwise), the others
when the charger accepts the call. A charger that does not answer gives TIMEOUT.

One small handler per command (``HANDLERS``); the payload of each call comes from the charger's
OCPP version (app/ocpp/calls16.py, calls201.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ocpp.exceptions import OCPPError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub.relay import service as relay
from app.hub.relay.models import Callback
from app.ocpi.schemas.commands import CommandResponse, CommandResponseType, CommandType
from app.ocpi.schemas.common import ci_key, parse_datetime
from app.ocpp import remote
from app.ocpp.calls import Call
from app.ocpp.locations import evse_uid
from app.ocpp.models import Charger, OcppTransaction, RemoteRequest, TransactionStatus
from app.ocpp.port import CsmsPort
from app.ocpp.versions import calls_for

log = logging.getLogger("voltroam.ocpp.commands")

# Charger answers -> OCPI CommandResult.
UNLOCK = {
    "Unlocked": "ACCEPTED",
    "UnlockFailed": "FAILED",
    "NotSupported": "NOT_SUPPORTED",
    "OngoingAuthorizedTransaction": "REJECTED",
    "UnknownConnector": "REJECTED",
}
RESERVE = {
    "Accepted": "ACCEPTED",
    "Faulted": "EVSE_INOPERATIVE",
    "Occupied": "EVSE_OCCUPIED",
    "Rejected": "REJECTED",
    "Unavailable": "EVSE_INOPERATIVE",
}
CANCEL = {"Accepted": "ACCEPTED", "Rejected": "REJECTED"}
OFFLINE = "The charger is not connected"


def _response(
    result: CommandResponseType, timeout: int, text: str | None = None
) -> CommandResponse:
    message = [{"language": "en", "text": text}] if text else []
    return CommandResponse.model_validate(
        {"result": result, "timeout": timeout, "message": message}
    )


@dataclass
class Command:
    """One command being carried out: what every handler gets."""

    csms: CsmsPort
    session: AsyncSession
    request: dict[str, Any]
    callback: Callback

    @property
    def timeout(self) -> int:
        return int(self.csms.settings.ocpp_command_timeout_seconds)

    def accepted(self) -> CommandResponse:
        return _response(CommandResponseType.ACCEPTED, self.timeout)

    def answered_by_call(
        self, cp: str, call: Call, mapping: dict[str, str], close: int | None = None
    ) -> None:
        """Make a call whose answer is the CommandResult, in the background."""
        action, payload = call
        self.csms.spawn(
            _call_and_answer(
                self.csms, cp, action, payload, self.callback.public_id, mapping, close
            ),
            f"{action}-{cp}",
        )

    async def open_remote(self, **fields: Any) -> RemoteRequest:
        """A request the charger answers by what it does (a transaction, a reservation)."""
        row = RemoteRequest(callback_id=self.callback.public_id, **fields)
        self.session.add(row)
        await self.session.commit()
        await self.session.refresh(row)
        return row


async def _find_evse(
    command: Command, location_id: str, uid: str | None, connected_only: bool
) -> tuple[Charger, int] | None:
    """The charger and EVSE number an OCPI location/evse_uid names (or the first free one)."""
    chargers = (
        await command.session.exec(
            select(Charger).where(Charger.location_id == location_id).order_by(col(Charger.id))
        )
    ).all()
    candidates = []
    for charger in chargers:
        for number in command.csms.bridge.evse_numbers(charger):
            this = evse_uid(charger.charge_point_id, number)
            if uid is not None and ci_key(this) != ci_key(uid):
                continue
            candidates.append((charger, number, (charger.statuses or {}).get(this)))
    if uid is not None:
        return (candidates[0][0], candidates[0][1]) if candidates else None
    for charger, number, status in candidates:
        if charger.connected and status == "AVAILABLE":
            return charger, number
    for charger, number, _status in candidates:
        if charger.connected or not connected_only:
            return charger, number
    return None


async def _at_evse(
    command: Command,
    act: Callable[[Command, str, str, int], Awaitable[CommandResponse]],
) -> CommandResponse:
    """START_SESSION, RESERVE_NOW, UNLOCK_CONNECTOR: at the EVSE of a Location of a connected
    charger (held by this instance or another one; the call then goes through the broker)."""
    request = command.request
    found = await _find_evse(
        command, str(request["location_id"]), request.get("evse_uid"), connected_only=True
    )
    if found is None:
        return _response(CommandResponseType.REJECTED, 0, "No such EVSE at this Location")
    charger, number = found
    cp = charger.charge_point_id
    version = await command.csms.reachable(cp)
    if version is None:
        return _response(CommandResponseType.REJECTED, 0, OFFLINE)
    return await act(command, cp, version, number)


async def _unlock(command: Command, cp: str, version: str, number: int) -> CommandResponse:
    raw = str(command.request["connector_id"])
    connector = int(raw) if raw.isdigit() else 1
    command.answered_by_call(cp, calls_for(version).unlock_connector(number, connector), UNLOCK)
    return command.accepted()


async def _start(command: Command, cp: str, version: str, number: int) -> CommandResponse:
    token = command.request["token"]
    row = await command.open_remote(
        kind="START_SESSION",
        charge_point_id=cp,
        evse_id=number,
        id_tag=str(token["uid"]),
        token=token,
        authorization_reference=command.request.get("authorization_reference"),
        expires_at=utcnow() + timedelta(seconds=command.timeout),
    )
    action, payload = calls_for(version).remote_start(number, token, row.id)
    command.csms.spawn(_remote(command.csms, cp, action, payload, row.id), f"start-{cp}")
    return command.accepted()


async def _reserve(command: Command, cp: str, version: str, number: int) -> CommandResponse:
    request = command.request
    token = request["token"]
    # The OCPP reservation id is this row's id.
    row = await command.open_remote(
        kind="RESERVE_NOW",
        charge_point_id=cp,
        evse_id=number,
        id_tag=str(token["uid"]),
        token=token,
        subject=ci_key(str(request["reservation_id"])),
        expires_at=parse_datetime(request["expiry_date"]),
    )
    evse = number if request.get("evse_uid") else None
    call = calls_for(version).reserve_now(evse, request["expiry_date"], token, row.id)
    command.answered_by_call(cp, call, RESERVE)
    return command.accepted()


async def start_session(command: Command) -> CommandResponse:
    return await _at_evse(command, _start)


async def reserve_now(command: Command) -> CommandResponse:
    return await _at_evse(command, _reserve)


async def unlock_connector(command: Command) -> CommandResponse:
    return await _at_evse(command, _unlock)


async def stop_session(command: Command) -> CommandResponse:
    session_id = str(command.request["session_id"]).upper()
    tx = (
        await command.session.exec(
            select(OcppTransaction).where(OcppTransaction.session_id == session_id)
        )
    ).first()
    if tx is None or tx.status != TransactionStatus.ACTIVE:
        return _response(CommandResponseType.UNKNOWN_SESSION, 0, "No such active Session")
    cp = tx.charge_point_id
    version = await command.csms.reachable(cp)
    if version is None:
        return _response(CommandResponseType.REJECTED, 0, OFFLINE)
    row = await command.open_remote(
        kind="STOP_SESSION",
        charge_point_id=cp,
        evse_id=tx.evse_id,
        subject=tx.session_id,
        expires_at=utcnow() + timedelta(seconds=command.timeout),
    )
    action, payload = calls_for(version).remote_stop(tx)
    command.csms.spawn(_remote(command.csms, cp, action, payload, row.id), f"stop-{cp}")
    return command.accepted()


async def cancel_reservation(command: Command) -> CommandResponse:
    reservation = (
        await command.session.exec(
            select(RemoteRequest).where(
                RemoteRequest.kind == "RESERVE_NOW",
                RemoteRequest.subject == ci_key(str(command.request["reservation_id"])),
                col(RemoteRequest.open).is_(True),
            )
        )
    ).first()
    if reservation is None:
        return _response(CommandResponseType.REJECTED, 0, "Unknown reservation")
    cp = reservation.charge_point_id
    version = await command.csms.reachable(cp)
    if version is None:
        return _response(CommandResponseType.REJECTED, 0, OFFLINE)
    call = calls_for(version).cancel_reservation(reservation.id)
    command.answered_by_call(cp, call, CANCEL, close=reservation.id)
    return command.accepted()


HANDLERS: dict[CommandType, Callable[[Command], Awaitable[CommandResponse]]] = {
    CommandType.START_SESSION: start_session,
    CommandType.STOP_SESSION: stop_session,
    CommandType.RESERVE_NOW: reserve_now,
    CommandType.CANCEL_RESERVATION: cancel_reservation,
    CommandType.UNLOCK_CONNECTOR: unlock_connector,
}


async def handle_command(
    csms: CsmsPort,
    session: AsyncSession,
    command: str,
    request: dict[str, Any],
    callback: Callback,
) -> CommandResponse:
    if not csms.running:
        return _response(CommandResponseType.REJECTED, 0, "The hub's chargers are not served")
    handler = HANDLERS[CommandType(command)]
    return await handler(Command(csms, session, request, callback))


async def _result(csms: CsmsPort, callback_id: str, result: str, text: str | None = None) -> None:
    ctx = csms.ctx
    async with ctx.sessions() as session:
        callback = await relay.find(session, "command", callback_id)
        if callback is None:
            return
        body = relay.result_body(result, text)
        await relay.relay_result(session, ctx, callback, "commands", body)
        await session.commit()
    ctx.notify_outbox()


async def _send(csms: CsmsPort, cp: str, action: str, payload: dict[str, Any]) -> tuple[str, str]:
    """Make the call; returns (OCPP status or "", the OCPI result when it failed)."""
    try:
        answer = await csms.call(cp, action, payload)
    except TimeoutError:
        return "", "TIMEOUT"
    except OCPPError as exc:
        code = getattr(exc, "code", "")
        return "", "NOT_SUPPORTED" if code in ("NotImplemented", "NotSupported") else "FAILED"
    except Exception:
        log.exception("%s to %s failed", action, cp)
        return "", "FAILED"
    return str(answer.get("status", "")), ""


async def _call_and_answer(
    csms: CsmsPort,
    cp: str,
    action: str,
    payload: dict[str, Any],
    callback_id: str,
    mapping: dict[str, str],
    close: int | None = None,
) -> None:
    """A call whose answer is the CommandResult (UNLOCK, RESERVE_NOW, CANCEL_RESERVATION)."""
    status, failure = await _send(csms, cp, action, payload)
    result = failure or mapping.get(status, "FAILED")
    if close is not None and result == "ACCEPTED":
        async with csms.ctx.sessions() as session:
            row = await session.get(RemoteRequest, close)
            if row is not None:
                row.open = False
                session.add(row)
                await session.commit()
    await _result(csms, callback_id, result, f"Charger answered {status}" if status else None)


async def _remote(
    csms: CsmsPort, cp: str, action: str, payload: dict[str, Any], remote_id: int | None
) -> None:
    """Remote start/stop: a refusal is the result now; acceptance waits for the transaction."""
    status, failure = await _send(csms, cp, action, payload)
    if status == "Accepted":
        return
    async with csms.ctx.sessions() as session:
        row = await session.get(RemoteRequest, remote_id)
        if row is None or not row.open:
            return  # the transaction already started/ended and answered it
        result = failure or "REJECTED"
        await remote.answer(session, csms.ctx, row, result, f"Charger answered {status or result}")
        await session.commit()
    csms.ctx.notify_outbox()
