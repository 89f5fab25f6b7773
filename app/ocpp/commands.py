"""OCPI commands addressed to the hub's own CPO, carried out as OCPP calls.

The OCPI CommandResponse is given at once (ACCEPTED with a timeout when the charger is connected);
the CommandResult follows what the charger does: START_SESSION and STOP_SESSION are ACCEPTED only
when the transaction actually starts or ends within the timeout (FAILED otherwise), the others
when the charger accepts the call. A charger that does not answer gives TIMEOUT.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from ocpp.exceptions import OCPPError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub.context import HubContext
from app.hub.relay import service as relay
from app.hub.relay.models import Callback
from app.ocpi.schemas.commands import CommandResponse, CommandResponseType, CommandType
from app.ocpi.schemas.common import ci_key, parse_datetime
from app.ocpp.bridge import evse_uid
from app.ocpp.models import Charger, OcppTransaction, RemoteRequest, TransactionStatus
from app.ocpp.own_cpo import csms_for

log = logging.getLogger("voltroam.ocpp.commands")

# OCPI token type -> OCPP 2.0.1 IdTokenEnumType.
ID_TOKEN_TYPES = {"RFID": "ISO14443", "APP_USER": "Central", "AD_HOC_USER": "Central"}

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


def _response(
    result: CommandResponseType, timeout: int, text: str | None = None
) -> CommandResponse:
    message = [{"language": "en", "text": text}] if text else []
    return CommandResponse.model_validate(
        {"result": result, "timeout": timeout, "message": message}
    )


async def _find_evse(
    session: AsyncSession, location_id: str, uid: str | None, connected_only: bool
) -> tuple[Charger, int] | None:
    """The charger and EVSE number an OCPI location/evse_uid names (or the first free one)."""
    chargers = (
        await session.exec(
            select(Charger).where(Charger.location_id == location_id).order_by(col(Charger.id))
        )
    ).all()
    candidates = []
    for charger in chargers:
        for number in range(1, max(charger.evse_count, 1) + 1):
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


async def handle_command(
    ctx: HubContext,
    session: AsyncSession,
    command: str,
    request: dict[str, Any],
    callback: Callback,
) -> CommandResponse:
    csms = csms_for(ctx)
    kind = CommandType(command)
    if csms is None:
        return _response(CommandResponseType.REJECTED, 0, "The hub's chargers are not served")
    timeout = csms.settings.ocpp_command_timeout_seconds
    offline = "The charger is not connected"
    if kind in (CommandType.START_SESSION, CommandType.RESERVE_NOW, CommandType.UNLOCK_CONNECTOR):
        found = await _find_evse(
            session, str(request["location_id"]), request.get("evse_uid"), connected_only=True
        )
        if found is None:
            return _response(CommandResponseType.REJECTED, 0, "No such EVSE at this Location")
        charger, number = found
        cp = charger.charge_point_id
        # Held by this instance or another one (the call then goes through the broker).
        version = await csms.reachable(cp)
        if version is None:
            return _response(CommandResponseType.REJECTED, 0, offline)
        if kind == CommandType.UNLOCK_CONNECTOR:
            connector = (
                int(request["connector_id"]) if str(request["connector_id"]).isdigit() else 1
            )
            payload: dict[str, Any] = (
                {"connectorId": number}
                if version == "1.6"
                else {"evseId": number, "connectorId": connector}
            )
            csms.spawn(
                _call_and_answer(
                    ctx, csms, cp, "UnlockConnector", payload, callback.public_id, UNLOCK
                ),
                f"unlock-{cp}",
            )
            return _response(CommandResponseType.ACCEPTED, timeout)
        token = request["token"]
        if kind == CommandType.START_SESSION:
            remote = RemoteRequest(
                kind="START_SESSION",
                charge_point_id=cp,
                evse_id=number,
                id_tag=str(token["uid"]),
                token=token,
                authorization_reference=request.get("authorization_reference"),
                callback_id=callback.public_id,
                expires_at=utcnow() + timedelta(seconds=timeout),
            )
            session.add(remote)
            await session.commit()
            await session.refresh(remote)
            payload = (
                {"connectorId": number, "idTag": str(token["uid"])}
                if version == "1.6"
                else {
                    "idToken": {
                        "idToken": str(token["uid"]),
                        "type": ID_TOKEN_TYPES.get(str(token["type"]), "Central"),
                    },
                    "remoteStartId": remote.id,
                    "evseId": number,
                }
            )
            action = "RemoteStartTransaction" if version == "1.6" else "RequestStartTransaction"
            csms.spawn(_remote(ctx, csms, cp, action, payload, remote.id), f"start-{cp}")
            return _response(CommandResponseType.ACCEPTED, timeout)
        # RESERVE_NOW: the OCPP reservation id is this row's id.
        expiry = parse_datetime(request["expiry_date"])
        remote = RemoteRequest(
            kind="RESERVE_NOW",
            charge_point_id=cp,
            evse_id=number,
            id_tag=str(token["uid"]),
            token=token,
            subject=ci_key(str(request["reservation_id"])),
            callback_id=callback.public_id,
            expires_at=expiry,
        )
        session.add(remote)
        await session.commit()
        await session.refresh(remote)
        stamp = request["expiry_date"]
        payload = (
            {
                "connectorId": number if request.get("evse_uid") else 0,
                "expiryDate": stamp,
                "idTag": str(token["uid"]),
                "reservationId": remote.id,
            }
            if version == "1.6"
            else {
                "id": remote.id,
                "expiryDateTime": stamp,
                "idToken": {
                    "idToken": str(token["uid"]),
                    "type": ID_TOKEN_TYPES.get(str(token["type"]), "Central"),
                },
                **({"evseId": number} if request.get("evse_uid") else {}),
            }
        )
        csms.spawn(
            _call_and_answer(ctx, csms, cp, "ReserveNow", payload, callback.public_id, RESERVE),
            f"reserve-{cp}",
        )
        return _response(CommandResponseType.ACCEPTED, timeout)
    if kind == CommandType.STOP_SESSION:
        tx = (
            await session.exec(
                select(OcppTransaction).where(
                    OcppTransaction.session_id == str(request["session_id"]).upper()
                )
            )
        ).first()
        if tx is None or tx.status != TransactionStatus.ACTIVE:
            return _response(CommandResponseType.UNKNOWN_SESSION, 0, "No such active Session")
        cp = tx.charge_point_id
        version = await csms.reachable(cp)
        if version is None:
            return _response(CommandResponseType.REJECTED, 0, offline)
        remote = RemoteRequest(
            kind="STOP_SESSION",
            charge_point_id=cp,
            evse_id=tx.evse_id,
            subject=tx.session_id,
            callback_id=callback.public_id,
            expires_at=utcnow() + timedelta(seconds=timeout),
        )
        session.add(remote)
        await session.commit()
        await session.refresh(remote)
        if version == "1.6":
            action = "RemoteStopTransaction"
            payload = {"transactionId": int(tx.ocpp_tx_id)}
        else:
            action = "RequestStopTransaction"
            payload = {"transactionId": tx.ocpp_tx_id}
        csms.spawn(_remote(ctx, csms, cp, action, payload, remote.id), f"stop-{cp}")
        return _response(CommandResponseType.ACCEPTED, timeout)
    # CANCEL_RESERVATION
    reservation = (
        await session.exec(
            select(RemoteRequest).where(
                RemoteRequest.kind == "RESERVE_NOW",
                RemoteRequest.subject == ci_key(str(request["reservation_id"])),
                col(RemoteRequest.open).is_(True),
            )
        )
    ).first()
    if reservation is None:
        return _response(CommandResponseType.REJECTED, 0, "Unknown reservation")
    cp = reservation.charge_point_id
    if await csms.reachable(cp) is None:
        return _response(CommandResponseType.REJECTED, 0, offline)
    csms.spawn(
        _call_and_answer(
            ctx, csms, cp, "CancelReservation", {"reservationId": reservation.id},
            callback.public_id, {"Accepted": "ACCEPTED", "Rejected": "REJECTED"},
            close=reservation.id,
        ),
        f"cancel-{cp}",
    )  # fmt: skip
    return _response(CommandResponseType.ACCEPTED, timeout)


async def _result(ctx: HubContext, callback_id: str, result: str, text: str | None = None) -> None:
    async with ctx.sessions() as session:
        callback = await relay.find(session, "command", callback_id)
        if callback is None:
            return
        body: dict[str, Any] = {"result": result}
        if text:
            body["message"] = [{"language": "en", "text": text[:512]}]
        await relay.relay_result(session, ctx, callback, "commands", body)
        await session.commit()
    ctx.notify_outbox()


async def _send(csms: Any, cp: str, action: str, payload: dict[str, Any]) -> tuple[str, str]:
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
    ctx: HubContext,
    csms: Any,
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
        async with ctx.sessions() as session:
            row = await session.get(RemoteRequest, close)
            if row is not None:
                row.open = False
                session.add(row)
                await session.commit()
    await _result(ctx, callback_id, result, f"Charger answered {status}" if status else None)


async def _remote(
    ctx: HubContext, csms: Any, cp: str, action: str, payload: dict[str, Any], remote_id: int | None
) -> None:
    """Remote start/stop: a refusal is the result now; acceptance waits for the transaction."""
    status, failure = await _send(csms, cp, action, payload)
    if status == "Accepted":
        return
    async with ctx.sessions() as session:
        remote = await session.get(RemoteRequest, remote_id)
        if remote is None or not remote.open:
            return  # the transaction already started/ended and answered it
        result = failure or "REJECTED"
        await csms.bridge.answer_remote(
            session, remote, result, f"Charger answered {status or result}"
        )
        await session.commit()
    ctx.notify_outbox()
