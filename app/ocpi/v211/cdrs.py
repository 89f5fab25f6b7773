"""OCPI 2.1.1 CDRs module objects (spec 2.1.1: mod_cdrs.md).

Differences from 2.2.1: no ``country_code``/``party_id``; ``stop_date_time`` (2.2.1:
``end_date_time``); ``auth_id`` names the Token (2.2.1: ``cdr_token``); the whole ``location``
(2.2.1: a CdrLocation); ``total_cost`` is a number excl. VAT (2.2.1: a Price) and there are no
per-dimension costs, credit CDRs, signed data, session id or authorization reference;
ChargingPeriods have no ``tariff_id``; AuthMethod has no COMMAND; CdrDimensionType has FLAT and
lacks the Session-only and power/reservation dimensions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from app.ocpi.schemas.common import (
    CiString36,
    DateTime,
    NullAsEmpty,
    Number,
    OcpiModel,
    String3,
    String255,
)
from app.ocpi.v211.common import Id36
from app.ocpi.v211.locations import Location
from app.ocpi.v211.tariffs import Tariff

__all__ = ("CDR", "AuthMethod", "CdrDimension", "CdrDimensionType", "ChargingPeriod")


class AuthMethod(StrEnum):
    AUTH_REQUEST = "AUTH_REQUEST"
    WHITELIST = "WHITELIST"


class CdrDimensionType(StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class CdrDimension(OcpiModel):
    type: CdrDimensionType
    volume: Number


class ChargingPeriod(OcpiModel):
    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Field(min_length=1)]


class CDR(OcpiModel):
    id: CiString36
    start_date_time: DateTime
    stop_date_time: DateTime
    auth_id: Id36
    auth_method: AuthMethod
    location: Location
    meter_id: String255 | None = None
    currency: String3
    tariffs: Annotated[list[Tariff], NullAsEmpty] = Field(default_factory=list)
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    total_cost: Number
    total_energy: Number
    total_time: Number
    total_parking_time: Number | None = None
    remark: String255 | None = None
    last_updated: DateTime
