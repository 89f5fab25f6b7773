"""A payment's status: the one place that changes it, and the rule it keeps.

"Each step only moves forward" (PaymentStatus): events and jobs may arrive twice or in any order,
so every change goes through ``advance``, which allows exactly the moves in ``ALLOWED`` and raises
``BackwardMove`` for any other. Along the driver's path a payment moves to any later step (a step
may be skipped: a Session reported COMPLETED at once goes from STARTING to AWAITING_CDR) or ends
(CAPTURED, CANCELED, FAILED). An ending is final, with one exception: an admin's retry of a
failed job takes a FAILED payment back to where that job started (``RETRY``).
"""

from __future__ import annotations

from app.core.dbtypes import utcnow
from app.payments.models import Payment
from app.payments.models import PaymentStatus as S
from app.payments.pricing import NOTE_SEPARATOR

# The driver's path, in order.
PATH = (S.CREATED, S.AUTHORIZED, S.STARTING, S.CHARGING, S.STOPPING, S.AWAITING_CDR, S.CAPTURING)
# Where an admin's retry of a failed job takes a FAILED payment: back before the capture (or
# cancel) of its CDR, or to the hold before charging.
RETRY = frozenset({S.CAPTURING, S.AUTHORIZED})

# status -> the statuses it may move to.
ALLOWED: dict[str, frozenset[str]] = {
    **{step: frozenset(PATH[i + 1 :]) | frozenset(S.FINAL) for i, step in enumerate(PATH)},
    S.CAPTURED: frozenset(),
    S.CANCELED: frozenset(),
    S.FAILED: RETRY,
}
# Longest note kept (the column's size).
NOTE_LENGTH = 512


class BackwardMove(ValueError):
    """A change of status the rule does not allow."""


def may_move(current: str, new: str) -> bool:
    return new == current or new in ALLOWED.get(current, frozenset())


def advance(payment: Payment, status: str, note: str | None = None) -> None:
    """Move the payment to ``status`` (staying is no move), with an optional note."""
    if not may_move(payment.status, status):
        raise BackwardMove(f"payment {payment.public_id}: {payment.status} -> {status}")
    payment.status = status
    if status in S.FINAL and payment.finished_at is None:
        payment.finished_at = utcnow()
    touch(payment, note)


def touch(payment: Payment, note: str | None = None) -> None:
    """Record a change that is not a move (a note replaces the previous one)."""
    if note is not None:
        payment.note = note[:NOTE_LENGTH]
    payment.updated_at = utcnow()


def flag(payment: Payment, note: str) -> None:
    """Add a line for the admins (a note flags the payment: GET /admin/payments?flagged=true)
    without losing the one already there; a line it already has is not added again."""
    if payment.note and note in payment.note:
        touch(payment)
        return
    if payment.note:
        note = f"{payment.note}{NOTE_SEPARATOR}{note}"
    touch(payment, note)
