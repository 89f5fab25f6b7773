"""OCPP 1.6J: one handler per message a charger sends."""

from __future__ import annotations

import logging
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from app.ocpi.schemas.common import format_datetime, parse_datetime
from app.ocpp.bridge import AuthResult, energy_samples
from app.ocpp.models import TransactionStatus
from app.ocpp.port import CsmsPort
from app.ocpp.protocol import CsmsMixin

log = logging.getLogger("voltroam.ocpp.v16")

# StatusNotification status -> OCPI EVSE status.
STATUS = {
    "Available": "AVAILABLE",
    "Preparing": "CHARGING",
    "Charging": "CHARGING",
    "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING",
    "Finishing": "CHARGING",
    "Reserved": "RESERVED",
    "Unavailable": "INOPERATIVE",
    "Faulted": "OUTOFORDER",
}


def _wh(sampled: dict[str, Any]) -> float:
    """1.6: ``unit`` is "Wh" (default) or "kWh"."""
    value = float(sampled["value"])
    return value * 1000 if sampled.get("unit") == "kWh" else value


class V16ChargePoint(CsmsMixin, ChargePoint):
    actions = frozenset(a.value for a in Action)
    csms: CsmsPort

    @on(Action.boot_notification)
    async def on_boot(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> call_result.BootNotification:
        await self.csms.booted(
            self.id,
            "1.6",
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial=kwargs.get("charge_point_serial_number"),
            firmware=kwargs.get("firmware_version"),
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
        self, connector_id: int, error_code: str, status: str, **kwargs: Any
    ) -> call_result.StatusNotification:
        self._evse_number(connector_id, "connectorId")
        ocpi = STATUS.get(status)
        if ocpi is not None:
            if connector_id == 0:
                # The whole charger: only its unavailability says something about every EVSE.
                if ocpi in ("INOPERATIVE", "OUTOFORDER"):
                    await self.csms.status_all(self.id, ocpi)
            else:
                await self.csms.status(self.id, connector_id, ocpi)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str, **kwargs: Any) -> call_result.Authorize:
        auth = await self.csms.authorize(self.id, id_tag, None)
        return call_result.Authorize(id_tag_info={"status": auth.status})

    @on(Action.start_transaction)
    async def on_start(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs: Any
    ) -> call_result.StartTransaction:
        self._evse_number(connector_id, "connectorId")
        started_at = parse_datetime(timestamp)
        await self.csms.meters.settle(self.id)
        async with self.csms.db() as session:
            charger = await self.csms.charger(session, self.id)
            key = f"{connector_id}:{connector_id}:{id_tag}:{format_datetime(started_at)}"
            repeated = await self.csms.transaction_by_start(session, self.id, key)
            if repeated is not None:
                # A StartTransaction sent again (no answer reached the charger): same id.
                status = "Accepted" if repeated.cdr_token else "Invalid"
                return call_result.StartTransaction(
                    transaction_id=int(repeated.ocpp_tx_id), id_tag_info={"status": status}
                )
            auth: AuthResult = await self.csms.bridge.authorize(
                session, charger, id_tag, connector_id
            )
            tx, _new = await self.csms.bridge.start_transaction(
                session,
                charger,
                evse=connector_id,
                connector=connector_id,
                id_tag=id_tag,
                meter_start_wh=float(meter_start),
                started_at=started_at,
                auth=auth,
            )
            return call_result.StartTransaction(
                transaction_id=int(tx.ocpp_tx_id), id_tag_info={"status": auth.status}
            )

    @on(Action.stop_transaction)
    async def on_stop(
        self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs: Any
    ) -> call_result.StopTransaction:
        await self.csms.meters.settle(self.id)
        async with self.csms.db() as session:
            tx = await self.csms.bridge.find_transaction(session, self.id, str(transaction_id))
            if tx is None:
                # "accepted and logged": the charger must be able to drop it from its queue.
                log.warning(
                    "%s: StopTransaction for unknown transaction %s", self.id, transaction_id
                )
            else:
                samples = energy_samples(kwargs.get("transaction_data"), _wh)
                if samples and tx.status == TransactionStatus.ACTIVE:
                    await self.csms.bridge.meter_values(session, tx, samples)
                    await session.refresh(tx)
                await self.csms.bridge.stop_transaction(
                    session,
                    tx,
                    meter_stop_wh=float(meter_stop),
                    stopped_at=parse_datetime(timestamp),
                    reason=kwargs.get("reason"),
                )
        if kwargs.get("id_tag"):
            return call_result.StopTransaction(id_tag_info={"status": "Accepted"})
        return call_result.StopTransaction()

    @on(Action.meter_values)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> call_result.MeterValues:
        self._evse_number(connector_id, "connectorId")
        samples = energy_samples(meter_value, _wh)
        tx_id = kwargs.get("transaction_id")
        await self.csms.meters.record(
            self.id, connector_id, None if tx_id is None else str(tx_id), samples
        )
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> call_result.DataTransfer:
        log.info("%s: DataTransfer from vendor %s", self.id, vendor_id)
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics(
        self, status: str, **kwargs: Any
    ) -> call_result.DiagnosticsStatusNotification:
        log.info("%s: diagnostics %s", self.id, status)
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware(
        self, status: str, **kwargs: Any
    ) -> call_result.FirmwareStatusNotification:
        log.info("%s: firmware %s", self.id, status)
        return call_result.FirmwareStatusNotification()
