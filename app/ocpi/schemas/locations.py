"""OCPI 2.2.1 Locations module objects (spec: mod_locations.asciidoc).

Location > EVSE > Connector, plus the data types they use. ``EnergyMix``, ``GeoLocation``,
``ConnectorType``, ``ConnectorFormat`` and ``PowerType`` are owned here and reused by the Tariffs
and CDRs modules.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic.json_schema import JsonDict

from app.ocpi.schemas.common import (
    URL,
    CiString4,
    CiString36,
    CiString48,
    CountryCode,
    DateTime,
    DisplayText,
    Int,
    NullAsEmpty,
    Number,
    ObjectId36,
    OcpiModel,
    PartyId,
    String3,
    String4,
    String10,
    String16,
    String20,
    String45,
    String64,
    String100,
    String255,
    Time5,
    ci_key,
)
from app.ocpi.schemas.tokens import TokenType

__all__ = (
    "EVSE",
    "AdditionalGeoLocation",
    "BusinessDetails",
    "Capability",
    "Connector",
    "ConnectorFormat",
    "ConnectorPatch",
    "ConnectorType",
    "EnergyMix",
    "EnergySource",
    "EnergySourceCategory",
    "EnvironmentalImpact",
    "EnvironmentalImpactCategory",
    "EvsePatch",
    "ExceptionalPeriod",
    "Facility",
    "GeoLocation",
    "Hours",
    "Image",
    "ImageCategory",
    "Latitude",
    "Location",
    "LocationPatch",
    "Longitude",
    "ParkingRestriction",
    "ParkingType",
    "PowerType",
    "PublishTokenType",
    "RegularHours",
    "Status",
    "StatusSchedule",
)

# GeoLocation: "Decimal separator: "." Regex: -?[0-9]{1,2}\.[0-9]{5,7}" (string(10)) and
# "-?[0-9]{1,3}\.[0-9]{5,7}" (string(11)).
Latitude = Annotated[str, StringConstraints(max_length=10, pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
Longitude = Annotated[str, StringConstraints(max_length=11, pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]
# int(5): at most five digits.
_Int5 = Annotated[int, Field(ge=0, le=99999)]


# --- Enums --------------------------------------------------------------------------------------


class Capability(StrEnum):
    CHARGING_PROFILE_CAPABLE = "CHARGING_PROFILE_CAPABLE"
    CHARGING_PREFERENCES_CAPABLE = "CHARGING_PREFERENCES_CAPABLE"
    CHIP_CARD_SUPPORT = "CHIP_CARD_SUPPORT"
    CONTACTLESS_CARD_SUPPORT = "CONTACTLESS_CARD_SUPPORT"
    CREDIT_CARD_PAYABLE = "CREDIT_CARD_PAYABLE"
    DEBIT_CARD_PAYABLE = "DEBIT_CARD_PAYABLE"
    PED_TERMINAL = "PED_TERMINAL"
    REMOTE_START_STOP_CAPABLE = "REMOTE_START_STOP_CAPABLE"
    RESERVABLE = "RESERVABLE"
    RFID_READER = "RFID_READER"
    START_SESSION_CONNECTOR_REQUIRED = "START_SESSION_CONNECTOR_REQUIRED"
    TOKEN_GROUP_CAPABLE = "TOKEN_GROUP_CAPABLE"
    UNLOCK_CAPABLE = "UNLOCK_CAPABLE"


class ConnectorFormat(StrEnum):
    SOCKET = "SOCKET"
    CABLE = "CABLE"


class ConnectorType(StrEnum):
    """Socket or plug standard. Note the mixed case of the IEC 60309 values (as in the spec)."""

    CHADEMO = "CHADEMO"
    CHAOJI = "CHAOJI"
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
    DOMESTIC_M = "DOMESTIC_M"
    DOMESTIC_N = "DOMESTIC_N"
    DOMESTIC_O = "DOMESTIC_O"
    GBT_AC = "GBT_AC"
    GBT_DC = "GBT_DC"
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
    NEMA_5_20 = "NEMA_5_20"
    NEMA_6_30 = "NEMA_6_30"
    NEMA_6_50 = "NEMA_6_50"
    NEMA_10_30 = "NEMA_10_30"
    NEMA_10_50 = "NEMA_10_50"
    NEMA_14_30 = "NEMA_14_30"
    NEMA_14_50 = "NEMA_14_50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP"
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


class EnergySourceCategory(StrEnum):
    NUCLEAR = "NUCLEAR"
    GENERAL_FOSSIL = "GENERAL_FOSSIL"
    COAL = "COAL"
    GAS = "GAS"
    GENERAL_GREEN = "GENERAL_GREEN"
    SOLAR = "SOLAR"
    WIND = "WIND"
    WATER = "WATER"


class EnvironmentalImpactCategory(StrEnum):
    NUCLEAR_WASTE = "NUCLEAR_WASTE"
    CARBON_DIOXIDE = "CARBON_DIOXIDE"


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
    BIKE_SHARING = "BIKE_SHARING"
    BUS_STOP = "BUS_STOP"
    TAXI_STAND = "TAXI_STAND"
    TRAM_STOP = "TRAM_STOP"
    METRO_STATION = "METRO_STATION"
    TRAIN_STATION = "TRAIN_STATION"
    AIRPORT = "AIRPORT"
    PARKING_LOT = "PARKING_LOT"
    CARPOOL_PARKING = "CARPOOL_PARKING"
    FUEL_STATION = "FUEL_STATION"
    WIFI = "WIFI"


class ImageCategory(StrEnum):
    CHARGER = "CHARGER"
    ENTRANCE = "ENTRANCE"
    LOCATION = "LOCATION"
    NETWORK = "NETWORK"
    OPERATOR = "OPERATOR"
    OTHER = "OTHER"
    OWNER = "OWNER"


class ParkingRestriction(StrEnum):
    EV_ONLY = "EV_ONLY"
    PLUGGED = "PLUGGED"
    DISABLED = "DISABLED"
    CUSTOMERS = "CUSTOMERS"
    MOTORCYCLES = "MOTORCYCLES"


class ParkingType(StrEnum):
    ALONG_MOTORWAY = "ALONG_MOTORWAY"
    PARKING_GARAGE = "PARKING_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    ON_DRIVEWAY = "ON_DRIVEWAY"
    ON_STREET = "ON_STREET"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"


class PowerType(StrEnum):
    AC_1_PHASE = "AC_1_PHASE"
    AC_2_PHASE = "AC_2_PHASE"
    AC_2_PHASE_SPLIT = "AC_2_PHASE_SPLIT"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class Status(StrEnum):
    """Status of an EVSE (or Connector)."""

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


# --- Classes ------------------------------------------------------------------------------------


class GeoLocation(OcpiModel):
    """WGS 84 coordinates, as strings. "Five decimal places is seen as a minimum"."""

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
    type: CiString4
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
    category: EnvironmentalImpactCategory
    amount: Number


class EnergyMix(OcpiModel):
    is_green_energy: bool
    energy_sources: Annotated[list[EnergySource], NullAsEmpty] = Field(default_factory=list)
    environ_impact: Annotated[list[EnvironmentalImpact], NullAsEmpty] = Field(default_factory=list)
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


class ExceptionalPeriod(OcpiModel):
    period_begin: DateTime
    period_end: DateTime


class RegularHours(OcpiModel):
    """One weekday period in local time. ``period_end`` "Must be later than period_begin"; that
    ordering is not enforced here (only the ``hh:mm`` syntax is)."""

    weekday: Annotated[int, Field(ge=1, le=7)]
    period_begin: Time5
    period_end: Time5


class Hours(OcpiModel):
    """Opening/access hours. ``regular_hours`` is "Only to be used if twentyfourseven=false, then
    this field needs to contain at least one RegularHours object" (not enforced: tolerant read)."""

    twentyfourseven: bool
    regular_hours: Annotated[list[RegularHours], NullAsEmpty] = Field(default_factory=list)
    exceptional_openings: Annotated[list[ExceptionalPeriod], NullAsEmpty] = Field(
        default_factory=list
    )
    exceptional_closings: Annotated[list[ExceptionalPeriod], NullAsEmpty] = Field(
        default_factory=list
    )


