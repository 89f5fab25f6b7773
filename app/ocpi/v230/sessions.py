"""OCPI 2.3.0 Sessions module objects (spec 2.3.0: mod_sessions.asciidoc).

As 2.2.1, except that ``total_cost`` is a 2.3.0 Price and the CdrToken is 2.3.0's.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.ocpi.schemas.cdrs import AuthMethod
from app.ocpi.schemas.common import (
    CiString36,
    CountryCode,
    DateTime,
    NullAsEmpty,
    Number,
    PartyId,
    String3,
    String255,
)
from app.ocpi.schemas.sessions import SessionStatus
from app.ocpi.schemas.tokens import ProfileType
from app.ocpi.v230.cdrs import CdrToken, ChargingPeriod
from app.ocpi.v230.common import Ocpi230Model, Price

__all__ = ("ChargingPreferences", "Session", "SessionPatch")


class ChargingPreferences(Ocpi230Model):
    profile_type: ProfileType
    departure_time: DateTime | None = None
    energy_need: Number | None = None
    discharge_allowed: bool | None = None


class Session(Ocpi230Model):
    country_code: CountryCode
    party_id: PartyId
    id: CiString36
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


class SessionPatch(Ocpi230Model):
    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    id: CiString36 | None = None
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
