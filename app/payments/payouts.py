"""Paying partner CPOs their share through Stripe Connect: a transfer after the capture, a
transfer reversal after each refund, as durable jobs with deterministic idempotency keys.

The transfer job is queued in the transaction that books the capture (app/payments/ledger.py)
when the CPO has a connected account; its key is ``voltroam-transfer-{payment}``, its amount and
destination fixed then. A refund queues a reversal of the CPO's share of it, keyed by the refund
job. A lost answer is retried with the same key (the provider answers the first result); a
provider that no longer knows the key is asked for the payment's transfer group before a second
transfer could be made. Without a connected account the ledger alone says what is owed.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.settings import Settings
from app.hub.context import HubContext
from app.ocpi.headers import PartyRef
from app.payments import ledger
from app.payments.models import JobKind, JobStatus, Payment, PaymentJob
from app.payments.provider import PaymentProvider, ProviderError
from app.payments.records import Retry, enqueue


def transfer_key(payment: Payment) -> str:
    return f"voltroam-transfer-{payment.public_id}"


def transfer_group(payment: Payment) -> str:
    return f"voltroam-{payment.public_id}"


async def after_capture(
    session: AsyncSession, settings: Settings, payment: Payment, booked: ledger.Booked
) -> None:
    """Queue the transfer of the CPO's share when it has a connected account."""
    if booked.cpo_share <= 0:
        return
    cpo = PartyRef(payment.cpo_country_code, payment.cpo_party_id)
    terms = await ledger.fee_terms(session, settings, cpo)
    if not terms.connect_account_id:
        return
    # The destination is fixed now (``reason``): a later change of the CPO's account does not
    # redirect a transfer already owed.
    await enqueue(
        session,
        payment,
        JobKind.TRANSFER,
        transfer_key(payment),
        amount=booked.cpo_share,
        reason=terms.connect_account_id,
    )


async def _transfer_job(session: AsyncSession, payment: Payment) -> PaymentJob | None:
    return (
        await session.exec(
            select(PaymentJob)
            .where(PaymentJob.payment_id == payment.id, PaymentJob.kind == JobKind.TRANSFER)
            .order_by(col(PaymentJob.id))
        )
    ).first()


async def after_refund(
    session: AsyncSession, payment: Payment, refund: PaymentJob, booked: ledger.Booked
) -> None:
    """Queue the reversal of the CPO's share of a refund, when its share was transferred (or is
    about to be)."""
    if booked.cpo_share <= 0:
        return
    transfer = await _transfer_job(session, payment)
    if transfer is None or transfer.status == JobStatus.FAILED:
        return
    await enqueue(
        session,
        payment,
        JobKind.TRANSFER_REVERSAL,
        f"voltroam-transfer-reversal-{payment.public_id}-{refund.id}",
        amount=booked.cpo_share,
        reason=f"Refund {refund.id}",
    )


async def run_transfer(
    ctx: HubContext,
    session: AsyncSession,
    provider: PaymentProvider,
    job: PaymentJob,
    payment: Payment,
) -> dict[str, Any]:
    amount = job.amount or 0
    destination = job.reason or ""
    if amount <= 0 or not destination:
        return {"skipped": "nothing to transfer"}
    group = transfer_group(payment)
    transfer_id = None
    if job.attempts > 1 or job.last_error:
        # A retry (or an admin's retry of a failed job): the first attempt may have transferred and lost the answer, and the provider
        # forgets idempotency keys after a day. Ask before sending again.
        transfer_id = await provider.find_transfer(group)
    if transfer_id is None:
        try:
            transfer_id = await provider.transfer(
                amount, payment.currency, destination, group, job.idempotency_key
            )
        except ProviderError as exc:
            if exc.retryable:
                raise
            # Refused: perhaps because this key was used for it already. A transfer of this
            # payment's group is that transfer.
            found = await provider.find_transfer(group)
            if found is None:
                raise
            transfer_id = found
    await ledger.book_transfer(session, payment, amount, job.idempotency_key, transfer_id)
    ctx.metrics.transfers.labels("transferred").inc()
    return {"transfer": transfer_id, "amount": amount, "destination": destination}


async def run_reversal(
    ctx: HubContext,
    session: AsyncSession,
    provider: PaymentProvider,
    job: PaymentJob,
    payment: Payment,
) -> dict[str, Any]:
    transfer = await _transfer_job(session, payment)
    if transfer is None or transfer.status == JobStatus.FAILED:
        return {"skipped": "no transfer to take back"}
    if transfer.status != JobStatus.DONE:
        raise Retry("the transfer is not done yet")
    transfer_id = str(transfer.result.get("transfer") or "")
    left = await ledger.transferred(session, payment)
    amount = min(job.amount or 0, left)
    if amount <= 0 or not transfer_id:
        return {"skipped": "nothing left to take back"}
    reversal_id = None
    if job.attempts > 1 or job.last_error:
        # A retry: the first attempt may have reversed and lost the answer, and the provider
        # forgets idempotency keys after a day. Its transfer's amount_reversed tells.
        booked = await ledger.reversed_amount(session, payment)
        if await provider.transfer_reversed(transfer_id) >= booked + amount:
            reversal_id = f"{transfer_id}:reversed"
    if reversal_id is None:
        reversal_id = await provider.reverse_transfer(transfer_id, amount, job.idempotency_key)
    await ledger.book_transfer(session, payment, -amount, job.idempotency_key, reversal_id)
    ctx.metrics.transfers.labels("reversed").inc()
    return {"reversal": reversal_id, "transfer": transfer_id, "amount": amount}
