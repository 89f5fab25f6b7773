"""The ad hoc payment's life: checkout, hold, start, live cost, stop, CDR, capture, refund.

Facts arrive from three sides and each is written in one transaction with the job it calls for:

* the payment provider (Stripe webhooks, or the local test provider's checkout page):
  ``handle_event`` -> a CONFIRM job, which checks the PaymentIntent really is ``requires_capture``
  and then queues START;
* the CPO (a Session or CDR whose token the hub's own eMSP issued reaches ``observe`` from the
  store, before its commit): the Session's running cost may queue STOP; the CDR queues CAPTURE of
  exactly its price (or CANCEL when it is zero), a credit CDR queues a REFUND;
* command results for START_SESSION / STOP_SESSION (``command_result``, from the relay).

Jobs (``PaymentJob``) run in ``run_due_jobs``: leased with a conditional UPDATE (one instance runs
each), retried with backoff, and every provider call carries the job's deterministic idempotency
key, so a crash between the provider's answer and our commit never charges twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.core.settings import Settings
from app.hub.context import HubContext
from app.hub.forward import resolve_receiver
from app.hub.relay import service as relay
from app.hub.relay.models import Callback
from app.hub.routing import CPO_ONLY
from app.hub.store import service as store
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.commands import (
    COMMAND_REQUEST_MODELS,
    CommandResponse,
    CommandType,
)
from app.ocpi.schemas.common import format_datetime
from app.payments.evse import EvseChoice, ad_hoc_tariff, hold_amount
from app.payments.models import JobKind, JobStatus, Payment, PaymentEvent, PaymentJob
from app.payments.models import PaymentStatus as S
from app.payments.pricing import (
    NOTE_SEPARATOR,
    location_time_zone,
    price_minor,
    remember_tariff,
    running_price,
    settle_cdr,
)
from app.payments.provider import (
    CheckoutRequest,
    Intent,
    LocalProvider,
    PaymentProvider,
    ProviderError,
)
from app.tariffs.selection import AD_HOC_TOKEN_TYPE

log = logging.getLogger("voltroam.payments")

# The relay delivers the results of the hub's own commands here instead of to a partner URL.
INTERNAL_URL = "voltroam-internal:payments/"
TOKEN_TYPE = AD_HOC_TOKEN_TYPE
# The hub stops a paid session when its running cost reaches this share of the hold, so that the
# energy delivered while the stop travels to the charger still fits in it.
STOP_AT = Decimal("0.95")


class PaymentError(Exception):
    """A driver's request that cannot go on; ``status`` is the HTTP status of the page."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Retry(Exception):
    """A job that cannot be done yet (its precondition is not there): try again later."""


def emsp_ref(settings: Settings) -> PartyRef:
    return PartyRef.of(settings.payments_emsp_country_code, settings.payments_emsp_party_id)


def cpo_ref(payment: Payment) -> PartyRef:
    return PartyRef(payment.cpo_country_code, payment.cpo_party_id)


async def by_public_id(session: AsyncSession, public_id: str) -> Payment | None:
    return (await session.exec(select(Payment).where(Payment.public_id == public_id))).first()


def _flag(payment: Payment, note: str) -> None:
    """Add a line for the admins (a note flags the payment: GET /admin/payments?flagged=true)
    without losing the one already there."""
    if payment.note and note not in payment.note:
        note = f"{payment.note}{NOTE_SEPARATOR}{note}"
    _touch(payment, note=note)


def _touch(payment: Payment, status: str | None = None, note: str | None = None) -> None:
    if status is not None:
        payment.status = status
        if status in S.FINAL and payment.finished_at is None:
            payment.finished_at = utcnow()
    if note is not None:
        payment.note = note[:512]
    payment.updated_at = utcnow()


# --- Checkout --------------------------------------------------------------------------------


