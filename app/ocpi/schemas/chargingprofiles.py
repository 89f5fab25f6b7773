"""OCPI 2.2.1 ChargingProfiles module objects (spec: mod_charging_profiles.asciidoc).

The Sender PUTs a ``SetChargingProfile`` (or GETs/DELETEs with a ``response_url`` query parameter);
the Receiver answers synchronously with a ``ChargingProfileResponse`` and later POSTs an
``ActiveChargingProfileResult``, ``ChargingProfileResult`` or ``ClearProfileResult`` to
``response_url``. The Receiver may also PUT an updated ``ActiveChargingProfile`` to the Sender.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field
from pydantic.json_schema import JsonDict

from app.ocpi.schemas.common import (
    URL,
    DateTime,
    NonNegativeInt,
    NullAsEmpty,
    Number,
    OcpiModel,
)

__all__ = (
    "ActiveChargingProfile",
    "ActiveChargingProfileResult",
    "ChargingProfile",
    "ChargingProfilePeriod",
    "ChargingProfileResponse",
    "ChargingProfileResponseType",
    "ChargingProfileResult",
    "ChargingProfileResultType",
    "ChargingRate",
    "ChargingRateUnit",
    "ClearProfileResult",
    "SetChargingProfile",
)


def _one_decimal(value: Decimal) -> Decimal:
    try:
        exact = value == value.quantize(Decimal("0.1"))
    except InvalidOperation:  # more digits than the decimal context holds
        exact = False
    if not exact:
        raise ValueError("at most one digit fraction is accepted (e.g. 8.1)")
    return value


# min_charging_rate and limit: "Accepts at most one digit fraction (e.g. 8.1)".
ChargingRate = Annotated[Number, AfterValidator(_one_decimal)]


class ChargingRateUnit(StrEnum):
    """W: the TOTAL allowed power ("if numberPhases in a ChargingProfilePeriod is absent, 3 SHALL
    be assumed"). A: "The amount of Ampere per phase, not the sum of all phases"."""

    W = "W"
    A = "A"


class ChargingProfileResponseType(StrEnum):
    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TOO_OFTEN = "TOO_OFTEN"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class ChargingProfileResultType(StrEnum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


class ChargingProfilePeriod(OcpiModel):
    """``start_period``: seconds from the start of the profile; it "also defines the stop time of
    the previous period"."""

    start_period: NonNegativeInt
    limit: ChargingRate


class ChargingProfile(OcpiModel):
    """Without ``start_date_time`` the profile is relative to the start of charging; without
    ``duration`` (seconds) the last period continues indefinitely."""

    start_date_time: DateTime | None = None
    duration: NonNegativeInt | None = None
    charging_rate_unit: ChargingRateUnit
    min_charging_rate: ChargingRate | None = None
    charging_profile_period: Annotated[list[ChargingProfilePeriod], NullAsEmpty] = Field(
        default_factory=list
    )


# What the Charge Point of Session 101 runs now: 16 A per phase, 10 A after an hour.
_ACTIVE_PROFILE_EXAMPLE: JsonDict = {
    "start_date_time": "2020-03-09T10:17:09Z",
    "charging_profile": {
        "charging_rate_unit": "A",
        "charging_profile_period": [
            {"start_period": 0, "limit": 16.0},
            {"start_period": 3600, "limit": 10.0},
        ],
    },
}


class ActiveChargingProfile(OcpiModel):
    """``start_date_time``: when the Charge Point calculated it; "All time measurements within
    the profile are relative to this timestamp"."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ACTIVE_PROFILE_EXAMPLE]})

    start_date_time: DateTime
    charging_profile: ChargingProfile


class ChargingProfileResponse(OcpiModel):
    """Synchronous answer of the CPO; ``timeout`` in seconds."""

    result: ChargingProfileResponseType
    timeout: NonNegativeInt


class ActiveChargingProfileResult(OcpiModel):
    """``profile``: "The requested ActiveChargingProfile, if the result field is set to:
    ACCEPTED" (not enforced)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"result": "ACCEPTED", "profile": _ACTIVE_PROFILE_EXAMPLE}]}
    )

    result: ChargingProfileResultType
    profile: ActiveChargingProfile | None = None


class ChargingProfileResult(OcpiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"result": "ACCEPTED"}]})

    result: ChargingProfileResultType


class ClearProfileResult(OcpiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"result": "ACCEPTED"}]})

    result: ChargingProfileResultType


class SetChargingProfile(OcpiModel):
    # Limit the total power to 11 kW for the first half hour, then to 7.4 kW (never below 1.4 kW).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "charging_profile": {
                        "start_date_time": "2020-03-09T10:20:00Z",
                        "duration": 7200,
                        "charging_rate_unit": "W",
                        "min_charging_rate": 1400.0,
                        "charging_profile_period": [
                            {"start_period": 0, "limit": 11000.0},
                            {"start_period": 1800, "limit": 7400.0},
                        ],
                    },
                    "response_url": "https://www.server.com/ocpi/scsp/2.2.1/chargingprofiles/101/9b2d",
                }
            ]
        }
    )

    charging_profile: ChargingProfile
    response_url: URL
