"""Invoices a business driver can book, and credit notes for refunds.

An invoice is issued in the transaction that records a capture, a credit note in the one that
records a refund; both take the next number of their issuer (INVOICE_NUMBER_PREFIX) from a
counter row updated in that same transaction, so numbers have no gaps (a document that is not
committed gives its number back) and two captures at once on PostgreSQL wait for each other on
the row instead of sharing a number. A document is kept as issued: the seller (the hub's
operator, from the settings), the date of supply, the location and EVSE, and VAT per rate from
the tariff engine's lines for the CDR (scaled to what was charged, to the cent).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.core.settings import Settings
from app.hub.store import service as store
from app.ocpi.schemas.common import parse_datetime
from app.payments.models import Invoice, InvoiceCounter, InvoiceKind, Payment
from app.payments.pricing import location_time_zone, shown_price
from app.payments.receipt import local_time
from app.payments.records import cpo_ref
from app.tariffs.money import currency_exponent, from_minor_units

K = InvoiceKind


async def next_number(session: AsyncSession, issuer: str) -> int:
    """The issuer's next number, taken in the caller's transaction (see the module's text)."""
    for _ in range(2):
        taken = (
            await session.exec(
                update(InvoiceCounter)
                .where(col(InvoiceCounter.issuer) == issuer)
                .values(last_number=col(InvoiceCounter.last_number) + 1)
                .returning(col(InvoiceCounter.last_number))
                .execution_options(synchronize_session=False)
            )
        ).first()
        if taken is not None:
            return int(taken[0])
        # The issuer's first document: its row, made once (of two racing, one inserts).
        try:
            async with session.begin_nested():
                session.add(InvoiceCounter(issuer=issuer, last_number=0))
        except IntegrityError:
            pass
    raise RuntimeError(f"no invoice counter for {issuer}")


def seller(settings: Settings) -> dict[str, str]:
    return {
        "name": settings.invoice_seller_name or settings.hub_name,
        "address": settings.invoice_seller_address,
        "vat_id": settings.invoice_seller_vat_id,
    }


def _split(shares: list[tuple[str | None, Decimal]], amount: int) -> list[tuple[str | None, int]]:
    """``amount`` split over the rates in proportion to ``shares``, to the minor unit (largest
    remainder: the parts add up to ``amount`` exactly)."""
    total = sum(s for _r, s in shares)
    if not shares or total <= 0:
        return [(None, amount)]
    exact = [(rate, Decimal(amount) * share / total) for rate, share in shares]
    parts = [(rate, int(value)) for rate, value in exact]
    left = amount - sum(p for _r, p in parts)
    order = sorted(range(len(exact)), key=lambda i: exact[i][1] - parts[i][1], reverse=True)
    for i in order[:left]:
        parts[i] = (parts[i][0], parts[i][1] + 1)
    return parts


def vat_lines(shares: list[tuple[str | None, Decimal]], amount: int) -> list[dict[str, Any]]:
    """Per rate: gross (incl. VAT) split from ``amount``, net and VAT of it."""
    lines = []
    for rate, gross in _split(shares, amount):
        if gross == 0 and len(shares) > 1:
            continue
        net = gross
        if rate is not None:
            factor = 1 + Decimal(rate) / 100
            net = int((Decimal(gross) / factor).to_integral_value(ROUND_HALF_UP))
        lines.append({"rate": rate, "net": net, "vat": gross - net, "gross": gross})
    return lines


async def _supply(session: AsyncSession, payment: Payment) -> tuple[dict[str, Any], list[Any]]:
    """What was supplied (where, when, what) and the gross amount per VAT rate of its price."""
    tz = await location_time_zone(session, payment)
    location = await store.get(session, "locations", cpo_ref(payment), payment.location_id)
    where: dict[str, Any] = location.data if location else {}
    evse: dict[str, Any] = next(
        (e for e in where.get("evses") or [] if str(e.get("uid")) == payment.evse_uid), {}
    )
    cdr: dict[str, Any] | None = None
    if payment.cdr_id:
        row = await store.get(session, "cdrs", cpo_ref(payment), payment.cdr_id)
        cdr = row.data if row else None
    source = cdr
    if source is None and payment.session_id:
        row = await store.get(session, "sessions", cpo_ref(payment), payment.session_id)
        source = row.data if row else None
    start = (source or {}).get("start_date_time")
    end = (source or {}).get("end_date_time") or (source or {}).get("last_updated")
    supply = {
        "location": str(where.get("name") or payment.location_id),
        "address": ", ".join(
            str(p) for p in (where.get("address"), where.get("postal_code"), where.get("city")) if p
        ),
        "evse": str(evse.get("evse_id") or payment.evse_uid),
        "connector": payment.connector_id,
        "start": local_time(start, tz) if start else "",
        "end": local_time(end, tz) if end else "",
        "end_iso": end,
        "energy_kwh": str((source or {}).get("total_energy") or (source or {}).get("kwh") or 0),
        "cdr_id": payment.cdr_id,
        "tariff_id": payment.tariff_id,
    }
    shares: list[tuple[str | None, Decimal]] = []
    priced = shown_price(payment, cdr, tz) if cdr is not None else None
    if priced is not None:
        rates: dict[str | None, Decimal] = {}
        for line in priced.lines:
            rate = None if line.vat is None else str(line.vat.normalize())
            rates[rate] = rates.get(rate, Decimal(0)) + line.cost.incl_vat
        shares = sorted(rates.items(), key=lambda r: Decimal(r[0] or -1))
    elif payment.tariff_snapshot:
        # No CDR priced with the shown tariff (captured before the CDR came): its VAT rate when
        # the tariff has one for all its prices.
        found = {
            component.get("vat")
            for element in payment.tariff_snapshot.get("elements") or []
            for component in element.get("price_components") or []
        }
        if len(found) == 1:
            (vat,) = found
            rate = None if vat is None else str(Decimal(str(vat)).normalize())
            shares = [(rate, Decimal(1))]
    return supply, shares


async def _issue(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    kind: str,
    amount: int,
    source: str,
    shares: list[tuple[str | None, Decimal]],
    details: dict[str, Any],
    supply_date: str,
    references: Invoice | None = None,
) -> Invoice:
    issuer = settings.invoice_number_prefix
    number = await next_number(session, issuer)
    sign = -1 if kind == K.CREDIT_NOTE else 1
    lines = [
        {k: (v * sign if isinstance(v, int) else v) for k, v in line.items()}
        for line in vat_lines(shares, amount)
    ]
    doc = Invoice(
        issuer=issuer,
        number=number,
        document_number=f"{issuer}-{number:06d}",
        kind=kind,
        payment_id=payment.id or 0,
        source=source,
        references_id=references.id if references else None,
        currency=payment.currency,
        total=sign * amount,
        vat_lines=lines,
        details={
            **details,
            "seller": seller(settings),
            "references": references.document_number if references else None,
        },
        supply_date=supply_date,
        issued_at=utcnow(),
    )
    session.add(doc)
    await session.flush()
    return doc


async def by_source(session: AsyncSession, source: str) -> Invoice | None:
    return (await session.exec(select(Invoice).where(Invoice.source == source))).first()


async def issue_invoice(
    session: AsyncSession, settings: Settings, payment: Payment, amount: int, source: str
) -> Invoice | None:
    """The invoice of a capture (the caller commits with the capture's outcome)."""
    if amount <= 0:
        return None
    done = await by_source(session, source)
    if done is not None:
        return done
    supply, shares = await _supply(session, payment)
    end = supply.pop("end_iso", None)
    supply_date = (parse_datetime(end) if end else utcnow()).date().isoformat()
    return await _issue(
        session, settings, payment, K.INVOICE, amount, source, shares, supply, supply_date
    )


async def issue_credit_note(
    session: AsyncSession, settings: Settings, payment: Payment, amount: int, source: str
) -> Invoice | None:
    """The credit note of a refund, referencing the payment's invoice, VAT in the invoice's
    proportions (the caller commits with the refund's outcome)."""
    if amount <= 0:
        return None
    done = await by_source(session, source)
    if done is not None:
        return done
    invoice = (
        await session.exec(
            select(Invoice).where(Invoice.payment_id == payment.id, Invoice.kind == K.INVOICE)
        )
    ).first()
    if invoice is None:
        return None
    shares = [(line["rate"], Decimal(line["gross"])) for line in invoice.vat_lines]
    details = {k: v for k, v in invoice.details.items() if k not in ("seller", "references")}
    return await _issue(
        session,
        settings,
        payment,
        K.CREDIT_NOTE,
        amount,
        source,
        shares,
        details,
        invoice.supply_date,
        references=invoice,
    )


async def documents(session: AsyncSession, payment: Payment) -> list[Invoice]:
    return list(
        (
            await session.exec(
                select(Invoice).where(Invoice.payment_id == payment.id).order_by(col(Invoice.id))
            )
        ).all()
    )


# --- PDF -------------------------------------------------------------------------------------


def amount_text(minor: int, currency: str) -> str:
    """ "8.47 EUR" (the PDF's core fonts have no euro sign)."""
    value = from_minor_units(minor, currency)
    return f"{value:,.{currency_exponent(currency)}f} {currency.upper()}"


def _latin(text: Any) -> str:
    """The PDF's core fonts take Latin-1: anything else becomes '?'."""
    return str(text or "").encode("latin-1", "replace").decode("latin-1")


def title(doc: Invoice) -> str:
    return "Credit note" if doc.kind == K.CREDIT_NOTE else "Invoice"


def render_pdf(doc: Invoice) -> bytes:
    """The document as a PDF (fpdf2), the same facts as its HTML page."""
    # fpdf2 (with fontTools and Pillow: about 20 MiB resident) on the first PDF asked for, not
    # in every serving process.
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(f"{title(doc)} {doc.document_number}")
    pdf.set_creator("Voltroam")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin(f"{title(doc)} {doc.document_number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    details = doc.details
    sold_by = details.get("seller") or {}
    rows: list[tuple[str, str]] = [
        ("Seller", sold_by.get("name", "")),
        ("Address", sold_by.get("address", "")),
        ("VAT id", sold_by.get("vat_id", "")),
        ("Date of issue", doc.issued_at.date().isoformat()),
        ("Date of supply", doc.supply_date),
    ]
    if details.get("references"):
        rows.append(("Credit for invoice", details["references"]))
    rows += [
        ("Location", details.get("location", "")),
        ("Address of supply", details.get("address", "")),
        ("Charger (EVSE)", details.get("evse", "")),
        ("Connector", details.get("connector", "")),
        ("Charging", f"{details.get('start', '')} - {details.get('end', '')}"),
        ("Energy", f"{details.get('energy_kwh', '0')} kWh"),
        ("Reference", details.get("cdr_id") or ""),
    ]
    for label, value in rows:
        if not value:
            continue
        pdf.cell(45, 6, _latin(label))
        pdf.multi_cell(0, 6, _latin(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    for header in ("VAT rate", "Net", "VAT", "Gross"):
        pdf.cell(45, 7, header, border="B", align="L" if header == "VAT rate" else "R")
    pdf.ln()
    pdf.set_font("Helvetica", size=10)
    for line in doc.vat_lines:
        rate = f"{line['rate']}%" if line["rate"] is not None else "no VAT"
        pdf.cell(45, 6, rate)
        for key in ("net", "vat", "gross"):
            pdf.cell(45, 6, amount_text(int(line[key]), doc.currency), align="R")
        pdf.ln()
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(135, 8, "Total")
    pdf.cell(45, 8, amount_text(doc.total, doc.currency), align="R")
    pdf.ln()
    return bytes(pdf.output())
