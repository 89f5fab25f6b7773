"""OCPI ChargingProfiles for Sessions of the own CPO, carried out as OCPP Smart Charging calls:
PUT -> SetChargingProfile (a TxProfile of the transaction), DELETE -> ClearChargingProfile,
GET -> GetCompositeSchedule. The result goes back through the hub's relay callback."""

from __future__ import annotations

import logging
from typing import Any

from ocpp.exceptions import OCPPError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub.relay import service as relay
from app.hub.relay.models import Callback
from app.ocpi.schemas.chargingprofiles import (
    ChargingProfileResponse,
    ChargingProfileResponseType,
)
from app.ocpi.schemas.common import format_datetime, parse_datetime
from app.ocpp.models import OcppTransaction, TransactionStatus
from app.ocpp.port import CsmsPort
from app.ocpp.versions import calls_for

log = logging.getLogger("voltroam.ocpp.profiles")

MODULE = "chargingprofiles"


def _answer(result: ChargingProfileResponseType, timeout: int = 0) -> ChargingProfileResponse:
    return ChargingProfileResponse.model_validate({"result": result, "timeout": timeout})


def request_for(
    method: str, tx: OcppTransaction, version: str, body: dict[str, Any] | None, duration: int
) -> tuple[str, dict[str, Any]]:
    """The OCPP action and payload for an OCPI charging profile request on a transaction."""
    calls = calls_for(version)
    if method == "PUT":
        assert body is not None
        return calls.set_charging_profile(tx, body["charging_profile"])
    if method == "DELETE":
        return calls.clear_charging_profile(tx)
    return calls.get_composite_schedule(tx, duration)


def result_for(method: str, answer: dict[str, Any] | None) -> dict[str, Any]:
    """The OCPI result object for the charger's answer (None: no answer or a CALLERROR)."""
    status = (answer or {}).get("status")
    if method in ("PUT", "DELETE"):
        mapping = {"Accepted": "ACCEPTED", "Rejected": "REJECTED", "Unknown": "UNKNOWN"}
        return {"result": mapping.get(str(status), "REJECTED")}
    if status != "Accepted" or answer is None:
        return {"result": "REJECTED" if status else "UNKNOWN"}
    schedule = answer.get("chargingSchedule") or answer.get("schedule") or {}
    start = (
        answer.get("scheduleStart")
        or schedule.get("scheduleStart")
        or schedule.get("startSchedule")
    )
    periods = [
        {"start_period": p["startPeriod"], "limit": round(float(p["limit"]), 1)}
        for p in schedule.get("chargingSchedulePeriod") or []
    ]
    profile: dict[str, Any] = {
        "charging_rate_unit": schedule.get("chargingRateUnit", "W"),
        "charging_profile_period": periods,
    }
    if schedule.get("duration") is not None:
        profile["duration"] = schedule["duration"]
    return {
        "result": "ACCEPTED",
        "profile": {
            "start_date_time": format_datetime(parse_datetime(start) if start else utcnow()),
            "charging_profile": profile,
        },
    }


async def handle_charging_profile(
    csms: CsmsPort,
    session: AsyncSession,
    method: str,
    session_id: str,
    params: dict[str, str],
    body: dict[str, Any] | None,
    callback: Callback,
) -> ChargingProfileResponse:
    if not csms.running:
        return _answer(ChargingProfileResponseType.REJECTED)
    tx = (
        await session.exec(
            select(OcppTransaction).where(OcppTransaction.session_id == session_id.upper())
        )
    ).first()
    if tx is None or tx.status != TransactionStatus.ACTIVE:
        return _answer(ChargingProfileResponseType.UNKNOWN_SESSION)
    version = await csms.reachable(tx.charge_point_id)
    if version is None:
        return _answer(ChargingProfileResponseType.REJECTED)
    action, payload = request_for(method, tx, version, body, int(params.get("duration", 0) or 0))
    callback_id = callback.public_id
    csms.spawn(
        _call(csms, tx.charge_point_id, action, payload, method, callback_id),
        f"profile-{tx.charge_point_id}",
    )
    return _answer(
        ChargingProfileResponseType.ACCEPTED, int(csms.settings.ocpp_response_timeout_seconds)
    )


async def _call(
    csms: CsmsPort,
    cp: str,
    action: str,
    payload: dict[str, Any],
    method: str,
    callback_id: str,
) -> None:
    answer: dict[str, Any] | None
    try:
        answer = await csms.call(cp, action, payload)
    except (OCPPError, TimeoutError) as exc:
        log.info("%s to %s failed: %s", action, cp, exc)
        answer = None
    except Exception:
        log.exception("%s to %s failed", action, cp)
        answer = None
    document = result_for(method, answer)
    ctx = csms.ctx
    async with ctx.sessions() as session:
        callback = await relay.find(session, "chargingprofile", callback_id)
        if callback is None:
            return
        await relay.relay_result(session, ctx, callback, MODULE, document)
        await session.commit()
    ctx.notify_outbox()
