"""OCPI 2.2.1 CDRs module objects (spec: mod_cdrs.asciidoc).

``CdrToken``, ``ChargingPeriod``, ``CdrDimension``, ``CdrDimensionType`` and ``AuthMethod`` are
owned here and reused by the Sessions module.

step_size (CDR Object, "step_size"): "When calculating the cost of a charging session, step_size
SHALL only be taken into account once per session for the TariffDimensionType ENERGY and once for
PARKING_TIME and TIME combined." and "The step_size uses the total amount of a certain unit used
during a session, not only the last ChargingPeriod."
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import ConfigDict, Field, model_validator

from app.ocpi.schemas.common import (
    CiString32,
    CiString36,
    CiString39,
    CiString48,
    CountryCode,
    DateTime,
    Int,
    NullAsEmpty,
    Number,
    ObjectId39,
    OcpiModel,
    PartyId,
    Price,
    String3,
    String10,
    String20,
    String45,
    String255,
    String512,
    String5000,
)
from app.ocpi.schemas.locations import ConnectorFormat, ConnectorType, GeoLocation, PowerType
from app.ocpi.schemas.tariffs import Tariff
from app.ocpi.schemas.tokens import TokenType

__all__ = (
    "CDR",
    "SESSION_ONLY_DIMENSIONS",
    "AuthMethod",
    "CdrDimension",
    "CdrDimensionType",
    "CdrLocation",
    "CdrToken",
    "ChargingPeriod",
    "SignedData",
    "SignedValue",
)


class AuthMethod(StrEnum):
    AUTH_REQUEST = "AUTH_REQUEST"
    COMMAND = "COMMAND"
    WHITELIST = "WHITELIST"


class CdrDimensionType(StrEnum):
    """Dimensions of a ChargingPeriod (in CDRs and Sessions).

    CURRENT, ENERGY_EXPORT, ENERGY_IMPORT, POWER and STATE_OF_CHARGE are marked "Session Only":
    they "SHALL therefor only be used in Sessions". Times are in hours, energy in kWh, current in
    A, power in kW.
    """

    CURRENT = "CURRENT"
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"
    ENERGY_IMPORT = "ENERGY_IMPORT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    TIME = "TIME"


SESSION_ONLY_DIMENSIONS: frozenset[CdrDimensionType] = frozenset(
    {
        CdrDimensionType.CURRENT,
        CdrDimensionType.ENERGY_EXPORT,
        CdrDimensionType.ENERGY_IMPORT,
        CdrDimensionType.POWER,
        CdrDimensionType.STATE_OF_CHARGE,
    }
)


class CdrDimension(OcpiModel):
    type: CdrDimensionType
    volume: Number


class ChargingPeriod(OcpiModel):
    """ "A period ends when the next period starts. The last period ends when the session ends."
    ``tariff_id``: "If not provided, no Tariff is relevant during this period." """

    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Field(min_length=1)]
    tariff_id: CiString36 | None = None


class CdrToken(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    uid: CiString36
    type: TokenType
    contract_id: CiString36


class CdrLocation(OcpiModel):
    """The relevant Location/EVSE/Connector data, as they were at the start of the session.

    ``evse_uid``, ``evse_id`` and ``connector_id`` may be ``#NA`` for a reservation that never
    became a charging session; the connector fields should then be ignored by the Receiver.
    """

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
    connector_standard: ConnectorType
    connector_format: ConnectorFormat
    connector_power_type: PowerType


class SignedValue(OcpiModel):
    nature: CiString32
    plain_data: String512
    signed_data: String5000


class SignedData(OcpiModel):
    encoding_method: CiString36
    encoding_method_version: Int | None = None
    public_key: String512 | None = None
    signed_values: Annotated[list[SignedValue], Field(min_length=1)]
    # Typed "string(512)" in the table (the link text says CiString, the type says string).
    url: String512 | None = None


class CDR(OcpiModel):
    """A Charge Detail Record, "sealed" with the data valid at the start of the session.

    ``id`` is CiString(39): "longer than the usual 36 characters to allow for credit CDRs to have
    something appended to the original ID". ``credit``: "When set to true, this is a Credit CDR,
    and the field credit_reference_id needs to be set as well" (enforced).
    ``total_charging_time = total_time - total_parking_time``.
    """

    # cdr_example.json (mod_cdrs.asciidoc), with the swapped latitude and longitude of its
    # cdr_location put right.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "country_code": "BE",
                    "party_id": "BEC",
                    "id": "12345",
                    "start_date_time": "2015-06-29T21:39:09Z",
                    "end_date_time": "2015-06-29T23:37:32Z",
                    "cdr_token": {
                        "country_code": "DE",
                        "party_id": "TNM",
                        "uid": "012345678",
                        "type": "RFID",
                        "contract_id": "DE8ACC12E46L89",
                    },
                    "auth_method": "WHITELIST",
                    "cdr_location": {
                        "id": "LOC1",
                        "name": "Gent Zuid",
                        "address": "F.Rooseveltlaan 3A",
                        "city": "Gent",
                        "postal_code": "9000",
                        "country": "BEL",
                        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
                        "evse_uid": "3256",
                        "evse_id": "BE*BEC*E041503003",
                        "connector_id": "1",
                        "connector_standard": "IEC_62196_T2",
                        "connector_format": "SOCKET",
                        "connector_power_type": "AC_1_PHASE",
                    },
                    "currency": "EUR",
                    "tariffs": [
                        {
                            "country_code": "BE",
                            "party_id": "BEC",
                            "id": "12",
                            "currency": "EUR",
                            "elements": [
                                {
                                    "price_components": [
                                        {
                                            "type": "TIME",
                                            "price": 2.0,
                                            "vat": 10.0,
                                            "step_size": 300,
                                        }
                                    ]
                                }
                            ],
                            "last_updated": "2015-02-02T14:15:01Z",
                        }
                    ],
                    "charging_periods": [
                        {
                            "start_date_time": "2015-06-29T21:39:09Z",
                            "dimensions": [{"type": "TIME", "volume": 1.973}],
                            "tariff_id": "12",
                        }
                    ],
                    "total_cost": {"excl_vat": 4.0, "incl_vat": 4.4},
                    "total_energy": 15.342,
                    "total_time": 1.973,
                    "total_time_cost": {"excl_vat": 4.0, "incl_vat": 4.4},
                    "last_updated": "2015-06-29T22:01:13Z",
                }
            ]
        }
    )

    country_code: CountryCode
    party_id: PartyId
    id: ObjectId39
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