async def start_checkout(
    ctx: HubContext, provider: PaymentProvider, choice: EvseChoice, connector_id: str
) -> Payment:
    """The driver pressed "Start charging": a payment row, then the provider's checkout."""
    connector = choice.connector(connector_id)
    if connector is None:
        raise PaymentError(f"This charger has no connector {connector_id}", 400)
    if not choice.startable:
        raise PaymentError(f"This charger cannot start now (it is {choice.status.lower()})")
    async with ctx.sessions() as session:
        tariff = await ad_hoc_tariff(session, choice.cpo, connector)
        if tariff is None:
            raise PaymentError("This charger publishes no price for paying on the spot")
        currency = str(tariff["currency"]).upper()
        public_id = secrets.token_urlsafe(18)
        payment = Payment(
            public_id=public_id,
            provider=provider.name,
            cpo_country_code=choice.cpo.country_code,
            cpo_party_id=choice.cpo.party_id,
            location_id=str(choice.location["id"]),
            evse_uid=choice.uid,
            connector_id=str(connector["id"]),
            currency=currency,
            hold_amount=hold_amount(ctx.settings, currency),
            token_uid=("VRP" + secrets.token_hex(8)).upper(),
        )
        # The tariff the pay page shows is the one the driver agrees to: keep a copy.
        remember_tariff(payment, tariff)
        session.add(payment)
        await session.commit()
        await session.refresh(payment)
    base = ctx.settings.base_url
    name = choice.location.get("name") or choice.location.get("address") or "charger"
    try:
        checkout = await provider.create_checkout(
            CheckoutRequest(
                reference=public_id,
                currency=currency,
                amount=payment.hold_amount,
                title=f"Charging at {name} ({choice.evse.get('evse_id') or choice.uid})",
                description=(
                    "A hold: you pay the price of your charging session, the rest is released."
                ),
                success_url=f"{base}/pay/sessions/{public_id}",
                cancel_url=f"{base}/pay/{choice.uid}?cpo={choice.cpo}",
                idempotency_key=f"voltroam-checkout-{public_id}",
            )
        )
    except ProviderError as exc:
        async with ctx.sessions() as session:
            row = await session.get(Payment, payment.id)
            assert row is not None
            _touch(row, S.FAILED, exc.message)
            session.add(row)
            await session.commit()
        ctx.metrics.payments.labels("checkout_failed").inc()
        raise PaymentError("The payment service is not available; please try again", 503) from exc
    async with ctx.sessions() as session:
        row = await session.get(Payment, payment.id)
        assert row is not None
        row.checkout_id = checkout.id
        row.checkout_url = checkout.url
        _touch(row)
        session.add(row)
        await session.commit()
        await session.refresh(row)
        return row


# --- Provider events -------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    obj: dict[str, Any]


def _reference(obj: dict[str, Any]) -> str | None:
    ref = obj.get("client_reference_id") or (obj.get("metadata") or {}).get("voltroam_payment")
    return str(ref) if ref else None


async def _payment_of(session: AsyncSession, obj: dict[str, Any]) -> Payment | None:
    ref = _reference(obj)
    if ref is not None:
        return await by_public_id(session, ref)
    object_id = obj.get("id")
    if obj.get("object") == "checkout.session":
        stmt = select(Payment).where(Payment.checkout_id == object_id)
    else:
        stmt = select(Payment).where(Payment.payment_intent_id == object_id)
    return (await session.exec(stmt)).first()


async def handle_event(ctx: HubContext, event: Event) -> str:
    """Act on a provider event once. Answers what was done (for the log and the webhook reply).

    Events may come twice or in any order: each only moves a payment forward, and the work they
    call for is a job with a fixed key, queued once.
    """
    async with ctx.sessions() as session:
        if await session.get(PaymentEvent, event.id) is not None:
            return "duplicate"
        try:
            # The event id is claimed first (primary key): of two deliveries of one event racing
            # each other, here or on another instance, the second stops at this flush.
            session.add(PaymentEvent(event_id=event.id, type=event.type[:64]))
            await session.flush()
            outcome = await _apply_event(session, event)
            await session.commit()
        except IntegrityError:
            await session.rollback()
            return "duplicate"
    return outcome


