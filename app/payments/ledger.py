"""The hub's books of ad hoc payments: what was captured, what the hub keeps, what it owes each
partner CPO, what was refunded and what was transferred.

Double entry: every outcome is one journal whose lines (``LedgerEntry``) sum to zero, debits
positive, credits negative, integers in minor units. A capture of C at a partner CPO's charger
with fee F: cash +C, fees -F, cpo -(C-F). A refund R reverses the CPO's share in proportion
(cumulatively rounded, so that a full refund reverses exactly all of it): cash -R, cpo +share,
fees +(R-share). A transfer T to the CPO's connected account: cpo +T, cash -T (a reversal the
other way). At the hub's own chargers the hub is the CPO: the whole capture is its income.

Journals are written by the jobs whose outcome they book, in the same transaction that marks the
job done; ``(journal, account)`` is unique, so nothing is booked twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.core.settings import Settings, parse_amounts, parse_percent
from app.hub.parties.models import Platform, PlatformParty
from app.ocpi.headers import PartyRef
from app.payments.models import CpoPayout, LedgerAccount, LedgerEntry, LedgerKind, Payment
from app.tariffs.money import to_minor_units

A = LedgerAccount
K = LedgerKind


@dataclass(frozen=True)
class FeeTerms:
    """The hub's fee for one CPO: a percentage of the capture and a fixed fee per session."""

    percent: Decimal
    fixed: dict[str, Decimal]
    connect_account_id: str | None = None
    custom: bool = False  # the CPO's own terms (an admin's), not the settings'

    def fee(self, captured: int, currency: str) -> int:
        """The fee on a capture (minor units), never more than the capture."""
        share = (Decimal(captured) * self.percent / 100).to_integral_value(ROUND_HALF_UP)
        fixed = to_minor_units(self.fixed.get(currency.upper(), Decimal(0)), currency)
        return max(0, min(captured, int(share) + fixed))


def default_terms(settings: Settings) -> FeeTerms:
    return FeeTerms(
        parse_percent(settings.payout_fee_percent, "PAYOUT_FEE_PERCENT"),
        dict(settings.payout_fees_fixed),
    )


async def payout_row(session: AsyncSession, cpo: PartyRef) -> CpoPayout | None:
    return (
        await session.exec(
            select(CpoPayout).where(
                CpoPayout.country_code == cpo.country_code, CpoPayout.party_id == cpo.party_id
            )
        )
    ).first()


def terms_of(settings: Settings, row: CpoPayout | None) -> FeeTerms:
    base = default_terms(settings)
    if row is None:
        return base
    return FeeTerms(
        parse_percent(row.fee_percent, "fee_percent")
        if row.fee_percent is not None
        else base.percent,
        parse_amounts(row.fee_fixed, "fee_fixed") if row.fee_fixed is not None else base.fixed,
        row.connect_account_id,
        custom=row.fee_percent is not None or row.fee_fixed is not None,
    )


async def fee_terms(session: AsyncSession, settings: Settings, cpo: PartyRef) -> FeeTerms:
    return terms_of(settings, await payout_row(session, cpo))


async def is_partner(session: AsyncSession, cpo: PartyRef) -> bool:
    """A partner CPO (reached over OCPI), not the hub's own CPO (a local platform)."""
    local = (
        await session.exec(
            select(Platform.local)
            .join(PlatformParty, col(PlatformParty.platform_id) == col(Platform.id))
            .where(
                PlatformParty.country_code == cpo.country_code,
                PlatformParty.party_id == cpo.party_id,
            )
        )
    ).first()
    return local is None


def _line(
    payment: Payment, journal: str, kind: str, account: str, amount: int, **kw: object
) -> LedgerEntry:
    return LedgerEntry(
        journal=journal,
        kind=kind,
        account=account,
        payment_id=payment.id or 0,
        cpo_country_code=payment.cpo_country_code,
        cpo_party_id=payment.cpo_party_id,
        currency=payment.currency,
        amount=amount,
        **kw,  # type: ignore[arg-type]
    )


async def journal_lines(session: AsyncSession, journal: str) -> list[LedgerEntry]:
    return list(
        (await session.exec(select(LedgerEntry).where(LedgerEntry.journal == journal))).all()
    )


async def _balance(session: AsyncSession, payment: Payment, account: str, *kinds: str) -> int:
    stmt = select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.payment_id == payment.id, LedgerEntry.account == account
    )
    if kinds:
        stmt = stmt.where(col(LedgerEntry.kind).in_(kinds))
    return int((await session.exec(stmt)).one())


def _book(session: AsyncSession, lines: list[LedgerEntry]) -> None:
    assert sum(line.amount for line in lines) == 0, "a journal must balance"
    now = utcnow()
    for line in lines:
        if line.amount:
            line.booked_at = now
            session.add(line)


@dataclass(frozen=True)
class Booked:
    fee: int
    cpo_share: int


