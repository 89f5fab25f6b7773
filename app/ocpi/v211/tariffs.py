"""OCPI 2.1.1 Tariffs module objects (spec 2.1.1: mod_tariffs.md).

Differences from 2.2.1: no ``country_code``/``party_id``, ``type``, ``min_price``/``max_price``,
``start_date_time``/``end_date_time``; PriceComponents have no ``vat`` ("price per unit (excluding
VAT)"); TariffRestrictions have no ``min_current``/``max_current``/``reservation`` and allow
times up to "29:59". Tariffs have a PATCH in 2.1.1 (not in 2.2.1).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, NonNegativeInt

from app.ocpi.schemas.common import (
    URL,
    Date10,
    DateTime,
    DisplayText,
    NullAsEmpty,
    Number,
    OcpiModel,
    String3,
)
from app.ocpi.schemas.tariffs import DayOfWeek, TariffDimensionType
from app.ocpi.v211.common import Id36
from app.ocpi.v211.locations import EnergyMix, Time5

__all__ = ("PriceComponent", "Tariff", "TariffElement", "TariffPatch", "TariffRestrictions")


class PriceComponent(OcpiModel):
    type: TariffDimensionType
    price: Number
    step_size: NonNegativeInt


class TariffRestrictions(OcpiModel):
    start_time: Time5 | None = None
    end_time: Time5 | None = None
    start_date: Date10 | None = None
    end_date: Date10 | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: NonNegativeInt | None = None
    max_duration: NonNegativeInt | None = None
    day_of_week: Annotated[list[DayOfWeek], NullAsEmpty] = Field(default_factory=list)


class TariffElement(OcpiModel):
    price_components: Annotated[list[PriceComponent], Field(min_length=1)]
    restrictions: TariffRestrictions | None = None


class Tariff(OcpiModel):
    id: Id36
    currency: String3
    tariff_alt_text: Annotated[list[DisplayText], NullAsEmpty] = Field(default_factory=list)
    tariff_alt_url: URL | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


class TariffPatch(OcpiModel):
    id: Id36 | None = None
    currency: String3 | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1)] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime | None = None
