"""OCPI 2.3.0 Locations module objects (spec 2.3.0: mod_locations.asciidoc).

New since 2.2.1: Parking objects (``Location.parking_places``) linked from EVSEs
(``EVSE.parking``), ``EVSE.accepted_service_providers``, ``Location.help_phone``,
``Connector.capabilities``; ``address`` is string(255) and ``state`` string(45); Capability,
ConnectorType, EnvironmentalImpactCategory, Facility, ImageCategory, ParkingRestriction and
ParkingType are OpenEnums (new known values: MCS and SAE_J3400 connectors, EMPLOYEES, TAXIS and
TENANTS parking restrictions, ISO 15118 connector capabilities).

Closed enums whose values did not change (ConnectorFormat, EnergySourceCategory, PowerType, Status)
are the 2.2.1 ones.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from app.ocpi.schemas.common import (
    URL,
    AnyString,
    CiString36,
    CiString48,
    CiString255,
    CountryCode,
    DateTime,
    NullAsEmpty,
    Number,
    PartyId,
    String3,
    String4,
    String10,
    String16,
    String45,
    String50,
    String64,
    String100,
    String255,
    Time5,
)
from app.ocpi.schemas.locations import (
    ConnectorFormat,
    EnergySourceCategory,
    Latitude,
    Longitude,
    PowerType,
    Status,
)
from app.ocpi.v230.common import DisplayText, Ocpi230Model, OpenEnum

__all__ = (
    "EVSE",
    "AdditionalGeoLocation",
    "BusinessDetails",
    "Connector",
    "ConnectorCapability",
    "ConnectorPatch",
    "ConnectorType",
    "EVSEParking",
    "EVSEPosition",
    "EnergyMix",
    "EnergySource",
    "EnvironmentalImpact",
    "EvsePatch",
    "ExceptionalPeriod",
    "GeoLocation",
    "Hours",
    "Image",
    "Location",
    "LocationPatch",
    "Parking",
    "ParkingDirection",
    "ParkingRestriction",
    "PublishTokenType",
    "RegularHours",
    "StatusSchedule",
    "VehicleType",
)

String12 = Annotated[AnyString, StringConstraints(max_length=12)]
CiString25 = Annotated[CiString255, StringConstraints(max_length=25)]
_Int5 = Annotated[int, Field(ge=0, le=99999)]


# --- Enums: new or with new known values ---------------------------------------------------------


class ConnectorCapability(StrEnum):
    """Known values of the ConnectorCapability OpenEnum (new in 2.3.0)."""

    ISO_15118_2_PLUG_AND_CHARGE = "ISO_15118_2_PLUG_AND_CHARGE"
    ISO_15118_20_PLUG_AND_CHARGE = "ISO_15118_20_PLUG_AND_CHARGE"


class ConnectorType(StrEnum):
    """The 2.3.0 values of the ConnectorType OpenEnum that 2.2.1 does not have."""

    MCS = "MCS"
    SAE_J3400 = "SAE_J3400"


class ParkingRestriction(StrEnum):
    """The 2.3.0 values of the ParkingRestriction OpenEnum that 2.2.1 does not have."""

    EMPLOYEES = "EMPLOYEES"
    TAXIS = "TAXIS"
    TENANTS = "TENANTS"


class EVSEPosition(StrEnum):
    LEFT = "LEFT"
    RIGHT = "RIGHT"
    CENTER = "CENTER"


class ParkingDirection(StrEnum):
    PARALLEL = "PARALLEL"
    PERPENDICULAR = "PERPENDICULAR"
    ANGLE = "ANGLE"


class VehicleType(StrEnum):
    """Known values of the VehicleType OpenEnum."""

    MOTORCYCLE = "MOTORCYCLE"
    PERSONAL_VEHICLE = "PERSONAL_VEHICLE"
    PERSONAL_VEHICLE_WITH_TRAILER = "PERSONAL_VEHICLE_WITH_TRAILER"
    VAN = "VAN"
    SEMI_TRACTOR = "SEMI_TRACTOR"
    RIGID = "RIGID"
    TRUCK_WITH_TRAILER = "TRUCK_WITH_TRAILER"
    BUS = "BUS"
    DISABLED = "DISABLED"


# --- Classes ------------------------------------------------------------------------------------


class GeoLocation(Ocpi230Model):
    latitude: Latitude
    longitude: Longitude


class AdditionalGeoLocation(Ocpi230Model):
    latitude: Latitude
    longitude: Longitude
    name: DisplayText | None = None


class Image(Ocpi230Model):
    url: URL
    thumbnail: URL | None = None
    category: OpenEnum  # ImageCategory (OpenEnum)
    type: Annotated[CiString255, StringConstraints(max_length=4)]
    width: _Int5 | None = None
    height: _Int5 | None = None


class BusinessDetails(Ocpi230Model):
    name: String100
    website: URL | None = None
    logo: Image | None = None


class EnergySource(Ocpi230Model):
    source: EnergySourceCategory
    percentage: Annotated[Number, Field(ge=0, le=100)]


class EnvironmentalImpact(Ocpi230Model):
    category: OpenEnum  # EnvironmentalImpactCategory (OpenEnum)
    amount: Number


class EnergyMix(Ocpi230Model):
    is_green_energy: bool
    energy_sources: Annotated[list[EnergySource], NullAsEmpty] = Field(default_factory=list)
    environ_impact: Annotated[list[EnvironmentalImpact], NullAsEmpty] = Field(default_factory=list)
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


class ExceptionalPeriod(Ocpi230Model):
    period_begin: DateTime
    period_end: DateTime


class RegularHours(Ocpi230Model):
    weekday: Annotated[int, Field(ge=1, le=7)]
    period_begin: Time5
    period_end: Time5


class Hours(Ocpi230Model):
    twentyfourseven: bool
    regular_hours: Annotated[list[RegularHours], NullAsEmpty] = Field(default_factory=list)
    exceptional_openings: Annotated[list[ExceptionalPeriod], NullAsEmpty] = Field(
        default_factory=list
    )
    exceptional_closings: Annotated[list[ExceptionalPeriod], NullAsEmpty] = Field(
        default_factory=list
    )


class PublishTokenType(Ocpi230Model):
    """Same rules as 2.2.1; ``type`` is the TokenType OpenEnum (EMAID is new)."""

    uid: CiString36 | None = None
    type: OpenEnum | None = None
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


class StatusSchedule(Ocpi230Model):
    period_begin: DateTime
    period_end: DateTime | None = None
    status: Status


class EVSEParking(Ocpi230Model):
    """Link from an EVSE to a Parking of the containing Location (by ``Parking.id``)."""

    parking_id: CiString36
    evse_position: EVSEPosition | None = None


class Parking(Ocpi230Model):
    """A parking space usable while charging (AFIR reporting to NAPs). Sizes in centimetres,
    weight in kilograms, ``time_limit`` in minutes."""

    id: CiString36
    physical_reference: String12 | None = None
    vehicle_types: Annotated[list[OpenEnum], Field(min_length=1)]
    max_vehicle_weight: Number | None = None
    max_vehicle_height: Number | None = None
    max_vehicle_length: Number | None = None
    max_vehicle_width: Number | None = None
    parking_space_length: Number | None = None
    parking_space_width: Number | None = None
    dangerous_goods_allowed: bool | None = None
    direction: ParkingDirection | None = None
    drive_through: bool | None = None
    restricted_to_type: bool
    reservation_required: bool
    time_limit: Number | None = None
    roofed: bool | None = None
    images: Annotated[list[Image], NullAsEmpty] = Field(default_factory=list)
    lighting: bool | None = None
    refrigeration_outlet: bool | None = None
    standards: Annotated[list[CiString36], NullAsEmpty] = Field(default_factory=list)
    apds_reference: CiString255 | None = None


class Connector(Ocpi230Model):
    id: CiString36
    standard: OpenEnum  # ConnectorType (OpenEnum)
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None = None
    tariff_ids: Annotated[list[CiString36], NullAsEmpty] = Field(default_factory=list)
    terms_and_conditions: URL | None = None
    capabilities: Annotated[list[OpenEnum], NullAsEmpty] = Field(default_factory=list)
    last_updated: DateTime


class EVSE(Ocpi230Model):
    uid: CiString36
    evse_id: CiString48 | None = None
    status: Status
    status_schedule: Annotated[list[StatusSchedule], NullAsEmpty] = Field(default_factory=list)
    capabilities: Annotated[list[OpenEnum], NullAsEmpty] = Field(default_factory=list)
    connectors: Annotated[list[Connector], Field(min_length=1)]
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: Annotated[list[DisplayText], NullAsEmpty] = Field(default_factory=list)
    parking_restrictions: Annotated[list[OpenEnum], NullAsEmpty] = Field(default_factory=list)
    parking: Annotated[list[EVSEParking], NullAsEmpty] = Field(default_factory=list)
    images: Annotated[list[Image], NullAsEmpty] = Field(default_factory=list)
    accepted_service_providers: Annotated[list[String50], NullAsEmpty] = Field(default_factory=list)
    last_updated: DateTime


class Location(Ocpi230Model):
    country_code: CountryCode
    party_id: PartyId
    id: CiString36
    publish: bool
    publish_allowed_to: Annotated[list[PublishTokenType], NullAsEmpty] = Field(default_factory=list)
    name: String255 | None = None
    address: String255
    city: String45
    postal_code: String10 | None = None
    state: String45 | None = None
    country: String3
    coordinates: GeoLocation
    related_locations: Annotated[list[AdditionalGeoLocation], NullAsEmpty] = Field(
        default_factory=list
    )
    parking_type: OpenEnum | None = None  # ParkingType (OpenEnum)
    evses: Annotated[list[EVSE], NullAsEmpty] = Field(default_factory=list)
    parking_places: Annotated[list[Parking], NullAsEmpty] = Field(default_factory=list)
    directions: Annotated[list[DisplayText], NullAsEmpty] = Field(default_factory=list)
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: Annotated[list[OpenEnum], NullAsEmpty] = Field(default_factory=list)
    time_zone: String255
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: Annotated[list[Image], NullAsEmpty] = Field(default_factory=list)
    energy_mix: EnergyMix | None = None
    help_phone: CiString25 | None = None
    last_updated: DateTime


# --- PATCH bodies: absent (None) means unchanged; "SHALL contain the last_updated field" ---------


class ConnectorPatch(Ocpi230Model):
    id: CiString36 | None = None
    standard: OpenEnum | None = None
    format: ConnectorFormat | None = None
    power_type: PowerType | None = None
    max_voltage: int | None = None
    max_amperage: int | None = None
    max_electric_power: int | None = None
    tariff_ids: list[CiString36] | None = None
    terms_and_conditions: URL | None = None
    capabilities: list[OpenEnum] | None = None
    last_updated: DateTime


class EvsePatch(Ocpi230Model):
    uid: CiString36 | None = None
    evse_id: CiString48 | None = None
    status: Status | None = None
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[OpenEnum] | None = None
    connectors: Annotated[list[Connector], Field(min_length=1)] | None = None
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[OpenEnum] | None = None
    parking: list[EVSEParking] | None = None
    images: list[Image] | None = None
    accepted_service_providers: list[String50] | None = None
    last_updated: DateTime


class LocationPatch(Ocpi230Model):
    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    id: CiString36 | None = None
    publish: bool | None = None
    publish_allowed_to: list[PublishTokenType] | None = None
    name: String255 | None = None
    address: String255 | None = None
    city: String45 | None = None
    postal_code: String10 | None = None
    state: String45 | None = None
    country: String3 | None = None
    coordinates: GeoLocation | None = None
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: OpenEnum | None = None
    evses: list[EVSE] | None = None
    parking_places: list[Parking] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[OpenEnum] | None = None
    time_zone: String255 | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    help_phone: CiString25 | None = None
    last_updated: DateTime
