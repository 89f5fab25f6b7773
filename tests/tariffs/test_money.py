"""Minor units for payments, and OCPI rounding."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import pytest

from app.tariffs.money import (
    Cost,
    currency_exponent,
    from_minor_units,
    ocpi_round,
    round_to_currency,
    to_minor_units,
)


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("EUR", 2), ("usd", 2), ("JPY", 0), ("KRW", 0), ("ISK", 0), ("XOF", 0), ("KWD", 3)],
)
def test_currency_exponent(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [
        ("12.345", "EUR", 1235),  # half up
        ("12.344", "EUR", 1234),
        ("0.0001", "EUR", 0),
        ("1500", "JPY", 1500),
        ("1499.5", "JPY", 1500),
        ("15000.4", "KRW", 15000),
        ("1.2345", "KWD", 1235),
        ("-3.005", "EUR", -301),
    ],
)
def test_to_minor_units(amount: str, currency: str, units: int) -> None:
    assert to_minor_units(Decimal(amount), currency) == units


def test_to_minor_units_other_rounding_and_back() -> None:
    assert to_minor_units(Decimal("12.349"), "EUR", rounding=ROUND_DOWN) == 1234
    assert from_minor_units(1235, "EUR") == Decimal("12.35")
    assert from_minor_units(1500, "JPY") == Decimal(1500)
    assert from_minor_units(1235, "KWD") == Decimal("1.235")
    assert round_to_currency(Decimal("1.005"), "EUR") == Decimal("1.01")


@pytest.mark.parametrize("currency", ["EURO", "", "E1R"])
def test_invalid_currency(currency: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        currency_exponent(currency)


def test_ocpi_round_and_cost() -> None:
    assert ocpi_round(Decimal("2.87505")) == Decimal("2.8751")
    assert ocpi_round(Decimal("13.861")) == Decimal("13.8610")
    total = Cost(Decimal("1.23456"), Decimal("1.49382")) + Cost(Decimal(1), Decimal("1.2"))
    assert total.rounded() == Cost(Decimal("2.2346"), Decimal("2.6938"))
    assert total.vat == Decimal("0.45926")
    assert Cost.zero() == Cost()