async def _apply_event(session: AsyncSession, event: Event) -> str:
    obj = event.obj
    kind = event.type
    if kind not in (
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.expired",
        "payment_intent.amount_capturable_updated",
        "payment_intent.canceled",
        "payment_intent.payment_failed",
        "payment_intent.succeeded",
    ):
        return "ignored"
    payment = await _payment_of(session, obj)
    if payment is None:
        return "unknown payment"
    if kind.startswith("checkout.session"):
        intent = obj.get("payment_intent")
        if isinstance(intent, dict):
            intent = intent.get("id")
        if intent and not payment.payment_intent_id:
            payment.payment_intent_id = str(intent)
    elif obj.get("id") and not payment.payment_intent_id:
        payment.payment_intent_id = str(obj["id"])
    if kind == "checkout.session.expired":
        if payment.status == S.CREATED:
            _touch(payment, S.CANCELED, "The checkout expired before payment")
    elif kind == "payment_intent.canceled":
        if payment.status not in S.FINAL and payment.amount_captured == 0:
            _touch(payment, note="The hold was canceled at the payment provider")
            if payment.status in (S.CREATED, S.AUTHORIZED, S.AWAITING_CDR, S.CAPTURING):
                _touch(payment, S.CANCELED)
    elif kind == "payment_intent.payment_failed":
        if payment.status == S.CREATED:
            _touch(payment, note="The card was declined; the driver may try again")
    elif kind == "payment_intent.succeeded":
        received = int(obj.get("amount_received") or 0)
        if received > payment.amount_captured:
            payment.amount_captured = received
        _touch(payment)
    elif payment.status == S.CREATED:
        # The hold may be in place: confirm with the provider before starting anything.
        await enqueue(session, payment, JobKind.CONFIRM, f"confirm-{payment.public_id}")
    session.add(payment)
    return kind


# --- Jobs ------------------------------------------------------------------------------------


async def enqueue(
    session: AsyncSession,
    payment: Payment,
    kind: str,
    key: str,
    *,
    amount: int | None = None,
    reason: str | None = None,
) -> PaymentJob | None:
    """Queue a job once per key (the caller commits); None when it is queued already."""
    existing = (
        await session.exec(select(PaymentJob).where(PaymentJob.idempotency_key == key))
    ).first()
    if existing is not None:
        return None
    assert payment.id is not None
    job = PaymentJob(
        payment_id=payment.id,
        kind=kind,
        idempotency_key=key,
        amount=amount,
        reason=reason,
    )
    session.add(job)
    await session.flush()
    return job


