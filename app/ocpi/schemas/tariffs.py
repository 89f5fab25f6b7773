"""OCPI 2.2.1 Tariffs module objects (spec: mod_tariffs.asciidoc).

A Tariff is a list of TariffElements; each element holds PriceComponents (one per dimension) and
optional TariffRestrictions. Evaluation rules, quoted from the spec ("Tariff Object"):

* "When the list of Tariff Elements contains more than one Element that has a Price Component for a
  certain dimension, then the first Tariff Element with a Price Component for that dimension in the
  list with matching Tariff Restrictions will be used."
* "When more than one restriction is set, they are to be treated as a logical AND."
* "When no Tariff Element with a specific Dimension is found for which the Restrictions match, and
  there is no Tariff Element in the list with the given Dimension without Restrictions, there will
  be no costs for that Tariff Dimension."

These models only carry the data; the price calculation lives in the tariff engine.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field

from app.ocpi.schemas.common import (
    URL,
    CountryCode,
    Date10,
    DateTime,
    DisplayText,
    NonNegativeInt,
    NullAsEmpty,
    Number,
    ObjectId36,
    OcpiModel,
    PartyId,
    Price,
    String3,
    Time5,
)
from app.ocpi.schemas.locations import EnergyMix

__all__ = (
    "DayOfWeek",
    "PriceComponent",
    "ReservationRestrictionType",
    "Tariff",
    "TariffDimensionType",
    "TariffElement",
    "TariffRestrictions",
    "TariffType",
)


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class ReservationRestrictionType(StrEnum):
    """ "When a Tariff has both RESERVATION and RESERVATION_EXPIRES Tariff Elements, where both
    Tariff Elements have a TIME Price Component, then the time based cost of an expired reservation
    will be calculated based on the RESERVATION_EXPIRES Tariff Element." """

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffDimensionType(StrEnum):
    """Priced dimension and its ``step_size`` unit.

    ENERGY: kWh, step_size multiplier 1 Wh. FLAT: no unit. PARKING_TIME: time not charging, in
    hours, step_size multiplier 1 second. TIME: time charging, in hours, step_size multiplier
    1 second (also the reservation time in a RESERVATION element).
    """

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class PriceComponent(OcpiModel):
    """How one dimension is priced.

    ``price`` is per unit, excl. VAT. ``vat``: "If omitted, no VAT is applicable. Not providing a
    VAT is different from 0% VAT". ``step_size``: "Consumed amounts are rounded up to the smallest
    multiple of step_size that is greater than the consumed amount" (see the CDR object description
    for how step_size applies once per session).
    """

    type: TariffDimensionType
    price: Number
    vat: Number | None = None
    step_size: NonNegativeInt


class TariffRestrictions(OcpiModel):
    """When a TariffElement is active; all set restrictions are ANDed.

    Times and dates are local time of the Location's ``time_zone``. ``end_time``: "If end_time <
    start_time then the period wraps around to the next day. To stop at end of the day use: 00:00."
    ``start_date`` is inclusive, ``end_date`` exclusive. ``min_kwh``/``min_current``/``min_power``/
    ``min_duration`` are inclusive, the ``max_*`` ones exclusive. Durations are in seconds.
    """

    start_time: Time5 | None = None
    end_time: Time5 | None = None
    start_date: Date10 | None = None
    end_date: Date10 | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_current: Number | None = None
    max_current: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: NonNegativeInt | None = None
    max_duration: NonNegativeInt | None = None
    day_of_week: Annotated[list[DayOfWeek], NullAsEmpty] = Field(default_factory=list)
    reservation: ReservationRestrictionType | None = None


class TariffElement(OcpiModel):
    price_components: Annotated[list[PriceComponent], Field(min_length=1)]
    restrictions: TariffRestrictions | None = None


class Tariff(OcpiModel):
    """A Tariff object.

    ``min_price``/``max_price``: the excl. and incl. VAT bounds both apply independently.
    ``type``: "When omitted, this tariff is valid for all sessions."
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                # tariff_put_example.json, with the last_updated it needs: EUR 2.00/hour charging.
                {
                    "country_code": "DE",
                    "party_id": "ALL",
                    "id": "12",
                    "currency": "EUR",
                    "elements": [
                        {
                            "price_components": [
                                {"type": "TIME", "price": 2.0, "vat": 10.0, "step_size": 300}
                            ]
                        }
                    ],
                    "last_updated": "2018-12-05T12:01:09Z",
                },
                # tariff_10_025kwh_parking_start.json: start fee, energy and parking time.
                {
                    "country_code": "DE",
                    "party_id": "ALL",
                    "id": "18",
                    "currency": "EUR",
                    "elements": [
                        {
                            "price_components": [
                                {"type": "FLAT", "price": 0.5, "vat": 20.0, "step_size": 1},
                                {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1},
                                {
                                    "type": "PARKING_TIME",
                                    "price": 2.0,
                                    "vat": 20.0,
                                    "step_size": 900,
                                },
                            ]
                        }
                    ],
                    "last_updated": "2018-12-17T11:44:10Z",
                },
            ]
        }
    )

    country_code: CountryCode
    party_id: PartyId
    id: ObjectId36
    currency: String3
    type: TariffType | None = None
    tariff_alt_text: Annotated[list[DisplayText], NullAsEmpty] = Field(default_factory=list)
    tariff_alt_url: URL | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
