"""OCPP 2.0.1: one handler per message a charging station sends."""

from __future__ import annotations

import logging
from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action

from app.ocpi.schemas.common import parse_datetime
from app.ocpp.bridge import AuthResult, energy_samples
from app.ocpp.models import TransactionStatus
from app.ocpp.port import CsmsPort
from app.ocpp.protocol import CsmsMixin

log = logging.getLogger("voltroam.ocpp.v201")

# ConnectorStatusEnumType -> OCPI EVSE status.
STATUS = {
    "Available": "AVAILABLE",
    "Occupied": "CHARGING",
    "Reserved": "RESERVED",
    "Unavailable": "INOPERATIVE",
    "Faulted": "OUTOFORDER",
}


def _wh(sampled: dict[str, Any]) -> float:
    """2.0.1: ``unit_of_measure`` has the unit ("Wh" by default) and a power-of-ten multiplier."""
    unit_of_measure = sampled.get("unit_of_measure") or {}
    value = float(sampled["value"]) * (10 ** unit_of_measure.get("multiplier", 0))
    return value * 1000 if unit_of_measure.get("unit", "Wh") == "kWh" else value


class V201ChargePoint(CsmsMixin, ChargePoint):
    actions = frozenset(a.value for a in Action)
    csms: CsmsPort

    @on(Action.boot_notification)
    async def on_boot(
        self, charging_station: dict[str, Any], reason: str, **kwargs: Any
    ) -> call_result.BootNotification:
        await self.csms.booted(
            self.id,
            "2.0.1",
            vendor=charging_station.get("vendor_name"),
            model=charging_station.get("model"),
            serial=charging_station.get("serial_number"),
            firmware=charging_station.get("firmware_version"),
        )
        return call_result.BootNotification(
            current_time=self._now(),
            interval=self.csms.settings.ocpp_heartbeat_interval_seconds,
            status="Accepted",
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **kwargs: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=self._now())

    @on(Action.status_notification)
    async def on_status(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **kw: Any
    ) -> call_result.StatusNotification:
        self._evse_number(evse_id, "evseId")
        self._evse_number(connector_id, "connectorId")
        ocpi = STATUS.get(connector_status)
        if ocpi is not None and evse_id > 0:
            await self.csms.status(self.id, evse_id, ocpi)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict[str, Any], **kwargs: Any) -> call_result.Authorize:
        auth = await self.csms.authorize(self.id, str(id_token["id_token"]), None)
        return call_result.Authorize(id_token_info={"status": auth.status})

    @on(Action.transaction_event)
    async def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        trigger_reason: str,
        seq_no: int,
        transaction_info: dict[str, Any],
        **kwargs: Any,
    ) -> call_result.TransactionEvent:
        bridge = self.csms.bridge
        tx_id = str(transaction_info["transaction_id"])
        at = parse_datetime(timestamp)
        samples = energy_samples(kwargs.get("meter_value"), _wh)
        id_token = (kwargs.get("id_token") or {}).get("id_token")
        evse = kwargs.get("evse") or {}
        status: str | None = None
        if "id" in evse:
            self._evse_number(int(evse["id"]), "evse.id")
        if "connector_id" in evse:
            self._evse_number(int(evse["connector_id"]), "evse.connectorId")
        await self.csms.meters.settle(self.id)
        async with self.csms.db() as session:
            charger = await self.csms.charger(session, self.id)
            tx = await bridge.find_transaction(session, self.id, tx_id)
            if tx is None:
                # Started, or the first event we see of a transaction (sent late when offline).
                evse_no = int(evse.get("id", 1))
                # No reading at the start: the first reading that comes is the start (-1 = unknown).
                start_wh = next((s.energy_wh for s in samples if s.energy_wh is not None), -1.0)
                auth = (
                    await bridge.authorize(session, charger, str(id_token), evse_no)
                    if id_token
                    else None
                )
                if auth is not None:
                    status = auth.status
                tx, _new = await bridge.start_transaction(
                    session,
                    charger,
                    evse=evse_no,
                    connector=int(evse.get("connector_id", 1)),
                    id_tag=str(id_token or ""),
                    meter_start_wh=float(start_wh),
                    started_at=at,
                    auth=auth or AuthResult("Invalid"),
                    ocpp_tx_id=tx_id,
                )
                tx.seq_no = seq_no
                session.add(tx)
                await session.commit()
                await session.refresh(tx)
            elif seq_no <= tx.seq_no and event_type != "Ended":
                # A repeat of an event already applied (sent again after a lost answer).
                return _answer(("Accepted" if tx.cdr_token else "Invalid") if id_token else None)
            else:
                tx.seq_no = max(tx.seq_no, seq_no)
                session.add(tx)
                if id_token and not tx.cdr_token:
                    # The driver identified after the transaction started (cable plugged first).
                    auth = await bridge.authorize(session, charger, str(id_token), tx.evse_id)
                    status = auth.status
                    if auth.accepted:
                        await bridge.attach_token(session, tx, auth)
                        await session.refresh(tx)
                elif id_token:
                    status = "Accepted"
            if samples and tx.status == TransactionStatus.ACTIVE:
                await bridge.meter_values(session, tx, samples)
                await session.refresh(tx)
            if event_type == "Ended":
                await bridge.stop_transaction(
                    session,
                    tx,
                    meter_stop_wh=None,
                    stopped_at=at,
                    reason=transaction_info.get("stopped_reason"),
                )
        return _answer(status)

    @on(Action.meter_values)
    async def on_meter_values(
        self, evse_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> call_result.MeterValues:
        self._evse_number(evse_id, "evseId")
        samples = energy_samples(meter_value, _wh)
        await self.csms.meters.record(self.id, evse_id, None, samples)
        return call_result.MeterValues()

    @on(Action.notify_event)
    async def on_notify_event(
        self, generated_at: str, seq_no: int, event_data: list[dict[str, Any]], **kwargs: Any
    ) -> call_result.NotifyEvent:
        for event in event_data:
            log.info(
                "%s: event %s %s=%s",
                self.id,
                event.get("trigger"),
                (event.get("component") or {}).get("name"),
                event.get("actual_value"),
            )
        return call_result.NotifyEvent()

    @on(Action.security_event_notification)
    async def on_security_event(
        self, type: str, timestamp: str, **kwargs: Any
    ) -> call_result.SecurityEventNotification:
        log.warning("%s: security event %s at %s", self.id, type, timestamp)
        return call_result.SecurityEventNotification()


def _answer(status: str | None) -> call_result.TransactionEvent:
    if not status:
        return call_result.TransactionEvent()
    return call_result.TransactionEvent(id_token_info={"status": str(status)})
