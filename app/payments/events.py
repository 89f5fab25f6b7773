"""What the payment provider reports (Stripe webhooks, or the local test provider's checkout
page), each event acted on once.

Events may come twice or in any order: each only moves a payment forward, and the work it calls
for is a job with a fixed key (app/payments/jobs.py), written in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.context import HubContext
from app.payments.models import JobKind, Payment, PaymentEvent
from app.payments.models import PaymentStatus as S
from app.payments.records import by_public_id, enqueue
from app.payments.status import advance, touch

log = logging.getLogger("voltroam.payments")


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
            advance(payment, S.CANCELED, "The checkout expired before payment")
    elif kind == "payment_intent.canceled":
        if payment.status not in S.FINAL and payment.amount_captured == 0:
            touch(payment, "The hold was canceled at the payment provider")
            if payment.status in (S.CREATED, S.AUTHORIZED, S.AWAITING_CDR, S.CAPTURING):
                advance(payment, S.CANCELED)
    elif kind == "payment_intent.payment_failed":
        if payment.status == S.CREATED:
            touch(payment, "The card was declined; the driver may try again")
    elif kind == "payment_intent.succeeded":
        received = int(obj.get("amount_received") or 0)
        if received > payment.amount_captured:
            payment.amount_captured = received
        touch(payment)
    elif payment.status == S.CREATED:
        # The hold may be in place: confirm with the provider before starting anything.
        await enqueue(session, payment, JobKind.CONFIRM, f"confirm-{payment.public_id}")
    session.add(payment)
    return kind
