"""A payment's status only moves forward (app/payments/status.py), without a server."""

from __future__ import annotations

import pytest

from app.payments.models import Payment
from app.payments.models import PaymentStatus as S
from app.payments.status import ALLOWED, PATH, BackwardMove, advance, flag, may_move, touch


def payment(status: str = S.CREATED) -> Payment:
    return Payment(
        public_id="p1",
        provider="local",
        cpo_country_code="NL",
        cpo_party_id="CPA",
        location_id="LOC1",
        evse_uid="E1",
        connector_id="1",
        currency="EUR",
        hold_amount=5000,
        token_uid="VRP1",
        status=status,
    )


def test_the_drivers_path_moves_forward_step_by_step() -> None:
    p = payment()
    for step in PATH[1:]:
        advance(p, step)
        assert p.status == step
        assert p.finished_at is None
    advance(p, S.CAPTURED)
    assert p.status == S.CAPTURED and p.finished_at is not None


def test_steps_may_be_skipped_but_never_taken_back() -> None:
    p = payment(S.STARTING)
    advance(p, S.AWAITING_CDR)  # the Session was reported COMPLETED at once
    with pytest.raises(BackwardMove):
        advance(p, S.CHARGING)
    assert p.status == S.AWAITING_CDR
    with pytest.raises(BackwardMove):
        advance(p, S.CREATED)


@pytest.mark.parametrize("final", [S.CAPTURED, S.CANCELED])
def test_an_ending_is_final(final: str) -> None:
    p = payment(S.CAPTURING)
    advance(p, final, "done")
    finished = p.finished_at
    for other in (*PATH, S.CAPTURED, S.CANCELED, S.FAILED):
        if other != final:
            with pytest.raises(BackwardMove):
                advance(p, other)
    assert p.status == final and p.note == "done" and p.finished_at == finished


def test_every_live_step_may_end() -> None:
    for step in PATH:
        for final in S.FINAL:
            assert may_move(step, final)


def test_only_an_admins_retry_leaves_failed() -> None:
    assert ALLOWED[S.FAILED] == {S.CAPTURING, S.AUTHORIZED}
    p = payment(S.CAPTURING)
    advance(p, S.FAILED, "capture failed")
    advance(p, S.CAPTURING)  # the retry
    advance(p, S.CAPTURED)
    p = payment(S.FAILED)
    for other in (S.CREATED, S.STARTING, S.CHARGING, S.CANCELED, S.CAPTURED):
        with pytest.raises(BackwardMove):
            advance(p, other)


def test_staying_is_no_move_and_keeps_the_note_unless_given() -> None:
    p = payment(S.CHARGING)
    touch(p, "running")
    advance(p, S.CHARGING)
    assert p.status == S.CHARGING and p.note == "running"


def test_flag_adds_a_line_once() -> None:
    p = payment(S.CAPTURING)
    flag(p, "price differs")
    flag(p, "shortfall")
    flag(p, "price differs")
    assert p.note == "price differs | shortfall"
    touch(p, "x" * 600)
    assert p.note is not None and len(p.note) == 512
