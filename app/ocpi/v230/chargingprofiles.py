"""OCPI 2.3.0 ChargingProfiles module objects (spec 2.3.0: mod_charging_profiles.asciidoc).

The objects are 2.2.1's (only the ChargingRateUnit descriptions were shortened); these models
differ only in keeping extension fields.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, NonNegativeInt

from app.ocpi.schemas.chargingprofiles import (
    ChargingProfileResponseType,
    ChargingProfileResultType,
    ChargingRate,
    ChargingRateUnit,
)
from app.ocpi.schemas.common import URL, DateTime, NullAsEmpty
from app.ocpi.v230.common import Ocpi230Model

__all__ = (
    "ActiveChargingProfile",
    "ActiveChargingProfileResult",
    "ChargingProfile",
    "ChargingProfilePeriod",
    "ChargingProfileResponse",
    "ChargingProfileResult",
    "ClearProfileResult",
    "SetChargingProfile",
)


class ChargingProfilePeriod(Ocpi230Model):
    start_period: NonNegativeInt
    limit: ChargingRate


class ChargingProfile(Ocpi230Model):
    start_date_time: DateTime | None = None
    duration: NonNegativeInt | None = None
    charging_rate_unit: ChargingRateUnit
    min_charging_rate: ChargingRate | None = None
    charging_profile_period: Annotated[list[ChargingProfilePeriod], NullAsEmpty] = Field(
        default_factory=list
    )


class ActiveChargingProfile(Ocpi230Model):
    start_date_time: DateTime
    charging_profile: ChargingProfile


class ChargingProfileResponse(Ocpi230Model):
    result: ChargingProfileResponseType
    timeout: NonNegativeInt


class ActiveChargingProfileResult(Ocpi230Model):
    result: ChargingProfileResultType
    profile: ActiveChargingProfile | None = None


class ChargingProfileResult(Ocpi230Model):
    result: ChargingProfileResultType


class ClearProfileResult(Ocpi230Model):
    result: ChargingProfileResultType


class SetChargingProfile(Ocpi230Model):
    charging_profile: ChargingProfile
    response_url: URL
