"""Durable jobs of a payment: confirm the hold, start and stop charging, capture, cancel, refund.

Jobs (``PaymentJob``) are written in the same transaction as the fact that calls for them and run
in ``run_due_jobs``: leased with a conditional UPDATE (one instance runs each), retried with
backoff, and every provider call carries the job's deterministic idempotency key, so a crash
between the provider's answer and our commit never charges twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.core.settings import Settings
from app.hub.context import HubContext
from app.ocpi.errors import OcpiError
from app.ocpi.schemas.commands import CommandType
from app.payments import emsp, invoices, ledger, long_sessions, payouts
from app.payments.models import JobKind, JobStatus, Payment, PaymentJob
from app.payments.models import PaymentStatus as S
from app.payments.provider import (
    Intent,
    PaymentProvider,
    ProviderError,
)
from app.payments.records import PaymentError, Retry, enqueue
from app.payments.status import advance, flag, touch

log = logging.getLogger("voltroam.payments")

# Jobs of different payments run side by side (a capture waits on the provider's network);
# the jobs of one payment run one after the other, in the order they were queued (on another
# instance, a job of the same payment waits for the payment row's lock: run_job).
JOB_CONCURRENCY = 8


# The poll of every instance (every PAYMENT_JOBS_POLL_SECONDS, nearly always finding nothing),
# built once: building the statement cost more CPU than running it. Bound per poll: now, limit.
_DUE = (
    select(PaymentJob.id, PaymentJob.payment_id)
    .where(
        PaymentJob.status == JobStatus.PENDING,
        col(PaymentJob.next_attempt_at) <= bindparam("now"),
        or_(col(PaymentJob.lease_until).is_(None), col(PaymentJob.lease_until) < bindparam("now")),
    )
    .order_by(col(PaymentJob.id))
    .limit(bindparam("limit"))
)


async def claim_jobs(ctx: HubContext, limit: int = 50) -> list[tuple[int, int]]:
    """Take due jobs (each by one instance only): their ids and their payments' ids."""
    now = utcnow()
    taken: list[tuple[int, int]] = []
    async with ctx.sessions() as session:
        due = (await session.exec(_DUE, params={"now": now, "limit": limit})).all()
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
        # The payment row locked for the whole job (PostgreSQL; SQLite ignores FOR UPDATE and
        # has one instance, whose jobs of a payment run one after the other): two instances
        # may each have taken a job of the same payment, and two refunds run side by side
        # would each add their amount to the amount_refunded they read before the other's
        # commit, recording one of them. The second waits here for the first's commit.
        payment = await session.get(Payment, job.payment_id, with_for_update=True)
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
        advance(payment, S.FAILED, f"{job.kind} failed: {message}")
        ctx.metrics.payments.labels(f"{job.kind}_failed").inc()
    elif job.kind == JobKind.START:
        touch(payment, f"Charging could not start: {message}")
        await enqueue(session, payment, JobKind.CANCEL, f"cancel-{payment.public_id}")
    elif job.kind == JobKind.CONFIRM:
        touch(payment, f"The payment could not be confirmed: {message}")
    else:
        touch(payment, f"{job.kind} failed: {message}")
        ctx.metrics.payments.labels(f"{job.kind}_failed").inc()
        if job.kind in (JobKind.TRANSFER, JobKind.TRANSFER_REVERSAL):
            ctx.metrics.transfers.labels(f"{job.kind}_failed").inc()


async def _execute(
    ctx: HubContext,
    session: AsyncSession,
    provider: PaymentProvider,
    job: PaymentJob,
    payment: Payment,
) -> dict[str, Any]:
    if job.kind == JobKind.CONFIRM:
        return await _confirm(ctx, session, provider, payment)
    if job.kind == JobKind.START:
        return await _start(ctx, session, payment)
    if job.kind == JobKind.STOP:
        return await _stop(ctx, session, payment, job.reason)
    if job.kind == JobKind.CAPTURE:
        return await _capture(ctx, session, provider, job, payment)
    if job.kind == JobKind.CANCEL:
        return await _cancel(ctx, provider, job, payment)
    if job.kind == JobKind.REFUND:
        return await _refund(ctx, session, provider, job, payment)
    if job.kind == JobKind.TRANSFER:
        return await payouts.run_transfer(ctx, session, provider, job, payment)
    if job.kind == JobKind.TRANSFER_REVERSAL:
        return await payouts.run_reversal(ctx, session, provider, job, payment)
    raise ProviderError(f"unknown job kind {job.kind}", retryable=False)


