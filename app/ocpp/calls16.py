"""OCPP 1.6J calls the hub sends (beside v16.py, which answers the charger's)."""

from __future__ import annotations

from typing import Any

from app.ocpp.calls import Call, OutboundCalls, profile_id
from app.ocpp.models import OcppTransaction


class Calls16(OutboundCalls):
    version = "1.6"
    admin_calls = (
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "UnlockConnector",
        "ReserveNow",
        "CancelReservation",
        "SetChargingProfile",
        "ClearChargingProfile",
        "GetCompositeSchedule",
        "ChangeAvailability",
        "Reset",
        "TriggerMessage",
        "GetConfiguration",
        "ChangeConfiguration",
        "ClearCache",
        "DataTransfer",
    )

    def unlock_connector(self, evse: int, connector: int) -> Call:
        return "UnlockConnector", {"connectorId": evse}

    def remote_start(self, evse: int, token: dict[str, Any], remote_id: int | None) -> Call:
        return "RemoteStartTransaction", {"connectorId": evse, "idTag": str(token["uid"])}

    def remote_stop(self, tx: OcppTransaction) -> Call:
        return "RemoteStopTransaction", {"transactionId": int(tx.ocpp_tx_id)}

    def reserve_now(
        self, evse: int | None, expiry: str, token: dict[str, Any], reservation_id: int | None
    ) -> Call:
        return "ReserveNow", {
            "connectorId": evse if evse is not None else 0,
            "expiryDate": expiry,
            "idTag": str(token["uid"]),
            "reservationId": reservation_id,
        }

    def set_charging_profile(self, tx: OcppTransaction, profile: dict[str, Any]) -> Call:
        return "SetChargingProfile", {
            "connectorId": tx.connector_id,
            "csChargingProfiles": {
                "chargingProfileId": profile_id(tx),
                "transactionId": int(tx.ocpp_tx_id),
                "stackLevel": 1,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": self.profile_kind(profile),
                "chargingSchedule": self.schedule(profile),
            },
        }

    def clear_charging_profile(self, tx: OcppTransaction) -> Call:
        return "ClearChargingProfile", {"id": profile_id(tx)}

    def get_composite_schedule(self, tx: OcppTransaction, duration: int) -> Call:
        return "GetCompositeSchedule", {"connectorId": tx.connector_id, "duration": duration}


CALLS16 = Calls16()
