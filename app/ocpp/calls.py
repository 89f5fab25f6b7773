"""What the hub sends to chargers, per OCPP version: one builder class per version
(app/ocpp/calls16.py, app/ocpp/calls201.py) makes the action name and payload of each outbound
call from the OCPI request it carries out. Payloads are camelCase, as in the OCPP specifications.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from app.ocpp.models import OcppTransaction

Call = tuple[str, dict[str, Any]]

# OCPI token type -> OCPP 2.0.1 IdTokenEnumType.
ID_TOKEN_TYPES = {"RFID": "ISO14443", "APP_USER": "Central", "AD_HOC_USER": "Central"}
# Profile ids the hub sets: one per transaction, so a PUT replaces the previous one.
PROFILE_ID_BASE = 100_000


def profile_id(tx: OcppTransaction) -> int:
    assert tx.id is not None
    return PROFILE_ID_BASE + tx.id


class OutboundCalls(ABC):
    """The calls of one OCPP version."""

    version: str
    #: What the admin API may send to chargers of this version (OCPP action names).
    admin_calls: tuple[str, ...]

    @abstractmethod
    def unlock_connector(self, evse: int, connector: int) -> Call: ...

    @abstractmethod
    def remote_start(self, evse: int, token: dict[str, Any], remote_id: int | None) -> Call: ...

    @abstractmethod
    def remote_stop(self, tx: OcppTransaction) -> Call: ...

    @abstractmethod
    def reserve_now(
        self,
        evse: int | None,
        expiry: str,
        token: dict[str, Any],
        reservation_id: int | None,
    ) -> Call:
        """``evse`` None: any EVSE of the charger."""

    def cancel_reservation(self, reservation_id: int | None) -> Call:
        return "CancelReservation", {"reservationId": reservation_id}

    @abstractmethod
    def set_charging_profile(self, tx: OcppTransaction, profile: dict[str, Any]) -> Call:
        """A TxProfile of the transaction from an OCPI ChargingProfile."""

    @abstractmethod
    def clear_charging_profile(self, tx: OcppTransaction) -> Call: ...

    @abstractmethod
    def get_composite_schedule(self, tx: OcppTransaction, duration: int) -> Call: ...

    @staticmethod
    def schedule(profile: dict[str, Any]) -> dict[str, Any]:
        """The OCPP ChargingSchedule of an OCPI ChargingProfile (both versions share it)."""
        schedule: dict[str, Any] = {
            "chargingRateUnit": profile["charging_rate_unit"],
            "chargingSchedulePeriod": [
                {"startPeriod": p["start_period"], "limit": p["limit"]}
                for p in profile.get("charging_profile_period") or []
            ]
            or [{"startPeriod": 0, "limit": 0}],
        }
        if profile.get("duration") is not None:
            schedule["duration"] = profile["duration"]
        if profile.get("start_date_time"):
            schedule["startSchedule"] = profile["start_date_time"]
        if profile.get("min_charging_rate") is not None:
            schedule["minChargingRate"] = profile["min_charging_rate"]
        return schedule

    @staticmethod
    def profile_kind(profile: dict[str, Any]) -> str:
        return "Absolute" if profile.get("start_date_time") else "Relative"