async def _confirm(
    ctx: HubContext, session: AsyncSession, provider: PaymentProvider, payment: Payment
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
        advance(payment, S.CANCELED, "The hold was canceled before charging started")
        return {"intent": intent.status}
    if intent.status != "requires_capture":
        raise Retry(f"the PaymentIntent is {intent.status}, not requires_capture")
    payment.amount_capturable = intent.amount_capturable
    payment.authorized_at = utcnow()
    payment.hold_expires_at = intent.capture_before or payment.authorized_at + timedelta(
        hours=ctx.settings.payment_hold_valid_hours
    )
    advance(payment, S.AUTHORIZED)
    await enqueue(session, payment, JobKind.START, f"start-{payment.public_id}")
    return {"intent": intent.status, "amount_capturable": intent.amount_capturable}


async def _start(ctx: HubContext, session: AsyncSession, payment: Payment) -> dict[str, Any]:
    if payment.status != S.AUTHORIZED:
        return {"skipped": payment.status}
    # STARTING is committed before the command leaves: a job replayed after a crash finds it
    # and never sends a second START_SESSION.
    token = await emsp.save_token(session, ctx.settings, payment, valid=True)
    advance(payment, S.STARTING)
    session.add(payment)
    await session.commit()
    answer = await emsp.send_command(
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
        touch(payment, f"The charger did not start: {text}")
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
    answer = await emsp.send_command(
        ctx, session, payment, CommandType.STOP_SESSION, {"session_id": payment.session_id}
    )
    payment = await _reload(session, payment)
    if answer.result == "ACCEPTED" and payment.status in (S.STARTING, S.CHARGING):
        advance(payment, S.STOPPING, reason)
    elif answer.result != "ACCEPTED":
        touch(payment, f"The charger did not stop: {answer.result}")
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
    ctx: HubContext,
    session: AsyncSession,
    provider: PaymentProvider,
    job: PaymentJob,
    payment: Payment,
) -> dict[str, Any]:
    if payment.status == S.CAPTURED:
        return {"skipped": payment.status}
    if not payment.payment_intent_id:
        raise ProviderError("no PaymentIntent to capture", retryable=False)
    # The CDR's price; before the CDR, what was due when the hold was about to run out
    # (app/payments/long_sessions.py).
    price = payment.price if payment.price is not None else (job.amount or 0)
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
    advance(payment, S.CAPTURED)
    if note is not None:
        flag(payment, note)
    ctx.metrics.payments.labels("captured").inc()
    ctx.metrics.payment_amount.labels(payment.currency).inc(captured)
    if payment.price is not None and captured > payment.price:
        # Captured early, and the CDR came since at a lower price: the rest goes back.
        await long_sessions.settle_late_cdr(session, payment)
    # The books, in the transaction that marks the capture done.
    booked = await ledger.book_capture(
        session, ctx.settings, payment, captured, job.idempotency_key
    )
    await payouts.after_capture(session, ctx.settings, payment, booked)
    await invoices.issue_invoice(session, ctx.settings, payment, captured, job.idempotency_key)
    return {"captured": captured, "price": price, "fee": booked.fee, "cpo_share": booked.cpo_share}


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
    advance(payment, S.CANCELED)
    ctx.metrics.payments.labels("canceled").inc()
    return {"canceled": True}


async def _refund(
    ctx: HubContext,
    session: AsyncSession,
    provider: PaymentProvider,
    job: PaymentJob,
    payment: Payment,
) -> dict[str, Any]:
    if payment.status != S.CAPTURED or not payment.payment_intent_id:
        raise Retry(f"nothing captured yet to refund (payment is {payment.status})")
    amount = min(job.amount or 0, payment.amount_captured - payment.amount_refunded)
    if amount <= 0:
        return {"skipped": "nothing left to refund"}
    refund_id = await provider.refund(payment.payment_intent_id, amount, job.idempotency_key)
    payment.amount_refunded += amount
    touch(payment)
    ctx.metrics.payments.labels("refunded").inc()
    booked = await ledger.book_refund(session, payment, amount, job.idempotency_key, refund_id)
    await payouts.after_refund(session, payment, job, booked)
    await invoices.issue_credit_note(session, ctx.settings, payment, amount, job.idempotency_key)
    return {"refund": refund_id, "amount": amount, "cpo_share": booked.cpo_share}


async def request_refund(
    ctx: HubContext, payment: Payment, amount: int | None, reason: str | None, key: str
) -> PaymentJob | None:
    """An admin's refund (full when ``amount`` is None). Queued once per ``key``."""
    async with ctx.sessions() as session:
        # The payment row locked before anything is read: a refund job that is finishing
        # commits its amount_refunded and its status together, and without the lock this
        # request could read the amount before and the job after, and count that refund
        # nowhere (what is left would be too much). A no-op UPDATE rather than SELECT ... FOR
        # UPDATE, because SQLite has no row locks and pysqlite opens no transaction before a
        # SELECT: each read would be a snapshot of its own. The UPDATE opens the transaction
        # and takes SQLite's write lock (PostgreSQL's row lock), so the reads below see one
        # state and no job commits in between.
        await session.exec(
            update(Payment)
            .where(col(Payment.id) == payment.id)
            .values(id=col(Payment.id))
            .execution_options(synchronize_session=False)
        )
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
