"""What the driver pays: the price of the tariff shown on the pay page, whoever sends the CDR.

The hub's eMSP decides what its ad hoc payer pays; the CPO's CDR tells it what was consumed. So
the CDR's charging periods are priced by the hub's tariff engine with the copy of the tariff the
driver was shown (``Payment.tariff_snapshot``). When the CDR's own ``total_cost`` agrees to the
cent (the hub's own chargers price with the same tariff, and so should a partner CPO), that is the
price; when it does not, the driver still pays the shown price and the payment is flagged for the
admins with both figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub.store import service as store
from app.ocpi.errors import InvalidParameters
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.cdrs import ChargingPeriod
from app.ocpi.schemas.common import ci_key, format_datetime, parse_datetime
from app.ocpi.schemas.tariffs import Tariff
from app.payments.evse import minor
from app.payments.models import Payment
from app.tariffs import (
    PricedSession,
    PricingInputError,
    compiled_tariff,
    price_session,
    running_cost,
)
from app.tariffs.money import to_minor_units

__all__ = [
    "MAX_MINOR_UNITS",
    "NOTE_SEPARATOR",
    "PRICE_CHECK",
    "Settlement",
    "driver_note",
    "location_time_zone",
    "price_minor",
    "priced_minor",
    "remember_tariff",
    "running_price",
    "settle_cdr",
    "shown_price",
    "shown_tariff",
]

# The largest amount a payment's INTEGER columns hold (PostgreSQL integer).
MAX_MINOR_UNITS = 2**31 - 1

# A price check is for the admins (it flags the payment); the driver's pages leave it out.
PRICE_CHECK = "Price check:"
NOTE_SEPARATOR = " | "


def driver_note(note: str | None) -> str | None:
    """The payment's note without the lines meant for the admins only."""
    if not note:
        return None
    parts = [p for p in note.split(NOTE_SEPARATOR) if not p.startswith(PRICE_CHECK)]
    return NOTE_SEPARATOR.join(parts) or None


# What pricing may raise on data it cannot use: the engine's own errors (both ValueError),
# pydantic's on periods or a snapshot that do not validate, KeyError / TypeError on missing keys.
_UNPRICEABLE = (PricingInputError, ValidationError, ValueError, KeyError, TypeError)


def price_minor(total: dict[str, Any] | None, currency: str) -> int:
    """An OCPI Price in minor units, incl. VAT when the CPO gave it (what the driver pays)."""
    if not total:
        return 0
    value = total.get("incl_vat")
    if value is None:
        value = total.get("excl_vat", 0)
    amount = to_minor_units(Decimal(str(value)), currency)
    if abs(amount) > MAX_MINOR_UNITS:
        # A price the payment's INTEGER columns cannot hold (21 million euros) is no ad hoc
        # session's: the CPO hears so (2001) instead of the hub failing to store it.
        raise InvalidParameters(
            f"total_cost: {value} {currency} is more than an ad hoc payment can take"
        )
    return amount


def priced_minor(priced: PricedSession, currency: str) -> int:
    """The engine's total incl. VAT in minor units, rounded the way a CDR's total is (to OCPI's
    four decimals first), so that a CDR priced with the same tariff agrees to the cent."""
    return to_minor_units(priced.total_cost.rounded().incl_vat, currency)


def remember_tariff(payment: Payment, tariff: dict[str, Any]) -> None:
    """Keep on the payment the tariff the driver is shown: id, version and a copy."""
    payment.tariff_id = str(tariff["id"])
    payment.tariff_snapshot = dict(tariff)
    last_updated = tariff.get("last_updated")
    payment.tariff_last_updated = parse_datetime(last_updated) if last_updated else None


def shown_tariff(payment: Payment) -> Tariff | None:
    """The copy of the tariff the driver was shown (None for payments made before copies were
    kept, or a copy that no longer validates)."""
    if not payment.tariff_snapshot:
        return None
    try:
        return Tariff.model_validate(payment.tariff_snapshot)
    except ValidationError:
        return None


async def location_time_zone(session: AsyncSession, payment: Payment) -> str:
    """The Location's IANA time zone (tariff restrictions are in local time); UTC if unknown."""
    row = await store.get(
        session,
        "locations",
        PartyRef(payment.cpo_country_code, payment.cpo_party_id),
        payment.location_id,
    )
    return str((row.data.get("time_zone") if row else None) or "UTC")


def _periods(data: dict[str, Any]) -> list[ChargingPeriod]:
    return [ChargingPeriod.model_validate(p) for p in data.get("charging_periods") or []]


def shown_price(payment: Payment, cdr: dict[str, Any], time_zone: str) -> PricedSession | None:
    """The CDR's charging periods priced with the tariff the driver was shown; None when there is
    no copy of it or the CDR cannot be priced with it."""
    tariff = shown_tariff(payment)
    if tariff is None:
        return None
    try:
        return price_session(
            compiled_tariff(tariff),
            _periods(cdr),
            parse_datetime(cdr["start_date_time"]),
            parse_datetime(cdr["end_date_time"]),
            time_zone,
        )
    except _UNPRICEABLE:
        return None


