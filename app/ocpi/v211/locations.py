"""OCPI 2.1.1 Locations module objects (spec 2.1.1: mod_locations.md).

Differences from 2.2.1: no ``country_code``/``party_id``/``publish``/``publish_allowed_to``/
``state``; a required ``type`` (LocationType) instead of the optional ``parking_type``;
``postal_code`` required and ``time_zone`` optional; Connector ``voltage``/``amperage`` and one
``tariff_id`` (2.2.1: ``max_voltage``/``max_amperage``, ``tariff_ids``, ``max_electric_power``);
``EnvironmentalImpact.source`` (2.2.1: ``category``); Hours is a choice of ``regular_hours`` or
``twentyfourseven``; times may be "24:00"; coordinates have 6 decimals; fewer Capability,
ConnectorType, Facility and PowerType values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from app.ocpi.schemas.common import (
    URL,
    DateTime,
    DisplayText,
    NullAsEmpty,
    Number,
    OcpiModel,
    String4,
    String10,
    String16,
    String45,
    String64,
    String100,
    String255,
)
from app.ocpi.schemas.locations import (
    ConnectorFormat,
    EnergySourceCategory,
    EnvironmentalImpactCategory,
    ExceptionalPeriod,
    ImageCategory,
    ParkingRestriction,
    Status,
    StatusSchedule,
)
from app.ocpi.v211.common import Id36, Id39, String3

__all__ = (
    "EVSE",
    "AdditionalGeoLocation",
    "BusinessDetails",
    "Capability",
    "Connector",
    "ConnectorPatch",
    "ConnectorType",
    "EnergyMix",
    "EnergySource",
    "EnvironmentalImpact",
    "EvsePatch",
    "Facility",
    "GeoLocation",
    "Hours",
    "Image",
    "Location",
    "LocationPatch",
    "LocationType",
    "PowerType",
    "RegularHours",
)

# "Regex: -?[0-9]{1,2}\.[0-9]{6}" (and {1,3} for longitude). Read tolerantly: the 5 to 7 decimals
# that 2.2.1 allows are accepted too; the translator always writes exactly 6.
Latitude = Annotated[str, StringConstraints(max_length=10, pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
Longitude = Annotated[str, StringConstraints(max_length=11, pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]
# "Regex: [0-2][0-9]:[0-5][0-9]" (so "24:00" is legal in 2.1.1, not in 2.2.1).
Time5 = Annotated[str, StringConstraints(pattern=r"^[0-2][0-9]:[0-5][0-9]$")]
_Int5 = Annotated[int, Field(ge=0, le=99999)]


class Capability(StrEnum):
    CHARGING_PROFILE_CAPABLE = "CHARGING_PROFILE_CAPABLE"
    CREDIT_CARD_PAYABLE = "CREDIT_CARD_PAYABLE"
    REMOTE_START_STOP_CAPABLE = "REMOTE_START_STOP_CAPABLE"
    RESERVABLE = "RESERVABLE"
    RFID_READER = "RFID_READER"
    UNLOCK_CAPABLE = "UNLOCK_CAPABLE"


class ConnectorType(StrEnum):
    CHADEMO = "CHADEMO"
    DOMESTIC_A = "DOMESTIC_A"
    DOMESTIC_B = "DOMESTIC_B"
    DOMESTIC_C = "DOMESTIC_C"
    DOMESTIC_D = "DOMESTIC_D"
    DOMESTIC_E = "DOMESTIC_E"
    DOMESTIC_F = "DOMESTIC_F"
    DOMESTIC_G = "DOMESTIC_G"
    DOMESTIC_H = "DOMESTIC_H"
    DOMESTIC_I = "DOMESTIC_I"
    DOMESTIC_J = "DOMESTIC_J"
    DOMESTIC_K = "DOMESTIC_K"
    DOMESTIC_L = "DOMESTIC_L"
    IEC_60309_2_single_16 = "IEC_60309_2_single_16"
    IEC_60309_2_three_16 = "IEC_60309_2_three_16"
    IEC_60309_2_three_32 = "IEC_60309_2_three_32"
    IEC_60309_2_three_64 = "IEC_60309_2_three_64"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    IEC_62196_T3A = "IEC_62196_T3A"
    IEC_62196_T3C = "IEC_62196_T3C"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


class Facility(StrEnum):
    HOTEL = "HOTEL"
    RESTAURANT = "RESTAURANT"
    CAFE = "CAFE"
    MALL = "MALL"
    SUPERMARKET = "SUPERMARKET"
    SPORT = "SPORT"
    RECREATION_AREA = "RECREATION_AREA"
    NATURE = "NATURE"
    MUSEUM = "MUSEUM"
    BUS_STOP = "BUS_STOP"
    TAXI_STAND = "TAXI_STAND"
    TRAIN_STATION = "TRAIN_STATION"
    AIRPORT = "AIRPORT"
    CARPOOL_PARKING = "CARPOOL_PARKING"
    FUEL_STATION = "FUEL_STATION"
    WIFI = "WIFI"


class LocationType(StrEnum):
    ON_STREET = "ON_STREET"
    PARKING_GARAGE = "PARKING_GARAGE"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


class PowerType(StrEnum):
    AC_1_PHASE = "AC_1_PHASE"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class GeoLocation(OcpiModel):
    latitude: Latitude
    longitude: Longitude


class AdditionalGeoLocation(OcpiModel):
    latitude: Latitude
    longitude: Longitude
    name: DisplayText | None = None


class Image(OcpiModel):
    url: URL
    thumbnail: URL | None = None
    category: ImageCategory
    type: Annotated[str, StringConstraints(min_length=1, max_length=4)]
    width: _Int5 | None = None
    height: _Int5 | None = None


class BusinessDetails(OcpiModel):
    name: String100
    website: URL | None = None
    logo: Image | None = None


class EnergySource(OcpiModel):
    source: EnergySourceCategory
    percentage: Annotated[Number, Field(ge=0, le=100)]


class EnvironmentalImpact(OcpiModel):
    """2.1.1 names the category ``source`` (2.2.1: ``category``)."""

    source: EnvironmentalImpactCategory
    amount: Number


class EnergyMix(OcpiModel):
    is_green_energy: bool
    energy_sources: Annotated[list[EnergySource], NullAsEmpty] = Field(default_factory=list)
    environ_impact: Annotated[list[EnvironmentalImpact], NullAsEmpty] = Field(default_factory=list)
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


class RegularHours(OcpiModel):
    weekday: Annotated[int, Field(ge=1, le=7)]
    period_begin: Time5
    period_end: Time5


class Hours(OcpiModel):
    """ "Choice: one of two": ``regular_hours`` or ``twentyfourseven`` (the spec's own example
    sends both, with ``twentyfourseven: false``); either may be absent."""

    regular_hours: Annotated[list[RegularHours], NullAsEmpty] = Field(default_factory=list)
    twentyfourseven: bool | None = None
    exceptional_openings: Annotated[list[ExceptionalPeriod], NullAsEmpty] = Field(
        default_factory=list
    )
    exceptional_closings: Annotated[list[ExceptionalPeriod], NullAsEmpty] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _one_of_two(self) -> Self:
        if not self.regular_hours and self.twentyfourseven is None:
            raise ValueError("regular_hours or twentyfourseven is required")
        return self


class Connector(OcpiModel):
    id: Id36
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    voltage: int
    amperage: int
    tariff_id: Id36 | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class EVSE(OcpiModel):
    uid: Id39
    evse_id: Annotated[str, StringConstraints(max_length=48)] | None = None
    status: Status
    status_schedule: Annotated[list[StatusSchedule], NullAsEmpty] = Field(default_factory=list)
    capabilities: Annotated[list[Capability], NullAsEmpty] = Field(default_factory=list)
    connectors: Annotated[list[Connector], Field(min_length=1)]
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: Annotated[list[DisplayText], NullAsEmpty] = Field(default_factory=list)
    parking_restrictions: Annotated[list[ParkingRestriction], NullAsEmpty] = Field(
        default_factory=list
    )
    images: Annotated[list[Image], NullAsEmpty] = Field(default_factory=list)
    last_updated: DateTime


class Location(OcpiModel):
    id: Id39
    type: LocationType
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10
    country: String3
    coordinates: GeoLocation
    related_locations: Annotated[list[AdditionalGeoLocation], NullAsEmpty] = Field(
        default_factory=list
    )
    evses: Annotated[list[EVSE], NullAsEmpty] = Field(default_factory=list)
    directions: Annotated[list[DisplayText], NullAsEmpty] = Field(default_factory=list)
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: Annotated[list[Facility], NullAsEmpty] = Field(default_factory=list)
    time_zone: String255 | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: Annotated[list[Image], NullAsEmpty] = Field(default_factory=list)
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


# --- PATCH bodies: "only the fields/objects that have to be updated have to be present". 2.1.1
# does not require last_updated in a PATCH (its examples have none).


class ConnectorPatch(OcpiModel):
    id: Id36 | None = None
    standard: ConnectorType | None = None
    format: ConnectorFormat | None = None
    power_type: PowerType | None = None
    voltage: int | None = None
    amperage: int | None = None
    tariff_id: Id36 | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime | None = None


class EvsePatch(OcpiModel):
    uid: Id39 | None = None
    evse_id: Annotated[str, StringConstraints(max_length=48)] | None = None
    status: Status | None = None
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[Capability] | None = None
    connectors: Annotated[list[Connector], Field(min_length=1)] | None = None
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[ParkingRestriction] | None = None
    images: list[Image] | None = None
    last_updated: DateTime | None = None


class LocationPatch(OcpiModel):
    id: Id39 | None = None
    type: LocationType | None = None
    name: String255 | None = None
    address: String45 | None = None
    city: String45 | None = None
    postal_code: String10 | None = None
    country: String3 | None = None
    coordinates: GeoLocation | None = None
    related_locations: list[AdditionalGeoLocation] | None = None
    evses: list[EVSE] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] | None = None
    time_zone: String255 | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime | None = None
