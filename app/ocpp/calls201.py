"""OCPP 2.0.1 calls the hub sends (beside v201.py, which answers the station's)."""

from __future__ import annotations

from typing import Any

from app.ocpp.calls import ID_TOKEN_TYPES, Call, OutboundCalls, profile_id
from app.ocpp.models import OcppTransaction


def _id_token(token: dict[str, Any]) -> dict[str, Any]:
    return {
        "idToken": str(token["uid"]),
        "type": ID_TOKEN_TYPES.get(str(token["type"]), "Central"),
    }


class Calls201(OutboundCalls):
    version = "2.0.1"
    admin_calls = (
        "RequestStartTransaction",
        "RequestStopTransaction",
        "UnlockConnector",
        "ReserveNow",
        "CancelReservation",
        "SetChargingProfile",
        "ClearChargingProfile",
        "GetCompositeSchedule",
        "ChangeAvailability",
        "Reset",
        "TriggerMessage",
        "GetVariables",
        "SetVariables",
        "GetBaseReport",
        "ClearCache",
        "DataTransfer",
        "GetTransactionStatus",
    )

    def unlock_connector(self, evse: int, connector: int) -> Call:
        return "UnlockConnector", {"evseId": evse, "connectorId": connector}

    def remote_start(self, evse: int, token: dict[str, Any], remote_id: int | None) -> Call:
        return "RequestStartTransaction", {
            "idToken": _id_token(token),
            "remoteStartId": remote_id,
            "evseId": evse,
        }

    def remote_stop(self, tx: OcppTransaction) -> Call:
        return "RequestStopTransaction", {"transactionId": tx.ocpp_tx_id}

    def reserve_now(
        self, evse: int | None, expiry: str, token: dict[str, Any], reservation_id: int | None
    ) -> Call:
        return "ReserveNow", {
            "id": reservation_id,
            "expiryDateTime": expiry,
            "idToken": _id_token(token),
            **({"evseId": evse} if evse is not None else {}),
        }

    def set_charging_profile(self, tx: OcppTransaction, profile: dict[str, Any]) -> Call:
        return "SetChargingProfile", {
            "evseId": tx.evse_id,
            "chargingProfile": {
                "id": profile_id(tx),
                "transactionId": tx.ocpp_tx_id,
                "stackLevel": 1,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": self.profile_kind(profile),
                "chargingSchedule": [{**self.schedule(profile), "id": 1}],
            },
        }

    def clear_charging_profile(self, tx: OcppTransaction) -> Call:
        return "ClearChargingProfile", {"chargingProfileId": profile_id(tx)}

    def get_composite_schedule(self, tx: OcppTransaction, duration: int) -> Call:
        return "GetCompositeSchedule", {"evseId": tx.evse_id, "duration": duration}


CALLS201 = Calls201()