async def book_capture(
    session: AsyncSession, settings: Settings, payment: Payment, captured: int, journal: str
) -> Booked:
    """Book a capture (the caller commits with the capture's outcome)."""
    done = await journal_lines(session, journal)
    if done:
        cpo = -sum(line.amount for line in done if line.account == A.CPO)
        return Booked(captured - cpo, cpo)
    cpo_ref = PartyRef(payment.cpo_country_code, payment.cpo_party_id)
    if await is_partner(session, cpo_ref):
        fee = (await fee_terms(session, settings, cpo_ref)).fee(captured, payment.currency)
    else:
        fee = captured  # the hub's own charger: all of it is the hub's
    share = captured - fee
    _book(
        session,
        [
            _line(payment, journal, K.CAPTURE, A.CASH, captured),
            _line(payment, journal, K.CAPTURE, A.FEES, -fee),
            _line(payment, journal, K.CAPTURE, A.CPO, -share),
        ],
    )
    return Booked(fee, share)


async def book_refund(
    session: AsyncSession, payment: Payment, amount: int, journal: str, reference: str | None
) -> Booked:
    """Book a refund of ``amount``: the CPO's share of it in proportion to its share of the
    capture, rounded on the running total so that all refunds together reverse exactly what
    the same total would."""
    done = await journal_lines(session, journal)
    if done:
        cpo = sum(line.amount for line in done if line.account == A.CPO)
        return Booked(amount - cpo, cpo)
    captured = await _balance(session, payment, A.CASH, K.CAPTURE)
    cpo_captured = -(await _balance(session, payment, A.CPO, K.CAPTURE))
    refunded_before = -(await _balance(session, payment, A.CASH, K.REFUND))
    reversed_before = await _balance(session, payment, A.CPO, K.REFUND)
    if captured <= 0:
        share = 0
    else:
        target = Decimal(refunded_before + amount) * cpo_captured / captured
        share = int(target.to_integral_value(ROUND_HALF_UP)) - reversed_before
        share = max(0, min(share, amount, cpo_captured - reversed_before))
    _book(
        session,
        [
            _line(payment, journal, K.REFUND, A.CASH, -amount, reference=reference),
            _line(payment, journal, K.REFUND, A.FEES, amount - share, reference=reference),
            _line(payment, journal, K.REFUND, A.CPO, share, reference=reference),
        ],
    )
    return Booked(amount - share, share)


async def book_transfer(
    session: AsyncSession, payment: Payment, amount: int, journal: str, transfer_id: str
) -> None:
    """The CPO's share left for its connected account (or came back, ``amount`` negative)."""
    if await journal_lines(session, journal):
        return
    kind = K.TRANSFER if amount >= 0 else K.TRANSFER_REVERSAL
    _book(
        session,
        [
            _line(payment, journal, kind, A.CPO, amount, reference=transfer_id),
            _line(payment, journal, kind, A.CASH, -amount, reference=transfer_id),
        ],
    )


async def reversed_amount(session: AsyncSession, payment: Payment) -> int:
    """What the ledger booked as taken back from the CPO's connected account for this payment."""
    return -(await _balance(session, payment, A.CPO, K.TRANSFER_REVERSAL))


async def transferred(session: AsyncSession, payment: Payment) -> int:
    """What went to the CPO's connected account for this payment, net of reversals."""
    return await _balance(session, payment, A.CPO, K.TRANSFER, K.TRANSFER_REVERSAL)


@dataclass
class CpoBalance:
    """What the books say of one CPO in one currency (minor units)."""

    cpo: str
    currency: str
    captured: int = 0
    refunded: int = 0
    fees: int = 0  # the hub's fee net of refunds
    payable: int = 0  # the CPO's share net of refunds
    transferred: int = 0  # to its connected account, net of reversals

    @property
    def owed(self) -> int:
        """Payable and not transferred yet."""
        return self.payable - self.transferred


async def balances(session: AsyncSession, cpo: PartyRef | None = None) -> list[CpoBalance]:
    """Every CPO's balance per currency (only ``cpo``'s when given), from the ledger."""
    party = col(LedgerEntry.cpo_country_code) + "*" + col(LedgerEntry.cpo_party_id)
    line = col(LedgerEntry.account) + ":" + col(LedgerEntry.kind)
    stmt = select(party, col(LedgerEntry.currency), line, func.sum(LedgerEntry.amount)).group_by(
        party, col(LedgerEntry.currency), line
    )
    if cpo is not None:
        stmt = stmt.where(
            LedgerEntry.cpo_country_code == cpo.country_code,
            LedgerEntry.cpo_party_id == cpo.party_id,
        )
    found: dict[tuple[str, str], CpoBalance] = {}
    for who, currency, what, total in (await session.exec(stmt)).all():
        account, _, kind = str(what).partition(":")
        key = (str(who), str(currency))
        row = found.setdefault(key, CpoBalance(*key))
        total = int(total or 0)
        if account == A.CASH and kind == K.CAPTURE:
            row.captured += total
        elif account == A.CASH and kind == K.REFUND:
            row.refunded -= total
        elif account == A.FEES:
            row.fees -= total
        elif account == A.CPO and kind in (K.CAPTURE, K.REFUND):
            row.payable -= total
        elif account == A.CPO:
            row.transferred += total
    return [found[k] for k in sorted(found)]
