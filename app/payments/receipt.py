"""What the driver's pages show: live figures of a Session, and the receipt of a CDR."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from app.core.dbtypes import utcnow
from app.ocpi.schemas.cdrs import CDR
from app.ocpi.schemas.common import parse_datetime
from app.payments.evse import describe_tariff, minor, money
from app.payments.models import Payment
from app.payments.models import PaymentStatus as S
from app.payments.pricing import (
    driver_note,
    price_minor,
    priced_minor,
    running_price,
    shown_price,
)
from app.tariffs import CostLine, PricedSession, TariffError, price_cdr
from app.tariffs.money import round_to_currency

STATUS_WORDS = {
    S.CREATED: "Waiting for your payment",
    S.AUTHORIZED: "Payment authorized, starting the charger",
    S.STARTING: "Starting the charger: plug in your car if you have not yet",
    S.CHARGING: "Charging",
    S.STOPPING: "Stopping",
    S.AWAITING_CDR: "Charging ended, waiting for the final price",
    S.CAPTURING: "Charging ended, taking the payment",
    S.CAPTURED: "Paid, thank you",
    S.CANCELED: "Ended: nothing was charged, the hold is released",
    S.FAILED: "Something went wrong with the payment; our team has been told",
}


def duration_words(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


def hours_words(hours: Decimal | float | int | None) -> str:
    return duration_words(float(hours or 0) * 3600)


def live_figures(
    payment: Payment, ocpi_session: dict[str, Any] | None, time_zone: str = "UTC"
) -> dict[str, Any]:
    """The status page's figures (also its JSON, polled every few seconds).

    The running cost is the Session so far at the tariff the driver was shown (the CPO's
    ``total_cost`` only for a payment without a copy of that tariff)."""
    figures: dict[str, Any] = {
        "status": payment.status,
        "status_text": STATUS_WORDS.get(payment.status, payment.status),
        "note": driver_note(payment.note),
        "hold": minor(payment.hold_amount, payment.currency),
        "energy_kwh": None,
        "duration": None,
        "running_cost": None,
        "price": minor(payment.price, payment.currency) if payment.price is not None else None,
        "captured": minor(payment.amount_captured, payment.currency),
        "refunded": minor(payment.amount_refunded, payment.currency)
        if payment.amount_refunded
        else None,
        "can_stop": payment.status in (S.STARTING, S.CHARGING),
        "live": payment.status not in S.FINAL,
        "receipt": payment.cdr_id is not None,
        "cost_label": "Price" if payment.price is not None else "Cost so far",
        "hold_label": "Held on your card" if payment.status not in S.FINAL else "Hold released",
    }
    if ocpi_session:
        figures["energy_kwh"] = f"{Decimal(str(ocpi_session.get('kwh') or 0)):.2f}"
        start = parse_datetime(ocpi_session["start_date_time"])
        end = ocpi_session.get("end_date_time")
        until: datetime = parse_datetime(end) if end else utcnow()
        figures["duration"] = duration_words((until - start).total_seconds())
        running = running_price(payment, ocpi_session, time_zone, None if end else until)
        if running is None and ocpi_session.get("total_cost") is not None:
            running = price_minor(ocpi_session["total_cost"], payment.currency)
        if running is not None:
            figures["running_cost"] = minor(running, payment.currency)
    return figures


@dataclass
class ReceiptLine:
    label: str
    quantity: str
    amount: str


@dataclass
class Receipt:
    cdr_id: str
    location: str
    address: str
    evse: str
    connector: str
    start: str
    end: str
    currency: str
    lines: list[ReceiptLine] = field(default_factory=list)
    vat: list[tuple[str, str]] = field(default_factory=list)
    total_excl: str = ""
    total_incl: str = ""
    charged: str = ""
    refunded: str | None = None
    shortfall: str | None = None
    # The tariff the driver was shown and is charged: its id, version and prices in words.
    tariff_id: str | None = None
    tariff_version: str | None = None
    tariff_lines: list[str] = field(default_factory=list)


def _excl_vat(cost: dict[str, Any] | None) -> Decimal:
    """A CDR cost line excl. VAT (the receipt's lines are; VAT follows per rate)."""
    return Decimal(str((cost or {}).get("excl_vat", 0)))


def _cdr_vat_by_rate(cdr: CDR, total_vat: Decimal) -> list[tuple[str, Decimal]]:
    """VAT per rate of a CDR priced with the first tariff it carries."""
    try:
        priced = price_cdr(cdr)
    except (TariffError, ValueError):
        return []
    return _vat_by_rate(priced.lines, cdr.currency, total_vat)


def _vat_by_rate(
    lines: tuple[CostLine, ...], currency: str, total_vat: Decimal
) -> list[tuple[str, Decimal]]:
    """VAT per rate from the tariff engine's lines, when they add up to the total VAT."""
    rates: dict[Decimal, Decimal] = {}
    for line in lines:
        rate = line.vat if line.vat is not None else Decimal(0)
        rates[rate] = rates.get(rate, Decimal(0)) + line.cost.vat
    split = [(rate, round_to_currency(v, currency)) for rate, v in sorted(rates.items()) if v]
    if abs(sum(v for _, v in split) - round_to_currency(total_vat, currency)) > Decimal("0.01"):
        return []
    return [(f"{rate.normalize()}%", v) for rate, v in split]


def local_time(value: Any, time_zone: str | None) -> str:
    """A CDR timestamp as the driver reads it, in the Location's time zone."""
    if not value:
        return ""
    moment = parse_datetime(value)
    try:
        zone = ZoneInfo(time_zone) if time_zone else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        return moment.strftime("%d %b %Y, %H:%M UTC")
    return moment.astimezone(zone).strftime("%d %b %Y, %H:%M %Z")


def _priced_figures(priced: PricedSession) -> dict[str, Any]:
    """The engine's totals in the shape of a CDR's (rounded to OCPI's four decimals)."""

    def price(cost: Any) -> dict[str, Decimal]:
        rounded = cost.rounded()
        return {"excl_vat": rounded.excl_vat, "incl_vat": rounded.incl_vat}

    return {
        "total_energy": priced.total_energy,
        "total_time": priced.total_time,
        "total_parking_time": priced.total_parking_time,
        "total_reservation_time": priced.total_reservation_time,
        "total_cost": price(priced.total_cost),
        "total_energy_cost": price(priced.total_energy_cost),
        "total_time_cost": price(priced.total_time_cost),
        "total_parking_cost": price(priced.total_parking_cost),
        "total_fixed_cost": price(priced.total_fixed_cost),
        "total_reservation_cost": price(priced.total_reservation_cost),
    }


def build_receipt(payment: Payment, data: dict[str, Any], time_zone: str | None = None) -> Receipt:
    """The receipt of a CDR for the driver of ``payment``.

    Its amounts are the price of the tariff the driver was shown (the payment's copy of it) over
    the CDR's charging periods, which is what was captured; the CDR's own totals only for a
    payment without that copy, or a CDR that cannot be priced with it.
    """
    currency = payment.currency
    where = data.get("cdr_location") or {}
    parts = [where.get("address"), where.get("postal_code"), where.get("city")]
    receipt = Receipt(
        cdr_id=str(data.get("id")),
        location=str(where.get("name") or where.get("id") or ""),
        address=", ".join(str(p) for p in parts if p),
        evse=str(where.get("evse_id") or payment.evse_uid),
        connector=str(where.get("connector_id") or payment.connector_id),
        start=local_time(data.get("start_date_time"), time_zone),
        end=local_time(data.get("end_date_time"), time_zone),
        currency=currency,
    )
    priced = shown_price(payment, data, time_zone or "UTC")
    charged_differently = (
        priced is not None
        and payment.price is not None
        and priced_minor(priced, currency) != payment.price
    )
    if charged_differently:
        priced = None  # the CDR's own total was charged (see pricing.settle_cdr)
    figures = _priced_figures(priced) if priced is not None else data
    if payment.tariff_id is not None:
        receipt.tariff_id = payment.tariff_id
        if payment.tariff_last_updated is not None:
            receipt.tariff_version = local_time(payment.tariff_last_updated, time_zone)
        if payment.tariff_snapshot:
            receipt.tariff_lines = describe_tariff(payment.tariff_snapshot)
    total_time = Decimal(str(figures.get("total_time") or 0))
    parking = Decimal(str(figures.get("total_parking_time") or 0))
    energy = Decimal(str(figures.get("total_energy") or 0))
    rows = [
        ("Energy", f"{energy:.3f} kWh", "total_energy_cost"),
        ("Charging time", hours_words(total_time - parking), "total_time_cost"),
        ("Parking time", hours_words(parking), "total_parking_cost"),
        ("Fixed fee", "1 session", "total_fixed_cost"),
        (
            "Reservation",
            hours_words(figures.get("total_reservation_time")),
            "total_reservation_cost",
        ),
    ]
    for label, quantity, key in rows:
        cost = figures.get(key)
        # Energy and charging time always; the other lines only when they cost something.
        always = key in ("total_energy_cost", "total_time_cost")
        if not always and (cost is None or not _excl_vat(cost)):
            continue
        receipt.lines.append(ReceiptLine(label, quantity, money(_excl_vat(cost), currency)))
    total = figures.get("total_cost") or {}
    excl = Decimal(str(total.get("excl_vat", 0)))
    incl = Decimal(str(total.get("incl_vat", excl)))
    receipt.total_excl = money(round_to_currency(excl, currency), currency)
    receipt.total_incl = money(round_to_currency(incl, currency), currency)
    if priced is not None:
        split = _vat_by_rate(priced.lines, currency, incl - excl)
    else:
        try:
            split = _cdr_vat_by_rate(CDR.model_validate(data), incl - excl)
        except ValidationError:
            split = []
    if split:
        receipt.vat = [(f"VAT {rate}", money(v, currency)) for rate, v in split]
    elif incl != excl:
        receipt.vat = [("VAT", money(round_to_currency(incl - excl, currency), currency))]
    receipt.charged = minor(payment.amount_captured, currency)
    if payment.amount_refunded:
        receipt.refunded = minor(payment.amount_refunded, currency)
    if payment.shortfall:
        receipt.shortfall = minor(payment.shortfall, currency)
    return receipt
