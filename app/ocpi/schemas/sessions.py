"""OCPI 2.2.1 Sessions module objects (spec: mod_sessions.asciidoc).

``ProfileType`` belongs to this module in the spec; it is defined in ``tokens`` (to avoid an
import cycle, see there) and re-exported here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field

from app.ocpi.schemas.cdrs import AuthMethod, CdrToken, ChargingPeriod
from app.ocpi.schemas.common import (
    CiString36,
    CountryCode,
    DateTime,
    NullAsEmpty,
    Number,
    ObjectId36,
    OcpiModel,
    PartyId,
    Price,
    String3,
    String255,
)
from app.ocpi.schemas.tokens import ProfileType

__all__ = (
    "ChargingPreferences",
    "ChargingPreferencesResponse",
    "ProfileType",
    "Session",
    "SessionPatch",
    "SessionStatus",
)


class ChargingPreferencesResponse(StrEnum):
    """Response data of PUT .../sessions/{session_id}/charging_preferences.

    For an EVSE without CHARGING_PREFERENCES_CAPABLE the receiver "should respond with an HTTP
    status of 404 and an OCPI status code of 2001" instead.
    """

    ACCEPTED = "ACCEPTED"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
    NOT_POSSIBLE = "NOT_POSSIBLE"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"


class SessionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


class ChargingPreferences(OcpiModel):
    """Body of PUT .../sessions/{session_id}/charging_preferences.

    ``discharge_allowed``: "Default if omitted: false" (kept as ``None`` when omitted).
    """

    # The driver wants 20 kWh by 17:30 at the cheapest price and allows no discharging.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "profile_type": "CHEAP",
                    "departure_time": "2020-03-09T17:30:00Z",
                    "energy_need": 20.0,
                    "discharge_allowed": False,
                }
            ]
        }
    )

    profile_type: ProfileType
    departure_time: DateTime | None = None
    energy_need: Number | None = None
    discharge_allowed: bool | None = None


class Session(OcpiModel):
    """A charging session.

    ``start_date_time``: while PENDING, the time the Session was created; updated to the moment it
    went ACTIVE. ``evse_uid``/``connector_id`` may be ``#NA`` for a reservation without an assigned
    EVSE/connector. ``total_cost``: "When omitted [...] it does not imply the session is/was free
    of charge."
    """

    # session_example_1_simple_start.json (mod_sessions.asciidoc)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "country_code": "NL",
                    "party_id": "STK",
                    "id": "101",
                    "start_date_time": "2020-03-09T10:17:09Z",
                    "kwh": 0.0,
                    "cdr_token": {
                        "country_code": "NL",
                        "party_id": "TST",
                        "uid": "123abc",
                        "type": "RFID",
                        "contract_id": "NL-TST-C12345678-S",
                    },
                    "auth_method": "WHITELIST",
                    "location_id": "LOC1",
                    "evse_uid": "3256",
                    "connector_id": "1",
                    "currency": "EUR",
                    "total_cost": {"excl_vat": 2.5},
                    "status": "PENDING",
                    "last_updated": "2020-03-09T10:17:09Z",
                }
            ]
        }
    )

    country_code: CountryCode
    party_id: PartyId
    id: ObjectId36
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: Number
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString36 | None = None
    location_id: CiString36
    evse_uid: CiString36
    connector_id: CiString36
    meter_id: String255 | None = None
    currency: String3
    charging_periods: Annotated[list[ChargingPeriod], NullAsEmpty] = Field(default_factory=list)
    total_cost: Price | None = None
    status: SessionStatus
    last_updated: DateTime


class SessionPatch(OcpiModel):
    """Body of a Session PATCH ("SHALL contain the last_updated field").

    "When a PATCH request contains the charging_periods field [...] this SHALL be processed as a
    request to add all the ChargingPeriod objects to the existing Session object. If the request
    charging_periods list is omitted (or contains an empty list), no changes SHALL be made".
    """

    # After session_patch_example_charging_period.json: add a ChargingPeriod (2.2 kWh) and update
    # the totals (EUR 0.30/kWh, 21% VAT).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kwh": 15.0,
                    "charging_periods": [
                        {
                            "start_date_time": "2019-06-23T08:16:02Z",
                            "dimensions": [{"type": "ENERGY", "volume": 2.2}],
                            "tariff_id": "12",
                        }
                    ],
                    "total_cost": {"excl_vat": 4.5, "incl_vat": 5.45},
                    "last_updated": "2019-06-23T08:16:02Z",
                }
            ]
        }
    )

    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    id: ObjectId36 | None = None
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    kwh: Number | None = None
    cdr_token: CdrToken | None = None
    auth_method: AuthMethod | None = None
    authorization_reference: CiString36 | None = None
    location_id: CiString36 | None = None
    evse_uid: CiString36 | None = None
    connector_id: CiString36 | None = None
    meter_id: String255 | None = None
    currency: String3 | None = None
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: SessionStatus | None = None
    last_updated: DateTime