async def claim_jobs(ctx: HubContext, limit: int = 50) -> list[tuple[int, int]]:
    """Take due jobs (each by one instance only): their ids and their payments' ids."""
    now = utcnow()
    taken: list[tuple[int, int]] = []
    async with ctx.sessions() as session:
        due = (
            await session.exec(
                select(PaymentJob.id, PaymentJob.payment_id)
                .where(
                    PaymentJob.status == JobStatus.PENDING,
                    col(PaymentJob.next_attempt_at) <= now,
                    or_(col(PaymentJob.lease_until).is_(None), col(PaymentJob.lease_until) < now),
                )
                .order_by(col(PaymentJob.id))
                .limit(limit)
            )
        ).all()
        for job_id, payment_id in due:
            result = await session.exec(
                update(PaymentJob)
                .where(
                    col(PaymentJob.id) == job_id,
                    col(PaymentJob.status) == JobStatus.PENDING,
                    or_(col(PaymentJob.lease_until).is_(None), col(PaymentJob.lease_until) < now),
                )
                .values(
                    lease_until=now + timedelta(seconds=ctx.settings.payment_jobs_lease_seconds),
                    attempts=col(PaymentJob.attempts) + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1 and job_id is not None:
                taken.append((job_id, payment_id))
        await session.commit()
    return taken


# Jobs of different payments run side by side (a capture waits on the provider's network);
# the jobs of one payment run one after the other, in the order they were queued.
JOB_CONCURRENCY = 8


async def run_due_jobs(ctx: HubContext, provider: PaymentProvider) -> int:
    claimed = await claim_jobs(ctx)
    by_payment: dict[int, list[int]] = {}
    for job_id, payment_id in claimed:
        by_payment.setdefault(payment_id, []).append(job_id)
    gate = asyncio.Semaphore(JOB_CONCURRENCY)

    async def run_in_order(job_ids: list[int]) -> None:
        async with gate:
            for job_id in job_ids:
                try:
                    await run_job(ctx, provider, job_id)
                except Exception:
                    # Its lease runs out and it is taken again; the others go on.
                    log.exception("payment job %s failed unexpectedly", job_id)

    await asyncio.gather(*(run_in_order(ids) for ids in by_payment.values()))
    return len(claimed)


def _backoff(settings: Settings, attempts: int) -> float:
    cap = settings.payment_jobs_backoff_cap_seconds
    return float(random.uniform(0, min(cap, 2.0 ** min(attempts, 16))))  # noqa: S311


async def run_job(ctx: HubContext, provider: PaymentProvider, job_id: int) -> None:
    async with ctx.sessions() as session:
        job = await session.get(PaymentJob, job_id)
        if job is None or job.status != JobStatus.PENDING:
            return
        payment = await session.get(Payment, job.payment_id)
        if payment is None:
            job.status = JobStatus.FAILED
            job.last_error = "payment gone"
            session.add(job)
            await session.commit()
            return
        try:
            result = await _execute(ctx, session, provider, job, payment)
        except (Retry, ProviderError, OcpiError) as exc:
            await session.rollback()
            await _failed_attempt(ctx, session, job_id, exc)
            return
        job.status = JobStatus.DONE
        job.result = result
        job.done_at = utcnow()
        job.lease_until = None
        session.add(job)
        session.add(payment)
        await session.commit()
    ctx.notify_outbox()


async def _failed_attempt(
    ctx: HubContext, session: AsyncSession, job_id: int, exc: Exception
) -> None:
    job = await session.get(PaymentJob, job_id)
    if job is None:
        return
    payment = await session.get(Payment, job.payment_id)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    retryable = not isinstance(exc, ProviderError) or exc.retryable
    job.last_error = message[:512]
    job.lease_until = None
    if retryable and job.attempts < ctx.settings.payment_jobs_max_attempts:
        job.next_attempt_at = utcnow() + timedelta(seconds=_backoff(ctx.settings, job.attempts))
        log.info("payment job %s %s will be retried: %s", job.id, job.kind, message)
    else:
        job.status = JobStatus.FAILED
        log.warning("payment job %s %s failed: %s", job.id, job.kind, message)
        if payment is not None:
            await _job_gave_up(ctx, session, job, payment, message)
            session.add(payment)
    session.add(job)
    await session.commit()


async def _job_gave_up(
    ctx: HubContext, session: AsyncSession, job: PaymentJob, payment: Payment, message: str
) -> None:
    if job.kind in (JobKind.CAPTURE, JobKind.CANCEL):
        _touch(payment, S.FAILED, f"{job.kind} failed: {message}")
        ctx.metrics.payments.labels(f"{job.kind}_failed").inc()
    elif job.kind == JobKind.START:
        _touch(payment, note=f"Charging could not start: {message}")
        await enqueue(session, payment, JobKind.CANCEL, f"cancel-{payment.public_id}")
    elif job.kind == JobKind.CONFIRM:
        _touch(payment, note=f"The payment could not be confirmed: {message}")
    else:
        _touch(payment, note=f"{job.kind} failed: {message}")
        ctx.metrics.payments.labels(f"{job.kind}_failed").inc()


async def _execute(
    ctx: HubContext,
    session: AsyncSession,
    provider: PaymentProvider,
    job: PaymentJob,
    payment: Payment,
) -> dict[str, Any]:
    if job.kind == JobKind.CONFIRM:
        return await _confirm(session, provider, payment)
    if job.kind == JobKind.START:
        return await _start(ctx, session, payment)
    if job.kind == JobKind.STOP:
        return await _stop(ctx, session, payment, job.reason)
    if job.kind == JobKind.CAPTURE:
        return await _capture(ctx, provider, job, payment)
    if job.kind == JobKind.CANCEL:
        return await _cancel(ctx, provider, job, payment)
    if job.kind == JobKind.REFUND:
        return await _refund(ctx, provider, job, payment)
    raise ProviderError(f"unknown job kind {job.kind}", retryable=False)


async def _confirm(
    session: AsyncSession, provider: PaymentProvider, payment: Payment
) -> dict[str, Any]:
    if payment.status != S.CREATED:
        return {"skipped": payment.status}
    if not payment.payment_intent_id:
        if not payment.checkout_id:
            raise Retry("no checkout yet")
        intent_id = await provider.checkout_intent(payment.checkout_id)
        if intent_id is None:
            raise Retry("the checkout has no PaymentIntent yet")
        payment.payment_intent_id = intent_id
    intent = await provider.get_intent(payment.payment_intent_id)
    if intent.status == "canceled":
        _touch(payment, S.CANCELED, "The hold was canceled before charging started")
        return {"intent": intent.status}
    if intent.status != "requires_capture":
        raise Retry(f"the PaymentIntent is {intent.status}, not requires_capture")
    payment.amount_capturable = intent.amount_capturable
    payment.authorized_at = utcnow()
    _touch(payment, S.AUTHORIZED)
    await enqueue(session, payment, JobKind.START, f"start-{payment.public_id}")
    return {"intent": intent.status, "amount_capturable": intent.amount_capturable}


def ad_hoc_token(settings: Settings, payment: Payment, valid: bool = True) -> dict[str, Any]:
    """The single-use token the hub's eMSP issues for one paid session (mod_tokens, Token)."""
    ref = emsp_ref(settings)
    return {
        "country_code": ref.country_code,
        "party_id": ref.party_id,
        "uid": payment.token_uid,
        "type": TOKEN_TYPE,
        "contract_id": f"{ref.country_code}-{ref.party_id}-{payment.token_uid}",
        "issuer": settings.payments_emsp_name,
        "valid": valid,
        "whitelist": "ALLOWED",
        "language": "en",
        "last_updated": format_datetime(utcnow()),
    }


async def _save_token(
    session: AsyncSession, settings: Settings, payment: Payment, valid: bool
) -> dict[str, Any]:
    token = ad_hoc_token(settings, payment, valid)
    await store.save(
        session,
        module="tokens",
        owner=emsp_ref(settings),
        key=payment.token_uid,
        subtype=TOKEN_TYPE,
        data=token,
        last_updated=utcnow(),
        owner_platform_id=None,
    )
    return token


async def _command(
    ctx: HubContext,
    session: AsyncSession,
    payment: Payment,
    command: CommandType,
    request: dict[str, Any],
) -> CommandResponse:
    """Send a command as the hub's eMSP, through the same path as a partner eMSP's command; its
    asynchronous result comes back to ``command_result``."""
    from app.ocpp import own_cpo

    party = await resolve_receiver(session, cpo_ref(payment), CPO_ONLY)
    callback = await relay.open_callback(
        session,
        kind="command",
        action=command.value,
        subject=str(request.get("session_id") or request.get("location_id") or "").upper() or None,
        requester_platform_id=None,
        requester=emsp_ref(ctx.settings),
        receiver=party,
        original_url=INTERNAL_URL + payment.public_id,
    )
    body = (
        COMMAND_REQUEST_MODELS[command]
        .model_validate({**request, "response_url": relay.result_url(ctx, callback)})
        .to_json()
    )
    if own_cpo.is_own(party):
        return await own_cpo.command(ctx, session, command.value, body, callback)
    reply = await relay.forward_with_callback(
        session,
        ctx,
        callback,
        party,
        module="commands",
        method="POST",
        path=command.value,
        requester=emsp_ref(ctx.settings),
        response_model=CommandResponse,
        body=body,
    )
    if not reply.ok:
        raise OcpiError(reply.status_code, f"{party.ref} answered {reply.status_message}")
    return CommandResponse.model_validate(reply.one())


async def _start(ctx: HubContext, session: AsyncSession, payment: Payment) -> dict[str, Any]:
    if payment.status != S.AUTHORIZED:
        return {"skipped": payment.status}
    # STARTING is committed before the command leaves: a job replayed after a crash finds it
    # and never sends a second START_SESSION.
    token = await _save_token(session, ctx.settings, payment, valid=True)
    _touch(payment, S.STARTING)
    session.add(payment)
    await session.commit()
    answer = await _command(
        ctx,
        session,
        payment,
        CommandType.START_SESSION,
        {
            "token": token,
            "location_id": payment.location_id,
            "evse_uid": payment.evse_uid,
            "connector_id": payment.connector_id,
            "authorization_reference": payment.public_id[:36],
        },
    )
    payment = await _reload(session, payment)
    if answer.result != "ACCEPTED":
        text = answer.message[0].text if answer.message else answer.result
        _touch(payment, note=f"The charger did not start: {text}")
        await enqueue(session, payment, JobKind.CANCEL, f"cancel-{payment.public_id}")
    return {"command": answer.result}


async def _reload(session: AsyncSession, payment: Payment) -> Payment:
    """The command path commits; read the row again before changing it."""
    await session.refresh(payment)
    return payment


async def _stop(
    ctx: HubContext, session: AsyncSession, payment: Payment, reason: str | None
) -> dict[str, Any]:
    if payment.status not in (S.STARTING, S.CHARGING):
        return {"skipped": payment.status}
    if payment.session_id is None:
        raise Retry("the CPO has not reported the Session yet")
    answer = await _command(
        ctx, session, payment, CommandType.STOP_SESSION, {"session_id": payment.session_id}
    )
    payment = await _reload(session, payment)
    if answer.result == "ACCEPTED" and payment.status in (S.STARTING, S.CHARGING):
        _touch(payment, S.STOPPING, reason)
    elif answer.result != "ACCEPTED":
        _touch(payment, note=f"The charger did not stop: {answer.result}")
    return {"command": answer.result}


async def _settled(
    provider: PaymentProvider, intent_id: str, outcome: str, call: Awaitable[Intent]
) -> Intent:
    """Capture or cancel; when the provider refuses, read the PaymentIntent: already in
    ``outcome`` (a replay after the provider forgot the idempotency key) counts as done."""
    try:
        return await call
    except ProviderError as exc:
        intent = await provider.get_intent(intent_id)
        if intent.status != outcome:
            raise exc from None
        return intent


async def _capture(
    ctx: HubContext, provider: PaymentProvider, job: PaymentJob, payment: Payment
) -> dict[str, Any]:
    if payment.status == S.CAPTURED:
        return {"skipped": payment.status}
    if not payment.payment_intent_id:
        raise ProviderError("no PaymentIntent to capture", retryable=False)
    price = job.amount or 0
    capturable = payment.amount_capturable or payment.hold_amount
    amount = min(price, capturable)
    intent = await _settled(
        provider,
        payment.payment_intent_id,
        "succeeded",
        provider.capture(payment.payment_intent_id, amount, job.idempotency_key),
    )
    captured = intent.amount_received or amount
    payment.amount_captured = captured
    payment.amount_capturable = 0
    payment.shortfall = max(0, price - captured)
    note = None
    if payment.shortfall:
        note = (
            f"The price ({price}) was above what the hold allows ({captured}): "
            f"{payment.shortfall} could not be charged"
        )
        ctx.metrics.payments.labels("shortfall").inc()
    _touch(payment, S.CAPTURED)
    if note is not None:
        _flag(payment, note)
    ctx.metrics.payments.labels("captured").inc()
    ctx.metrics.payment_amount.labels(payment.currency).inc(captured)
    return {"captured": captured, "price": price}


async def _cancel(
    ctx: HubContext, provider: PaymentProvider, job: PaymentJob, payment: Payment
) -> dict[str, Any]:
    if payment.status in (S.CANCELED, S.CAPTURED):
        return {"skipped": payment.status}
    if payment.payment_intent_id:
        await _settled(
            provider,
            payment.payment_intent_id,
            "canceled",
            provider.cancel(payment.payment_intent_id, job.idempotency_key),
        )
    payment.amount_capturable = 0
    _touch(payment, S.CANCELED)
    ctx.metrics.payments.labels("canceled").inc()
    return {"canceled": True}


async def _refund(
    ctx: HubContext, provider: PaymentProvider, job: PaymentJob, payment: Payment
) -> dict[str, Any]:
    if payment.status != S.CAPTURED or not payment.payment_intent_id:
        raise Retry(f"nothing captured yet to refund (payment is {payment.status})")
    amount = min(job.amount or 0, payment.amount_captured - payment.amount_refunded)
    if amount <= 0:
        return {"skipped": "nothing left to refund"}
    refund_id = await provider.refund(payment.payment_intent_id, amount, job.idempotency_key)
    payment.amount_refunded += amount
    _touch(payment)
    ctx.metrics.payments.labels("refunded").inc()
    return {"refund": refund_id, "amount": amount}


async def request_refund(
    ctx: HubContext, payment: Payment, amount: int | None, reason: str | None, key: str
) -> PaymentJob | None:
    """An admin's refund (full when ``amount`` is None). Queued once per ``key``."""
    async with ctx.sessions() as session:
        row = await session.get(Payment, payment.id)
        assert row is not None
        if row.status != S.CAPTURED:
            raise PaymentError(
                f"Only a captured payment can be refunded (this one is {row.status})"
            )
        pending = sum(
            j.amount or 0
            for j in (
                await session.exec(
                    select(PaymentJob).where(
                        PaymentJob.payment_id == row.id,
                        PaymentJob.kind == JobKind.REFUND,
                        PaymentJob.status == JobStatus.PENDING,
                    )
                )
            ).all()
        )
        left = row.amount_captured - row.amount_refunded - pending
        amount = left if amount is None else amount
        if amount <= 0 or amount > left:
            raise PaymentError(f"The refund must be between 1 and {left} (minor units)", 409)
        job = await enqueue(session, row, JobKind.REFUND, key, amount=amount, reason=reason)
        if job is None:
            job = (
                await session.exec(select(PaymentJob).where(PaymentJob.idempotency_key == key))
            ).first()
        await session.commit()
        if job is not None:
            await session.refresh(job)
        return job


async def request_stop(ctx: HubContext, payment: Payment, reason: str) -> None:
    async with ctx.sessions() as session:
        row = await session.get(Payment, payment.id)
        assert row is not None
        if row.status not in (S.STARTING, S.CHARGING):
            raise PaymentError(f"There is no charging to stop (the payment is {row.status})")
        await enqueue(session, row, JobKind.STOP, f"stop-{row.public_id}", reason=reason)
        await session.commit()


# --- What the CPO reports (called by the store before it commits) ----------------------------


async def observe(
    session: AsyncSession, ctx: HubContext, module: str, data: dict[str, Any]
) -> None:
    """A Session or CDR for a token of the hub's own eMSP."""
    token = data.get("cdr_token") or {}
    uid = str(token.get("uid", ""))
    if module == "cdrs" and data.get("credit"):
        await _credit_cdr(session, data)
        return
    payment = (await session.exec(select(Payment).where(Payment.token_uid == uid))).first()
    if payment is None:
        log.info("%s for unknown ad hoc token %s ignored", module, uid)
        return
    if module == "sessions":
        await _session_update(session, payment, data)
    else:
        await _cdr(session, ctx, payment, data)
    session.add(payment)


async def _session_update(session: AsyncSession, payment: Payment, data: dict[str, Any]) -> None:
    payment.session_id = str(data.get("id"))
    status = data.get("status")
    if payment.status in (S.AUTHORIZED, S.STARTING) and status in ("PENDING", "ACTIVE"):
        _touch(payment, S.CHARGING)
    if status in ("COMPLETED", "INVALID") and payment.status in (
        S.AUTHORIZED,
        S.STARTING,
        S.CHARGING,
        S.STOPPING,
    ):
        _touch(payment, S.AWAITING_CDR)
    if payment.status in (S.STARTING, S.CHARGING):
        # What the driver would pay if the session ended now: the shown tariff's price of the
        # Session so far (the CPO's total_cost when the hub has no copy of that tariff).
        cost = running_price(payment, data, await location_time_zone(session, payment))
        if cost is None:
            cost = price_minor(data.get("total_cost"), payment.currency)
        limit = payment.amount_capturable or payment.hold_amount
        if cost >= limit * STOP_AT:
            await enqueue(
                session,
                payment,
                JobKind.STOP,
                f"stop-{payment.public_id}",
                reason="The running cost reached the amount held",
            )


async def _cdr(
    session: AsyncSession, ctx: HubContext, payment: Payment, data: dict[str, Any]
) -> None:
    if payment.cdr_id is not None and payment.cdr_id != str(data.get("id")):
        log.warning("second CDR %s for payment %s ignored", data.get("id"), payment.public_id)
        return
    settlement = settle_cdr(payment, data, await location_time_zone(session, payment))
    price = settlement.price
    payment.cdr_id = str(data.get("id"))
    payment.session_id = payment.session_id or data.get("session_id")
    payment.price = price
    payment.cpo_price = settlement.cpo_price
    if settlement.flag is not None and settlement.flag not in (payment.note or ""):
        # (Not again when the CPO sends the same CDR twice.)
        _flag(payment, settlement.flag)
        ctx.metrics.payments.labels("price_differs").inc()
        log.warning("payment %s: %s", payment.public_id, settlement.flag)
    if payment.status in S.FINAL:
        return
    _touch(payment, S.CAPTURING)
    if price > 0:
        await enqueue(
            session, payment, JobKind.CAPTURE, f"capture-{payment.public_id}", amount=price
        )
    else:
        await enqueue(session, payment, JobKind.CANCEL, f"cancel-{payment.public_id}")
    # Single use: the token is spent.
    await _save_token(session, ctx.settings, payment, valid=False)


async def _credit_cdr(session: AsyncSession, data: dict[str, Any]) -> None:
    """A credit CDR (mod_cdrs, "Credit CDRs") refunds what the referenced CDR cost."""
    reference = str(data.get("credit_reference_id") or "")
    payment = (await session.exec(select(Payment).where(Payment.cdr_id == reference))).first()
    if payment is None:
        log.info("credit CDR %s references unknown CDR %s", data.get("id"), reference)
        return
    amount = abs(price_minor(data.get("total_cost"), payment.currency))
    if payment.cpo_price and payment.price is not None and payment.cpo_price != payment.price:
        # The driver paid the shown price, not the CPO's: credit the same share of what they
        # paid (all of it for a credit of the whole CDR).
        share = Decimal(amount) * payment.price / payment.cpo_price
        amount = min(payment.price, int(share.to_integral_value(ROUND_HALF_UP)))
    if amount:
        await enqueue(
            session,
            payment,
            JobKind.REFUND,
            f"credit-{payment.public_id}-{data.get('id')}",
            amount=amount,
            reason=f"Credit CDR {data.get('id')}",
        )


def is_payments_party(settings: Settings, ref: PartyRef | None) -> bool:
    return ref is not None and ref == emsp_ref(settings)


# --- Command results (from the relay) --------------------------------------------------------


async def command_result(
    session: AsyncSession, ctx: HubContext, callback: Callback, body: dict[str, Any]
) -> None:
    """The CPO's CommandResult for a command the hub's eMSP sent (the relay's caller commits)."""
    public_id = callback.original_url.removeprefix(INTERNAL_URL)
    payment = await by_public_id(session, public_id)
    if payment is None:
        return
    result = str(body.get("result"))
    if callback.action == CommandType.START_SESSION.value:
        if result != "ACCEPTED" and payment.status in (S.AUTHORIZED, S.STARTING):
            _touch(payment, note=f"The charger did not start ({result})")
            await enqueue(session, payment, JobKind.CANCEL, f"cancel-{payment.public_id}")
    elif callback.action == CommandType.STOP_SESSION.value and result != "ACCEPTED":
        _touch(payment, note=f"The charger did not confirm the stop ({result})")
    session.add(payment)


async def authorize_local(session: AsyncSession, uid: str) -> str:
    """Real-time authorization of a token of the hub's own eMSP (AllowedType)."""
    payment = (await session.exec(select(Payment).where(Payment.token_uid == uid))).first()
    if payment is None:
        return "NOT_ALLOWED"
    if payment.status in (S.AUTHORIZED, S.STARTING, S.CHARGING):
        return "ALLOWED"
    return "EXPIRED"


def local_provider(provider: PaymentProvider) -> LocalProvider | None:
    return provider if isinstance(provider, LocalProvider) else None