class PublishTokenType(OcpiModel):
    """A token to which a non-published Location may be shown.

    "At least one of the following fields SHALL be set: uid, visual_number, or group_id. When uid
    is set, type SHALL also be set. When visual_number is set, issuer SHALL also be set."
    """

    uid: CiString36 | None = None
    type: TokenType | None = None
    visual_number: String64 | None = None
    issuer: String64 | None = None
    group_id: CiString36 | None = None

    @model_validator(mode="after")
    def _check_set_fields(self) -> Self:
        if self.uid is None and self.visual_number is None and self.group_id is None:
            raise ValueError("at least one of uid, visual_number or group_id must be set")
        if self.uid is not None and self.type is None:
            raise ValueError("type is required when uid is set")
        if self.visual_number is not None and self.issuer is None:
            raise ValueError("issuer is required when visual_number is set")
        return self


class StatusSchedule(OcpiModel):
    period_begin: DateTime
    period_end: DateTime | None = None
    status: Status


# --- Request examples (OpenAPI), after the spec's examples (mod_locations.asciidoc) -----------

_CONNECTOR_EXAMPLE: JsonDict = {
    "id": "1",
    "standard": "IEC_62196_T2",
    "format": "CABLE",
    "power_type": "AC_3_PHASE",
    "max_voltage": 220,
    "max_amperage": 16,
    "tariff_ids": ["11"],
    "last_updated": "2015-03-16T10:10:02Z",
}
# location_put_example_add_evse.json, completed for 2.2.1 (floor_level, a string
# physical_reference and every required Connector field).
_EVSE_EXAMPLE: JsonDict = {
    "uid": "3258",
    "evse_id": "BE*BEC*E041503003",
    "status": "AVAILABLE",
    "capabilities": ["RESERVABLE"],
    "connectors": [
        {
            "id": "1",
            "standard": "IEC_62196_T2",
            "format": "SOCKET",
            "power_type": "AC_3_PHASE",
            "max_voltage": 220,
            "max_amperage": 16,
            "tariff_ids": ["14"],
            "last_updated": "2019-06-24T12:39:09Z",
        }
    ],
    "floor_level": "-1",
    "physical_reference": "3",
    "last_updated": "2019-06-24T12:39:09Z",
}
# location_example.json
_LOCATION_EXAMPLE: JsonDict = {
    "country_code": "BE",
    "party_id": "BEC",
    "id": "LOC1",
    "publish": True,
    "name": "Gent Zuid",
    "address": "F.Rooseveltlaan 3A",
    "city": "Gent",
    "postal_code": "9000",
    "country": "BEL",
    "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
    "parking_type": "ON_STREET",
    "evses": [
        {
            "uid": "3256",
            "evse_id": "BE*BEC*E041503001",
            "status": "AVAILABLE",
            "capabilities": ["RESERVABLE"],
            "connectors": [
                _CONNECTOR_EXAMPLE,
                {
                    "id": "2",
                    "standard": "IEC_62196_T2",
                    "format": "SOCKET",
                    "power_type": "AC_3_PHASE",
                    "max_voltage": 220,
                    "max_amperage": 16,
                    "tariff_ids": ["13"],
                    "last_updated": "2015-03-18T08:12:01Z",
                },
            ],
            "physical_reference": "1",
            "floor_level": "-1",
            "last_updated": "2015-06-28T08:12:01Z",
        },
        {
            "uid": "3257",
            "evse_id": "BE*BEC*E041503002",
            "status": "RESERVED",
            "capabilities": ["RESERVABLE"],
            "connectors": [
                {
                    "id": "1",
                    "standard": "IEC_62196_T2",
                    "format": "SOCKET",
                    "power_type": "AC_3_PHASE",
                    "max_voltage": 220,
                    "max_amperage": 16,
                    "tariff_ids": ["12"],
                    "last_updated": "2015-06-29T20:39:09Z",
                }
            ],
            "physical_reference": "2",
            "floor_level": "-2",
            "last_updated": "2015-06-29T20:39:09Z",
        },
    ],
    "operator": {"name": "BeCharged"},
    "time_zone": "Europe/Brussels",
    "last_updated": "2015-06-29T20:39:09Z",
}