def _names_shown_tariff(payment: Payment, tariffs: Sequence[Any]) -> bool:
    """The CDR carries the shown tariff, same id and same version (``last_updated``)."""
    if payment.tariff_id is None:
        return False
    for tariff in tariffs:
        if not isinstance(tariff, dict) or ci_key(str(tariff.get("id", ""))) != ci_key(
            payment.tariff_id
        ):
            continue
        try:
            version = parse_datetime(tariff.get("last_updated"))
        except ValueError:
            continue
        if payment.tariff_last_updated is None or version == payment.tariff_last_updated:
            return True
    return False


def _tariff_words(tariff_id: str | None, version: datetime | None) -> str:
    if tariff_id is None:
        return "no tariff"
    if version is None:
        return f"tariff {tariff_id}"
    return f"tariff {tariff_id} of {format_datetime(version)}"


def _cdr_tariff_words(tariffs: Sequence[Any]) -> str:
    named = [t for t in tariffs if isinstance(t, dict) and t.get("id")]
    if not named:
        return "naming no tariff"
    return "with " + ", ".join(
        f"tariff {t['id']}" + (f" of {t['last_updated']}" if t.get("last_updated") else "")
        for t in named
    )


@dataclass(frozen=True)
class Settlement:
    """What a CDR comes to for the driver."""

    price: int  # what the driver pays, minor units incl. VAT
    cpo_price: int  # the CDR's own total_cost, minor units incl. VAT
    priced: PricedSession | None  # the shown tariff's pricing (None: no copy, or unpriceable)
    flag: str | None = None  # for the admins when the two differ or the CDR could not be priced


def settle_cdr(payment: Payment, cdr: dict[str, Any], time_zone: str) -> Settlement:
    """The price of a CDR for the driver of ``payment`` (see the module's text)."""
    currency = payment.currency
    cpo_price = price_minor(cdr.get("total_cost"), currency)
    if payment.tariff_snapshot is None:
        # A payment from before the hub kept the shown tariff: the CDR's price, as then.
        return Settlement(cpo_price, cpo_price, None)
    cdr_id = cdr.get("id")
    shown = _tariff_words(payment.tariff_id, payment.tariff_last_updated)
    priced = shown_price(payment, cdr, time_zone)
    if priced is None:
        return Settlement(
            cpo_price,
            cpo_price,
            None,
            f"{PRICE_CHECK} CDR {cdr_id} could not be priced with the {shown} shown to the "
            f"driver; its own total {minor(cpo_price, currency)} is charged",
        )
    price = priced_minor(priced, currency)
    if price > MAX_MINOR_UNITS:
        # The payment's amounts are INTEGER columns, and no ad hoc session costs 21 million
        # euros: charging periods like these are the CPO's error, for the admins to look at.
        return Settlement(
            cpo_price,
            cpo_price,
            None,
            f"{PRICE_CHECK} CDR {cdr_id} at the {shown} shown to the driver would cost more "
            f"than a payment can take; its own total {minor(cpo_price, currency)} is charged",
        )
    cdr_currency = str(cdr.get("currency") or currency).upper()
    if price == cpo_price and cdr_currency == currency.upper():
        # Agrees to the cent: the CDR's own total, whichever tariff it names.
        return Settlement(cpo_price, cpo_price, priced)
    tariffs = cdr.get("tariffs") or []
    same = " (the same tariff version)" if _names_shown_tariff(payment, tariffs) else ""
    cpo_words = minor(cpo_price, currency)
    if cdr_currency != currency.upper():
        total = cdr.get("total_cost") or {}
        cpo_words = f"{cdr_currency} {total.get('incl_vat', total.get('excl_vat', 0))}"
    return Settlement(
        price,
        cpo_price,
        priced,
        f"{PRICE_CHECK} the CPO's CDR {cdr_id} {_cdr_tariff_words(tariffs)}{same} totals "
        f"{cpo_words}; the driver was shown {shown} and pays its price, "
        f"{minor(price, currency)}",
    )


def running_price(
    payment: Payment, ocpi_session: dict[str, Any], time_zone: str, now: datetime | None = None
) -> int | None:
    """The running cost of a live Session at the shown tariff, minor units incl. VAT.

    Priced over the Session's charging periods until its ``end_date_time`` (else ``now``, else
    its ``last_updated``). A CPO that reports only ``kwh`` gets one period with that energy from
    the start. None when there is no copy of the tariff or the Session cannot be priced.
    """
    tariff = shown_tariff(payment)
    if tariff is None:
        return None
    try:
        start = parse_datetime(ocpi_session["start_date_time"])
        periods = _periods(ocpi_session)
        if not periods and ocpi_session.get("kwh"):
            periods = [
                ChargingPeriod.model_validate(
                    {
                        "start_date_time": ocpi_session["start_date_time"],
                        "dimensions": [{"type": "ENERGY", "volume": ocpi_session["kwh"]}],
                    }
                )
            ]
        end_value = ocpi_session.get("end_date_time")
        if end_value:
            end = parse_datetime(end_value)
        elif now is not None:
            end = now
        else:
            end = parse_datetime(ocpi_session.get("last_updated") or format_datetime(utcnow()))
        priced = running_cost(compiled_tariff(tariff), periods, start, max(end, start), time_zone)
    except _UNPRICEABLE:
        return None
    return priced_minor(priced, payment.currency)
