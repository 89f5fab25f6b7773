"""Settlement statements: what the ledger booked for one CPO in one month, line by line.

Every line is one journal of the ledger (a capture, a refund, a transfer or its reversal) booked
in the month (UTC); the totals are the sums of the lines, so a statement adds up exactly to the
captures and refunds of its period: captured - refunded = fees + payable, and
owed at the end = owed at the start + payable - transferred.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.ocpi.headers import PartyRef
from app.payments.models import LedgerAccount as A
from app.payments.models import LedgerEntry, Payment
from app.payments.models import LedgerKind as K


class BadPeriod(ValueError):
    """A month that is not YYYY-MM."""


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """ "2026-11" -> [2026-11-01T00:00Z, 2026-12-01T00:00Z)."""
    try:
        if len(month) != 7:
            raise ValueError(month)
        year, number = (int(p) for p in month.split("-"))
        start = datetime(year, number, 1, tzinfo=UTC)
        end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    except ValueError:
        raise BadPeriod(f"{month!r} is not a month (YYYY-MM, years 1 to 9998)") from None
    return start, end


@dataclass
class StatementLine:
    booked_at: datetime
    kind: str  # capture, refund, transfer, transfer_reversal
    payment: str  # the payment's public id
    cdr_id: str | None
    currency: str
    gross: int  # what the driver paid (+) or got back (-)
    fee: int  # the hub's fee (+) or its reversal (-)
    cpo_share: int  # owed to the CPO (+) or no longer (-)
    transferred: int  # to the CPO's connected account (+) or taken back (-)
    reference: str | None  # the provider's id of the refund, transfer or reversal


@dataclass
class StatementTotals:
    currency: str
    opening_owed: int = 0
    captured: int = 0
    refunded: int = 0
    fees: int = 0
    payable: int = 0
    transferred: int = 0
    closing_owed: int = 0


@dataclass
class Statement:
    cpo: str
    month: str
    start: datetime
    end: datetime
    totals: list[StatementTotals] = field(default_factory=list)
    lines: list[StatementLine] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return asdict(self)


async def _owed_before(session: AsyncSession, cpo: PartyRef, before: datetime) -> dict[str, int]:
    """What the hub owed the CPO at ``before``, per currency: the credit of its account."""
    rows = await session.exec(
        select(LedgerEntry.currency, func.sum(LedgerEntry.amount))
        .where(
            LedgerEntry.cpo_country_code == cpo.country_code,
            LedgerEntry.cpo_party_id == cpo.party_id,
            LedgerEntry.account == A.CPO,
            col(LedgerEntry.booked_at) < before,
        )
        .group_by(col(LedgerEntry.currency))
    )
    return {str(currency): -int(total or 0) for currency, total in rows.all()}


async def statement(session: AsyncSession, cpo: PartyRef, month: str) -> Statement:
    start, end = month_bounds(month)
    entries = (
        await session.exec(
            select(LedgerEntry, Payment.public_id, Payment.cdr_id)
            .join(Payment, col(Payment.id) == col(LedgerEntry.payment_id))
            .where(
                LedgerEntry.cpo_country_code == cpo.country_code,
                LedgerEntry.cpo_party_id == cpo.party_id,
                col(LedgerEntry.booked_at) >= start,
                col(LedgerEntry.booked_at) < end,
            )
            .order_by(col(LedgerEntry.booked_at), col(LedgerEntry.id))
        )
    ).all()
    lines: dict[str, StatementLine] = {}
    for entry, public_id, cdr_id in entries:
        line = lines.get(entry.journal)
        if line is None:
            line = lines[entry.journal] = StatementLine(
                booked_at=entry.booked_at,
                kind=entry.kind,
                payment=public_id,
                cdr_id=cdr_id,
                currency=entry.currency,
                gross=0,
                fee=0,
                cpo_share=0,
                transferred=0,
                reference=entry.reference,
            )
        if entry.account == A.CASH and entry.kind in (K.CAPTURE, K.REFUND):
            line.gross += entry.amount
        elif entry.account == A.FEES:
            line.fee -= entry.amount
        elif entry.account == A.CPO and entry.kind in (K.CAPTURE, K.REFUND):
            line.cpo_share -= entry.amount
        elif entry.account == A.CPO:
            line.transferred += entry.amount
    opening = await _owed_before(session, cpo, start)
    totals: dict[str, StatementTotals] = {}
    for currency in sorted({*opening, *(line.currency for line in lines.values())}):
        totals[currency] = StatementTotals(currency, opening_owed=opening.get(currency, 0))
    for line in lines.values():
        t = totals[line.currency]
        if line.gross > 0:
            t.captured += line.gross
        else:
            t.refunded -= line.gross
        t.fees += line.fee
        t.payable += line.cpo_share
        t.transferred += line.transferred
    for t in totals.values():
        t.closing_owed = t.opening_owed + t.payable - t.transferred
    return Statement(str(cpo), month, start, end, list(totals.values()), list(lines.values()))


CSV_COLUMNS = (
    "booked_at",
    "kind",
    "payment",
    "cdr_id",
    "currency",
    "gross",
    "fee",
    "cpo_share",
    "transferred",
    "reference",
)


def as_csv(found: Statement) -> str:
    """The statement's lines, then one total line per currency (amounts in minor units)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in found.lines:
        values = asdict(line)
        values["booked_at"] = line.booked_at.isoformat()
        writer.writerow([values[c] if values[c] is not None else "" for c in CSV_COLUMNS])
    for t in found.totals:
        writer.writerow(
            [
                found.month,
                "total",
                "",
                "",
                t.currency,
                t.captured - t.refunded,
                t.fees,
                t.payable,
                t.transferred,
                f"owed {t.opening_owed} -> {t.closing_owed}",
            ]
        )
    return out.getvalue()
