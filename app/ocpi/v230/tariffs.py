"""OCPI 2.3.0 Tariffs module objects (spec 2.3.0: mod_tariffs.asciidoc).

New since 2.2.1: ``tax_included`` (required): whether PriceComponent prices include taxes (YES),
exclude them (NO, as 2.2.1 prices always do) or no taxes apply (N/A); ``min_price``/``max_price``
are PriceLimits (``before_taxes``/``after_taxes``); ``preauthorize_amount`` for Payment Terminal
Providers. The enums are the 2.2.1 ones.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, NonNegativeInt

from app.ocpi.schemas.common import (
    URL,
    CiString36,
    CountryCode,
    Date10,
    DateTime,
    NullAsEmpty,
    Number,
    PartyId,
    String3,
    Time5,
)
from app.ocpi.schemas.tariffs import (
    DayOfWeek,
    ReservationRestrictionType,
    TariffDimensionType,
    TariffType,
)
from app.ocpi.v230.common import DisplayText, Ocpi230Model
from app.ocpi.v230.locations import EnergyMix

__all__ = (
    "PriceComponent",
    "PriceLimit",
    "Tariff",
    "TariffElement",
    "TariffRestrictions",
    "TaxIncluded",
)


class TaxIncluded(StrEnum):
    YES = "YES"
    NO = "NO"
    NOT_APPLICABLE = "N/A"


class PriceLimit(Ocpi230Model):
    before_taxes: Number
    after_taxes: Number | None = None


class PriceComponent(Ocpi230Model):
    """``price``: "including or excluding taxes according to the ``tax_included`` field of the
    Tariff"; ``vat``: "If omitted, no VAT is applicable"."""

    type: TariffDimensionType
    price: Number
    vat: Number | None = None
    step_size: NonNegativeInt


class TariffRestrictions(Ocpi230Model):
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


class TariffElement(Ocpi230Model):
    price_components: Annotated[list[PriceComponent], Field(min_length=1)]
    restrictions: TariffRestrictions | None = None


class Tariff(Ocpi230Model):
    country_code: CountryCode
    party_id: PartyId
    id: CiString36
    currency: String3
    type: TariffType | None = None
    tariff_alt_text: Annotated[list[DisplayText], NullAsEmpty] = Field(default_factory=list)
    tariff_alt_url: URL | None = None
    min_price: PriceLimit | None = None
    max_price: PriceLimit | None = None
    preauthorize_amount: Number | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    tax_included: TaxIncluded
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
