"""Sessions that outlast the card's hold.

A card hold runs out (about 7 days for online card payments; Stripe says when in the charge's
``capture_before``, kept as ``Payment.hold_expires_at``). Whatever the charger does, the hub must
not lose the right to charge for the energy delivered, so before then:

* PAYMENT_HOLD_STOP_HOURS before: a session still going on is stopped (STOP_SESSION, the same
  job and key as the driver's stop button);
* PAYMENT_HOLD_CAPTURE_HOURS before, when the CDR has not come: what is due so far is captured
  (the shown tariff's price of the Session as last reported; nothing reported: the hold is
  released);
* a CDR that comes after such a capture settles the difference: what was taken above the CDR's
  price is refunded (a REFUND job), what could not be taken is flagged as a shortfall.

``check_holds`` takes the time as an argument: the runner passes the clock, tests their own.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub.context import HubContext
from app.hub.store import service as store
from app.payments.models import JobKind, Payment
from app.payments.models import PaymentStatus as S
from app.payments.pricing import location_time_zone, price_minor, running_price
from app.payments.records import cpo_ref, enqueue
from app.payments.status import advance, flag

log = logging.getLogger("voltroam.payments")

# Statuses in which a payment still waits for its capture.
WAITING = (S.STARTING, S.CHARGING, S.STOPPING, S.AWAITING_CDR)
EARLY = "early"  # the reason of a capture made before the hold ran out


async def due_so_far(session: AsyncSession, payment: Payment, now: datetime) -> int:
    """What the driver owes for the Session as the CPO last reported it (minor units)."""
    if not payment.session_id:
        return 0
    row = await store.get(session, "sessions", cpo_ref(payment), payment.session_id)
    if row is None:
        return 0
    data = row.data
    tz = await location_time_zone(session, payment)
    ended = bool(data.get("end_date_time"))
    due = running_price(payment, data, tz, None if ended else now)
    if due is None:
        due = price_minor(data.get("total_cost"), payment.currency)
    return max(0, due)


async def check_holds(ctx: HubContext, now: datetime | None = None) -> int:
    """Stop and capture the payments whose holds run out soon; answers how many were acted on."""
    now = now or utcnow()
    settings = ctx.settings
    stop_at = now + timedelta(hours=settings.payment_hold_stop_hours)
    capture_at = now + timedelta(hours=settings.payment_hold_capture_hours)
    acted = 0
    async with ctx.sessions() as session:
        rows = (
            await session.exec(
                select(Payment).where(
                    col(Payment.status).in_(WAITING),
                    col(Payment.hold_expires_at).is_not(None),
                    col(Payment.hold_expires_at) <= max(stop_at, capture_at),
                )
            )
        ).all()
        for payment in rows:
            assert payment.hold_expires_at is not None
            expires = payment.hold_expires_at
            if payment.status in (S.STARTING, S.CHARGING) and expires <= stop_at:
                queued = await enqueue(
                    session,
                    payment,
                    JobKind.STOP,
                    f"stop-{payment.public_id}",
                    reason="The card's hold runs out soon",
                )
                acted += queued is not None
            if expires <= capture_at:
                acted += await _capture_early(session, payment, now)
            session.add(payment)
        await session.commit()
    return acted


async def _capture_early(session: AsyncSession, payment: Payment, now: datetime) -> int:
    due = min(
        await due_so_far(session, payment, now), payment.amount_capturable or payment.hold_amount
    )
    advance(payment, S.CAPTURING)
    if due > 0:
        job = await enqueue(
            session,
            payment,
            JobKind.CAPTURE,
            f"capture-{payment.public_id}",
            amount=due,
            reason=EARLY,
        )
        flag(
            payment,
            "Captured what was due before the card's hold ran out; the CDR settles the rest",
        )
        log.info("payment %s: %s captured before its hold runs out", payment.public_id, due)
    else:
        job = await enqueue(session, payment, JobKind.CANCEL, f"cancel-{payment.public_id}")
        flag(payment, "The card's hold ran out before the CPO reported any charging")
    return int(job is not None)


async def settle_late_cdr(session: AsyncSession, payment: Payment) -> None:
    """A CDR priced after an early capture: refund what was taken above its price, flag what
    could not be taken (the caller commits)."""
    if payment.price is None:
        return
    excess = payment.amount_captured - payment.price
    if excess > 0:
        await enqueue(
            session,
            payment,
            JobKind.REFUND,
            f"settle-{payment.public_id}",
            amount=excess,
            reason="The CDR's price is below what was captured before the hold ran out",
        )
    elif excess < 0:
        payment.shortfall = -excess
        flag(
            payment,
            f"The CDR's price ({payment.price}) is above what was captured before the hold ran "
            f"out ({payment.amount_captured}): {payment.shortfall} could not be charged",
        )
