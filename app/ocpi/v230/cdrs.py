"""OCPI 2.3.0 CDRs module objects (spec 2.3.0: mod_cdrs.asciidoc).

As 2.2.1, except: every cost is a 2.3.0 Price (``before_taxes`` + TaxAmounts), the Tariffs are
2.3.0 Tariffs, ``SignedValue.plain_data`` is string(5000) and ``CdrToken.type`` the TokenType
OpenEnum.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from app.ocpi.schemas.cdrs import AuthMethod, CdrDimensionType
from app.ocpi.schemas.common import (
    AnyString,
    CiString32,
    CiString36,
    CiString39,
    CiString48,
    CountryCode,
    DateTime,
    NullAsEmpty,
    Number,
    PartyId,
    String3,
    String10,
    String20,
    String45,
    String255,
    String512,
    String5000,
)
from app.ocpi.schemas.locations import ConnectorFormat, PowerType
from app.ocpi.v230.common import Ocpi230Model, OpenEnum, Price
from app.ocpi.v230.locations import GeoLocation
from app.ocpi.v230.tariffs import Tariff

__all__ = (
    "CDR",
    "CdrDimension",
    "CdrLocation",
    "CdrToken",
    "ChargingPeriod",
    "SignedData",
    "SignedValue",
)


class CdrDimension(Ocpi230Model):
    type: CdrDimensionType
    volume: Number


class ChargingPeriod(Ocpi230Model):
    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Field(min_length=1)]
    tariff_id: CiString36 | None = None


class CdrToken(Ocpi230Model):
    country_code: CountryCode
    party_id: PartyId
    uid: CiString36
    type: OpenEnum  # TokenType (OpenEnum)
    contract_id: CiString36


class CdrLocation(Ocpi230Model):
    id: CiString36
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10 | None = None
    state: String20 | None = None
    country: String3
    coordinates: GeoLocation
    evse_uid: CiString36
    evse_id: CiString48
    connector_id: CiString36
    connector_standard: OpenEnum  # ConnectorType (OpenEnum)
    connector_format: ConnectorFormat
    connector_power_type: PowerType


class SignedValue(Ocpi230Model):
    nature: CiString32
    plain_data: String5000
    signed_data: String5000


class SignedData(Ocpi230Model):
    encoding_method: CiString36
    encoding_method_version: int | None = None
    public_key: String512 | None = None
    signed_values: Annotated[list[SignedValue], Field(min_length=1)]
    url: Annotated[AnyString, StringConstraints(max_length=512)] | None = None


class CDR(Ocpi230Model):
    country_code: CountryCode
    party_id: PartyId
    id: CiString39
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: CiString36 | None = None
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString36 | None = None
    cdr_location: CdrLocation
    meter_id: String255 | None = None
    currency: String3
    tariffs: Annotated[list[Tariff], NullAsEmpty] = Field(default_factory=list)
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    signed_data: SignedData | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number
    total_energy_cost: Price | None = None
    total_time: Number
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: String255 | None = None
    invoice_reference_id: CiString39 | None = None
    credit: bool | None = None
    credit_reference_id: CiString39 | None = None
    home_charging_compensation: bool | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _credit_needs_reference(self) -> Self:
        if self.credit and self.credit_reference_id is None:
            raise ValueError("credit_reference_id is required for a Credit CDR (credit=true)")
        return self
