"""Admin API of payments (JWT): list and inspect payments, refunds, job retries, QR codes."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, field_validator
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.admin_auth import require_admin
from app.core.dbtypes import utcnow
from app.hub.context import HubContext
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.common import Number
from app.payments import jobs, ledger, records, settlement
from app.payments.evse import find_evses
from app.payments.models import CpoPayout, JobStatus, Payment, PaymentJob
from app.payments.models import PaymentStatus as S
from app.payments.qr import pay_url, qr_code
from app.payments.runner import Payments
from app.payments.status import advance
from app.tariffs.money import to_minor_units

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

PublicId = Annotated[str, Path(min_length=8, max_length=48)]


_PAYMENT_FIELDS = {
    "public_id", "provider", "status", "location_id", "evse_uid", "connector_id", "currency",
    "hold_amount", "tariff_id", "tariff_last_updated", "price", "cpo_price", "amount_captured",
    "amount_refunded", "shortfall", "session_id", "cdr_id", "note", "created_at", "finished_at",
}  # fmt: skip


class PaymentOut(BaseModel):
    public_id: str
    provider: str
    status: str
    cpo: str
    location_id: str
    evse_uid: str
    connector_id: str
    currency: str
    hold_amount: int = Field(description="Minor units")
    tariff_id: str | None = Field(description="The tariff shown to the driver, and charged")
    tariff_last_updated: datetime | None = Field(description="Its version (last_updated)")
    price: int | None = Field(
        description="What the driver pays: the shown tariff's price of the CDR's charging "
        "periods, incl. VAT, minor units"
    )
    cpo_price: int | None = Field(
        description="The CDR's own total cost incl. VAT as the CPO sent it, minor units (a "
        "payment where it differs from price is flagged)"
    )
    amount_captured: int
    amount_refunded: int
    shortfall: int = Field(description="Price above what the hold allowed: not charged")
    session_id: str | None
    cdr_id: str | None
    note: str | None
    created_at: datetime
    finished_at: datetime | None
    status_page: str

    @classmethod
    def of(cls, payment: Payment, base_url: str) -> PaymentOut:
        return cls(
            **payment.model_dump(include=_PAYMENT_FIELDS),
            cpo=f"{payment.cpo_country_code}*{payment.cpo_party_id}",
            status_page=f"{base_url}/pay/sessions/{payment.public_id}",
        )


class JobOut(BaseModel):
    id: int
    kind: str
    status: str
    amount: int | None
    reason: str | None
    attempts: int
    last_error: str | None
    result: dict[str, object]
    created_at: datetime
    done_at: datetime | None


class PaymentDetail(PaymentOut):
    tariff: dict[str, Any] | None = Field(
        description="The copy of the tariff the driver was shown, as it was then"
    )
    jobs: list[JobOut]


class RefundIn(BaseModel):
    # The OCPI number type: finite and below 10^11, so turning it into minor units cannot fail.
    amount: Number | None = Field(
        default=None,
        description="In major units of the payment's currency; omitted: all that is left",
        examples=[2.5],
        json_schema_extra={"exclusiveMinimum": 0},
    )
    reason: str | None = Field(default=None, max_length=255, examples=["Charger fault"])

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value <= 0:
            raise ValueError("a refund must be above 0")
        return value


def _ctx(request: Request) -> HubContext:
    ctx: HubContext = request.app.state.hub
    return ctx


@router.get("/payments", summary="Payments, newest first", response_model=list[PaymentOut])
async def list_payments(
    request: Request,
    status: Annotated[str | None, Query(max_length=16)] = None,
    flagged: Annotated[bool, Query(description="Only those with a shortfall or a note")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[PaymentOut]:
    ctx = _ctx(request)
    stmt = select(Payment)
    if status:
        stmt = stmt.where(Payment.status == status)
    if flagged:
        stmt = stmt.where((col(Payment.shortfall) > 0) | col(Payment.note).is_not(None))
    async with ctx.sessions() as session:
        rows = (await session.exec(stmt.order_by(col(Payment.id).desc()).limit(limit))).all()
    return [PaymentOut.of(p, ctx.settings.base_url) for p in rows]


async def _payment_or_404(session: AsyncSession, public_id: str) -> Payment:
    payment = await records.by_public_id(session, public_id)
    if payment is None:
        raise HTTPException(404, "Unknown payment")
    return payment


async def _detail(ctx: HubContext, public_id: str) -> PaymentDetail:
    async with ctx.sessions() as session:
        payment = await _payment_or_404(session, public_id)
        jobs = (
            await session.exec(
                select(PaymentJob)
                .where(PaymentJob.payment_id == payment.id)
                .order_by(col(PaymentJob.id))
            )
        ).all()
    out = PaymentOut.of(payment, ctx.settings.base_url)
    return PaymentDetail(
        **out.model_dump(),
        tariff=payment.tariff_snapshot,
        jobs=[JobOut.model_validate(j, from_attributes=True) for j in jobs],
    )


@router.get(
    "/payments/{public_id}",
    summary="One payment with its jobs (capture, cancel, refunds, ...)",
    response_model=PaymentDetail,
)
async def get_payment(request: Request, public_id: PublicId) -> PaymentDetail:
    return await _detail(_ctx(request), public_id)


@router.post(
    "/payments/{public_id}/refunds",
    summary="Refund a captured payment, fully or partly",
    status_code=202,
    response_model=JobOut,
    responses={409: {"description": "Not captured, or more than is left"}},
)
async def refund_payment(
    request: Request,
    public_id: PublicId,
    body: Annotated[RefundIn, Body()],
    idempotency_key: Annotated[
        str | None,
        Header(max_length=64, description="Same key, same refund: a retried request refunds once"),
    ] = None,
) -> JobOut:
    ctx = _ctx(request)
    async with ctx.sessions() as session:
        payment = await _payment_or_404(session, public_id)
    amount = None if body.amount is None else to_minor_units(body.amount, payment.currency)
    key = f"refund-{public_id}-{idempotency_key or uuid.uuid4().hex}"
    try:
        job = await jobs.request_refund(ctx, payment, amount, body.reason, key)
    except records.PaymentError as exc:
        raise HTTPException(exc.status, exc.message) from None
    assert job is not None
    payments: Payments = request.app.state.payments
    payments.wake()
    return JobOut.model_validate(job, from_attributes=True)


@router.post(
    "/payments/{public_id}/retry",
    summary="Run the payment's failed jobs again",
    response_model=PaymentDetail,
)
async def retry_jobs(request: Request, public_id: PublicId) -> PaymentDetail:
    ctx = _ctx(request)
    async with ctx.sessions() as session:
        payment = await _payment_or_404(session, public_id)
        jobs = (
            await session.exec(
                select(PaymentJob).where(
                    PaymentJob.payment_id == payment.id, PaymentJob.status == JobStatus.FAILED
                )
            )
        ).all()
        for job in jobs:
            job.status = JobStatus.PENDING
            job.attempts = 0
            job.next_attempt_at = payment.updated_at
            session.add(job)
        if jobs and payment.status == S.FAILED:
            # Back to where the failed job started (the one move out of FAILED).
            advance(payment, S.CAPTURING if payment.cdr_id else S.AUTHORIZED)
            session.add(payment)
        await session.commit()
    payments: Payments = request.app.state.payments
    payments.wake()
    return await _detail(ctx, public_id)


@router.get(
    "/evses/{evse_uid}/qr",
    summary="QR code of an EVSE's pay page (SVG or PNG), to print on the charger",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}, "image/png": {}}},
        404: {"description": "Unknown EVSE"},
    },
)
async def evse_qr(
    request: Request,
    evse_uid: Annotated[str, Path(min_length=1, max_length=36)],
    format: Annotated[Literal["svg", "png"], Query()] = "svg",
    scale: Annotated[int, Query(ge=1, le=40)] = 8,
    cpo: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{2}\*[A-Za-z0-9]{1,3}$", examples=["NL*VRC"])
    ] = None,
) -> Response:
    ctx = _ctx(request)
    ref = PartyRef.of(*cpo.split("*")) if cpo else None
    async with ctx.sessions() as session:
        found = await find_evses(session, evse_uid, ref, ctx=ctx)
    if not found:
        raise HTTPException(404, f"Unknown EVSE {evse_uid}")
    if len(found) > 1:
        raise HTTPException(409, f"Several CPOs have an EVSE {evse_uid}: name one with ?cpo=CC*PID")
    url = pay_url(ctx.settings.base_url, found[0].uid, cpo)
    media = "image/svg+xml" if format == "svg" else "image/png"
    return Response(
        qr_code(url, format, scale),
        media_type=media,
        headers={"Content-Disposition": f'inline; filename="pay-{evse_uid}.{format}"'},
    )


# --- payouts to partner CPOs ------------------------------------------------------------------

CpoPath = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z]{2}\*[A-Za-z0-9]{1,3}$",
        description="The CPO as CC*PID",
        examples=["NL*CPA"],
    ),
]


def _cpo_ref(cpo: str) -> PartyRef:
    return PartyRef.of(*cpo.split("*", 1))


class PayoutTermsIn(BaseModel):
    """A CPO's own payout terms; a field left null follows the settings (PAYOUT_FEE_PERCENT,
    PAYOUT_FEE_FIXED)."""

    fee_percent: Number | None = Field(
        default=None, ge=0, le=100, description="The hub's fee in % of each capture", examples=[2.5]
    )
    fee_fixed: dict[Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")], Number] | None = Field(
        default=None,
        description="The hub's fixed fee per session by currency, major units",
        examples=[{"EUR": 0.30}],
    )
    connect_account_id: str | None = Field(
        default=None,
        pattern=r"^acct_[A-Za-z0-9]{1,250}$",
        description="Stripe Connect account: the CPO's share is transferred there after capture",
        examples=["acct_1Nv0FGQ9RKHgCVdK"],
    )

    @field_validator("fee_percent")
    @classmethod
    def _percent_places(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and _places(value) > 4:
            raise ValueError("a percentage has at most 4 decimals")
        return value

    @field_validator("fee_fixed")
    @classmethod
    def _fixed_fees(cls, value: dict[str, Decimal] | None) -> dict[str, Decimal] | None:
        if value is None:
            return value
        if any(v < 0 for v in value.values()):
            raise ValueError("a fixed fee cannot be negative")
        if any(_places(v) > 4 or v >= 10**6 for v in value.values()):
            raise ValueError("a fixed fee is below 1000000 with at most 4 decimals")
        if len({c.upper() for c in value}) != len(value) or len(value) > 10:
            raise ValueError("at most 10 currencies, each once")
        return value


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _fee_text(value: Decimal) -> str:
    """A fee as stored: plain decimal text ("2.5", never "2.5E+1")."""
    return f"{value.normalize():f}"


class BalanceOut(BaseModel):
    currency: str
    captured: int = Field(description="Minor units, as every amount here")
    refunded: int
    fees: int = Field(description="The hub's fee, net of refunds")
    payable: int = Field(description="The CPO's share, net of refunds")
    transferred: int = Field(description="To its Stripe Connect account, net of reversals")
    owed: int = Field(description="Payable and not transferred yet")


class PayoutOut(BaseModel):
    cpo: str
    partner: bool = Field(description="False for the hub's own CPO (it keeps all it captures)")
    fee_percent: Decimal
    fee_fixed: dict[str, Decimal]
    custom_terms: bool = Field(description="The CPO's own terms, not the settings'")
    connect_account_id: str | None
    balances: list[BalanceOut]


async def _payout_out(session: AsyncSession, ctx: HubContext, cpo: PartyRef) -> PayoutOut:
    terms = await ledger.fee_terms(session, ctx.settings, cpo)
    return PayoutOut(
        cpo=str(cpo),
        partner=await ledger.is_partner(session, cpo),
        fee_percent=terms.percent,
        fee_fixed=terms.fixed,
        custom_terms=terms.custom,
        connect_account_id=terms.connect_account_id,
        balances=[
            BalanceOut(**{**asdict(b), "owed": b.owed}) for b in await ledger.balances(session, cpo)
        ],
    )


@router.get(
    "/payouts",
    summary="What the hub owes each CPO and what it transferred (from the ledger)",
    response_model=list[PayoutOut],
)
async def list_payouts(request: Request) -> list[PayoutOut]:
    ctx = _ctx(request)
    async with ctx.sessions() as session:
        cpos = {b.cpo for b in await ledger.balances(session)}
        cpos |= {
            f"{r.country_code}*{r.party_id}" for r in (await session.exec(select(CpoPayout))).all()
        }
        return [await _payout_out(session, ctx, _cpo_ref(c)) for c in sorted(cpos)]


@router.get(
    "/payouts/{cpo}",
    summary="One CPO's payout terms and balances",
    response_model=PayoutOut,
)
async def get_payout(request: Request, cpo: CpoPath) -> PayoutOut:
    ctx = _ctx(request)
    async with ctx.sessions() as session:
        return await _payout_out(session, ctx, _cpo_ref(cpo))


@router.put(
    "/payouts/{cpo}",
    summary="Set one CPO's payout terms: its hub fee, its Stripe Connect account",
    response_model=PayoutOut,
    responses={422: {"description": "A fee that is not a percentage or not an amount"}},
)
async def put_payout(
    request: Request, cpo: CpoPath, body: Annotated[PayoutTermsIn, Body()]
) -> PayoutOut:
    ctx = _ctx(request)
    ref = _cpo_ref(cpo)
    async with ctx.sessions() as session:
        row = await ledger.payout_row(session, ref) or CpoPayout(
            country_code=ref.country_code, party_id=ref.party_id
        )
        row.fee_percent = None if body.fee_percent is None else _fee_text(body.fee_percent)
        row.fee_fixed = (
            None
            if body.fee_fixed is None
            else ",".join(f"{c.upper()}={_fee_text(v)}" for c, v in sorted(body.fee_fixed.items()))
        )
        row.connect_account_id = body.connect_account_id
        row.updated_at = utcnow()
        session.add(row)
        await session.commit()
        return await _payout_out(session, ctx, ref)


@router.get(
    "/payouts/{cpo}/statement",
    summary="Settlement statement of one CPO for one month (JSON or CSV)",
    description=(
        "Every capture, refund, transfer and transfer reversal the ledger booked for the CPO in "
        "the month (UTC), and the totals per currency, in minor units: captured - refunded = "
        "fees + payable; closing_owed = opening_owed + payable - transferred."
    ),
    responses={
        200: {"content": {"application/json": {}, "text/csv": {}}},
        422: {"description": "Not a month (YYYY-MM), or not a CPO (CC*PID)"},
    },
)
async def payout_statement(
    request: Request,
    cpo: CpoPath,
    month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    ctx = _ctx(request)
    try:
        settlement.month_bounds(month)
    except settlement.BadPeriod as exc:
        raise HTTPException(422, str(exc)) from None
    async with ctx.sessions() as session:
        found = await settlement.statement(session, _cpo_ref(cpo), month)
    if format == "csv":
        name = f"statement-{cpo.replace('*', '-')}-{month}.csv"
        return Response(
            settlement.as_csv(found),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse(jsonable_encoder(found.as_json()))