class Connector(OcpiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_CONNECTOR_EXAMPLE]})

    id: ObjectId36
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: Int
    max_amperage: Int
    max_electric_power: Int | None = None
    tariff_ids: Annotated[list[CiString36], NullAsEmpty] = Field(default_factory=list)
    terms_and_conditions: URL | None = None
    last_updated: DateTime


def _unique(items: list[Any], field: str, what: str, within: str) -> list[Any]:
    """Ids are CiStrings: two that differ only in case are the same id."""
    seen: set[str] = set()
    for item in items:
        key = ci_key(getattr(item, field))
        if key in seen:
            raise ValueError(f"{what} {getattr(item, field)!r} appears twice in one {within}")
        seen.add(key)
    return items


class EVSE(OcpiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EVSE_EXAMPLE]})

    uid: ObjectId36
    evse_id: CiString48 | None = None
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

    @field_validator("connectors")
    @classmethod
    def _connector_ids_unique(cls, connectors: list[Connector]) -> list[Connector]:
        # Connector.id: "Identifier of the Connector within the EVSE."
        return _unique(connectors, "id", "connector id", "EVSE")


class Location(OcpiModel):
    """A Location. ``publish_allowed_to`` "may only be used when the publish field is set to
    false"; ``charging_when_closed`` defaults to *true* when omitted (kept as ``None`` here)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LOCATION_EXAMPLE]})

    country_code: CountryCode
    party_id: PartyId
    id: ObjectId36
    publish: bool
    publish_allowed_to: Annotated[list[PublishTokenType], NullAsEmpty] = Field(default_factory=list)
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10 | None = None
    state: String20 | None = None
    country: String3
    coordinates: GeoLocation
    related_locations: Annotated[list[AdditionalGeoLocation], NullAsEmpty] = Field(
        default_factory=list
    )
    parking_type: ParkingType | None = None
    evses: Annotated[list[EVSE], NullAsEmpty] = Field(default_factory=list)
    directions: Annotated[list[DisplayText], NullAsEmpty] = Field(default_factory=list)
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: Annotated[list[Facility], NullAsEmpty] = Field(default_factory=list)
    time_zone: String255
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: Annotated[list[Image], NullAsEmpty] = Field(default_factory=list)
    energy_mix: EnergyMix | None = None
    last_updated: DateTime

    @field_validator("evses")
    @classmethod
    def _evse_uids_unique(cls, evses: list[EVSE]) -> list[EVSE]:
        # EVSE.uid: "Uniquely identifies the EVSE within the CPOs platform"; pushes and GETs
        # address an EVSE of a Location by it.
        return _unique(evses, "uid", "EVSE uid", "Location")


# --- PATCH bodies -------------------------------------------------------------------------------
# "Same as the PUT method, but only the fields/objects that have to be updated have to be present.
# [...] Any request to the PATCH method SHALL contain the last_updated field." Absent (None) means
# "unchanged", so list fields stay None here instead of defaulting to [].


class ConnectorPatch(OcpiModel):
    # location_patch_example_tariff.json: switch the Connector to another Tariff.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"tariff_ids": ["15"], "last_updated": "2019-06-24T12:39:09Z"}]
        }
    )

    id: ObjectId36 | None = None
    standard: ConnectorType | None = None
    format: ConnectorFormat | None = None
    power_type: PowerType | None = None
    max_voltage: Int | None = None
    max_amperage: Int | None = None
    max_electric_power: Int | None = None
    tariff_ids: list[CiString36] | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class EvsePatch(OcpiModel):
    # location_patch_example_status.json: the EVSE started charging.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "CHARGING", "last_updated": "2019-06-24T12:39:09Z"}]
        }
    )

    uid: ObjectId36 | None = None
    evse_id: CiString48 | None = None
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
    last_updated: DateTime


class LocationPatch(OcpiModel):
    # location_patch_example_location.json: rename the Location.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Interparking Gent Zuid", "last_updated": "2019-06-24T12:39:09Z"}]
        }
    )

    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    id: ObjectId36 | None = None
    publish: bool | None = None
    publish_allowed_to: list[PublishTokenType] | None = None
    name: String255 | None = None
    address: String45 | None = None
    city: String45 | None = None
    postal_code: String10 | None = None
    state: String20 | None = None
    country: String3 | None = None
    coordinates: GeoLocation | None = None
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: ParkingType | None = None
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
    last_updated: DateTime
