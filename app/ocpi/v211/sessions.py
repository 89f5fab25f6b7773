"""OCPI 2.1.1 Sessions module objects (spec 2.1.1: mod_sessions.md).

Differences from 2.2.1: no ``country_code``/``party_id``; ``start_datetime``/``end_datetime``;
``auth_id`` (2.2.1: ``cdr_token``); the whole ``location`` "including only the relevant EVSE and
connector" (2.2.1: ``location_id``/``evse_uid``/``connector_id``); ``total_cost`` a number excl.
VAT; no ``authorization_reference``; no RESERVATION status; no charging preferences.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from app.ocpi.schemas.common import DateTime, NullAsEmpty, Number, OcpiModel, String3, String255
from app.ocpi.v211.cdrs import AuthMethod, ChargingPeriod
from app.ocpi.v211.common import Id36
from app.ocpi.v211.locations import Location

__all__ = ("Session", "SessionPatch", "SessionStatus")


class SessionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"


class Session(OcpiModel):
    id: Id36
    start_datetime: DateTime
    end_datetime: DateTime | None = None
    kwh: Number
    auth_id: Id36
    auth_method: AuthMethod
    location: Location
    meter_id: String255 | None = None
    currency: String3
    charging_periods: Annotated[list[ChargingPeriod], NullAsEmpty] = Field(default_factory=list)
    total_cost: Number | None = None
    status: SessionStatus
    last_updated: DateTime


class SessionPatch(OcpiModel):
    id: Id36 | None = None
    start_datetime: DateTime | None = None
    end_datetime: DateTime | None = None
    kwh: Number | None = None
    auth_id: Id36 | None = None
    auth_method: AuthMethod | None = None
    location: Location | None = None
    meter_id: String255 | None = None
    currency: String3 | None = None
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Number | None = None
    status: SessionStatus | None = None
    last_updated: DateTime | None = None
