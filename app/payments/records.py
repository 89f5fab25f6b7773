"""Reading payments and queueing their jobs: what every part of a payment's life uses."""

from __future__ import annotations

import logging

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.settings import Settings
from app.ocpi.headers import PartyRef
from app.payments.models import Payment, PaymentJob

log = logging.getLogger("voltroam.payments")


class PaymentError(Exception):
    """A driver's request that cannot go on; ``status`` is the HTTP status of the page."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Retry(Exception):
    """A job that cannot be done yet (its precondition is not there): try again later."""


def cpo_ref(payment: Payment) -> PartyRef:
    return PartyRef(payment.cpo_country_code, payment.cpo_party_id)


def emsp_ref(settings: Settings) -> PartyRef:
    """The hub's own eMSP, the one that issues the ad hoc tokens drivers pay for."""
    return PartyRef.of(settings.payments_emsp_country_code, settings.payments_emsp_party_id)


async def by_public_id(session: AsyncSession, public_id: str) -> Payment | None:
    return (await session.exec(select(Payment).where(Payment.public_id == public_id))).first()


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
