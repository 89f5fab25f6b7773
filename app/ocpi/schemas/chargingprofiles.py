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

from pydantic import AfterValidator, Field, NonNegativeInt

from app.ocpi.schemas.common import URL, DateTime, NullAsEmpty, Number, OcpiModel

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


class ActiveChargingProfile(OcpiModel):
    """``start_date_time``: when the Charge Point calculated it; "All time measurements within
    the profile are relative to this timestamp"."""

    start_date_time: DateTime
    charging_profile: ChargingProfile


class ChargingProfileResponse(OcpiModel):
    """Synchronous answer of the CPO; ``timeout`` in seconds."""

    result: ChargingProfileResponseType
    timeout: NonNegativeInt


class ActiveChargingProfileResult(OcpiModel):
    """``profile``: "The requested ActiveChargingProfile, if the result field is set to:
    ACCEPTED" (not enforced)."""

    result: ChargingProfileResultType
    profile: ActiveChargingProfile | None = None


class ChargingProfileResult(OcpiModel):
    result: ChargingProfileResultType


class ClearProfileResult(OcpiModel):
    result: ChargingProfileResultType


class SetChargingProfile(OcpiModel):
    charging_profile: ChargingProfile
    response_url: URL
