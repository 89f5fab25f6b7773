"""Money: OCPI amounts (four decimals) and a currency's minor units for payments.

This is the one place where an amount is turned into the integer a payment provider expects
(cents, yen, fils...). Everything else in the hub keeps ``Decimal`` amounts in major units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "OCPI_QUANTUM",
    "Cost",
    "currency_exponent",
    "from_minor_units",
    "ocpi_round",
    "round_to_currency",
    "to_minor_units",
]

# types.asciidoc, "number": "Unless mentioned otherwise, numbers use 4 decimals".
OCPI_QUANTUM = Decimal("0.0001")

_ZERO = Decimal(0)

# ISO 4217 minor-unit exponents that differ from the usual 2. Currencies not listed have 2.
_EXPONENTS: dict[str, int] = {
    # zero-decimal currencies
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # three-decimal currencies
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # four-decimal (units of account)
    "CLF": 4,
    "UYW": 4,
}

_CURRENCY_RE = re.compile(r"^[A-Za-z]{3}$")


def currency_exponent(currency: str) -> int:
    """Number of decimals of the currency's minor unit (ISO 4217): JPY 0, EUR 2, KWD 3."""
    if not _CURRENCY_RE.match(currency):
        raise ValueError(f"not an ISO 4217 currency code: {currency!r}")
    return _EXPONENTS.get(currency.upper(), 2)


def round_to_currency(amount: Decimal, currency: str, rounding: str = ROUND_HALF_UP) -> Decimal:
    """Round a major-unit amount to what the currency can express (EUR 1.005 -> 1.01)."""
    return amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)), rounding=rounding)


def to_minor_units(amount: Decimal, currency: str, rounding: str = ROUND_HALF_UP) -> int:
    """Amount in the currency's minor units, as payment providers want it.

    ``to_minor_units(Decimal("12.345"), "EUR") == 1235``; ``to_minor_units(Decimal("1500"), "JPY")
    == 1500``; ``to_minor_units(Decimal("1.2345"), "KWD") == 1235``.
    """
    exponent = currency_exponent(currency)
    return int(round_to_currency(amount, currency, rounding).scaleb(exponent))


def from_minor_units(units: int, currency: str) -> Decimal:
    """Inverse of :func:`to_minor_units`: 1235 EUR cents -> Decimal("12.35")."""
    exponent = currency_exponent(currency)
    return Decimal(units).scaleb(-exponent)


def ocpi_round(value: Decimal) -> Decimal:
    """Round to the four decimals OCPI numbers carry (half up, as the spec's tables do)."""
    return value.quantize(OCPI_QUANTUM, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Cost:
    """An amount excluding and including VAT, in major units of the tariff's currency.

    Unlike the OCPI ``Price`` class, ``incl_vat`` is always known here: a price component without
    ``vat`` means "no VAT is applicable" (mod_tariffs.asciidoc, PriceComponent), so its amount
    including VAT equals the amount excluding VAT.
    """

    excl_vat: Decimal = _ZERO
    incl_vat: Decimal = _ZERO

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.excl_vat + other.excl_vat, self.incl_vat + other.incl_vat)

    @property
    def vat(self) -> Decimal:
        return self.incl_vat - self.excl_vat

    def rounded(self) -> Cost:
        """Both amounts rounded to the four decimals of OCPI output."""
        return Cost(ocpi_round(self.excl_vat), ocpi_round(self.incl_vat))

    @classmethod
    def zero(cls) -> Cost:
        return cls(_ZERO, _ZERO)
