"""Refunds of one payment that overlap: an admin's "refund the rest" while a refund job is
finishing (jobs.request_refund), and two refund jobs run by two instances at once (run_job).

The job commits the payment's ``amount_refunded`` and its own status DONE together. A request
that read the payment before that commit and the pending jobs after it counted the finishing
refund nowhere and offered to refund it a second time (CI saw 500 offered of 350 left). Here the
job's commit is made to land exactly between the request's reads, the window a busy hub hits by
chance.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.util import await_only
from sqlmodel import col, select

from app.hub.context import HubContext
from app.payments import jobs
from app.payments.models import JobKind, JobStatus, Payment, PaymentJob
from app.payments.models import PaymentStatus as S
from app.payments.records import PaymentError, enqueue
from tests.conftest import USE_POSTGRES, running_hub
from tests.payments.test_status import payment as new_payment


async def captured_with_a_refund_queued(ctx: HubContext) -> tuple[Payment, int]:
    async with ctx.sessions() as session:
        payment = new_payment(S.CAPTURED)
        payment.amount_captured = 500
        payment.payment_intent_id = "pi_race"
        session.add(payment)
        await session.flush()
        job = await enqueue(session, payment, JobKind.REFUND, "refund-first", amount=150)
        assert job is not None and job.id is not None
        job_id = job.id
        await session.commit()
        await session.refresh(payment)
        return payment, job_id


async def finish_refund(ctx: HubContext, payment_id: int, job_id: int) -> None:
    """What a refund job commits when Stripe has refunded: the amount and DONE, together."""
    async with ctx.sessions() as session:
        await session.exec(
            update(Payment)
            .where(col(Payment.id) == payment_id)
            .values(amount_refunded=col(Payment.amount_refunded) + 150)
        )
        await session.exec(
            update(PaymentJob).where(col(PaymentJob.id) == job_id).values(status=JobStatus.DONE)
        )
        await session.commit()


async def test_the_rest_is_what_is_left_when_a_refund_finishes_during_the_request(
    database_url: str,
) -> None:
    # The payment worker polls once an hour: only this test runs the job.
    async with running_hub(
        database_url, delivery_enabled=False, payment_jobs_poll_seconds=3600
    ) as hub:
        ctx: HubContext = hub.app.state.hub
        payment, job_id = await captured_with_a_refund_queued(ctx)
        finishing: list[asyncio.Task[None]] = []

        def between_the_reads(
            _conn: Any, _cursor: Any, statement: str, *_args: Any, **_kwargs: Any
        ) -> None:
            # The request is about to read the pending refund jobs: the job finishes now (its
            # commit waits for the request's lock, if the request holds one).
            if finishing or "FROM payment_job" not in statement:
                return
            assert payment.id is not None
            finishing.append(
                asyncio.get_running_loop().create_task(finish_refund(ctx, payment.id, job_id))
            )
            await_only(asyncio.sleep(0.3))

        event.listen(ctx.engine.sync_engine, "before_cursor_execute", between_the_reads)
        try:
            job = await jobs.request_refund(ctx, payment, None, "the rest", "refund-rest")
        finally:
            event.remove(ctx.engine.sync_engine, "before_cursor_execute", between_the_reads)
        assert finishing, "the request read no refund jobs"
        await asyncio.wait_for(finishing[0], 10)
        assert job is not None and job.amount == 350

        async with ctx.sessions() as session:
            row = (await session.exec(select(Payment).where(Payment.id == payment.id))).one()
        assert (row.amount_captured, row.amount_refunded) == (500, 150)
        # Nothing more may be asked for: 150 refunded and 350 queued.
        with pytest.raises(PaymentError) as refused:
            await jobs.request_refund(ctx, payment, 1, None, "refund-more")
        assert refused.value.status == 409


class SlowRefunds:
    """A provider whose refunds take a moment (Stripe's network): the window in which a second
    job of the same payment could read the payment before the first commits."""

    name = "local"
    test_mode = True

    def __init__(self) -> None:
        self.refunds: list[tuple[str, int]] = []

    async def refund(self, intent_id: str, amount: int, idempotency_key: str) -> str:
        await asyncio.sleep(0.2)
        self.refunds.append((intent_id, amount))
        return f"re_{idempotency_key}"


@pytest.mark.skipif(not USE_POSTGRES, reason="several instances need PostgreSQL")
async def test_two_instances_running_refunds_of_one_payment_record_both(
    database_url: str,
) -> None:
    """Two instances may each take a refund job of the same payment. Run side by side, each
    added its amount to the amount_refunded it had read, and the later commit wrote its own sum:
    one refund was made at the provider and recorded nowhere. The second job now waits for the
    first's commit (the payment row is locked for the job)."""
    async with (
        running_hub(database_url, delivery_enabled=False, payment_jobs_poll_seconds=3600) as a,
        running_hub(database_url, delivery_enabled=False, payment_jobs_poll_seconds=3600) as b,
    ):
        first: HubContext = a.app.state.hub
        second: HubContext = b.app.state.hub
        payment, job_id = await captured_with_a_refund_queued(first)
        async with first.sessions() as session:
            row = await session.get(Payment, payment.id)
            assert row is not None
            more = await enqueue(session, row, JobKind.REFUND, "refund-second", amount=200)
            assert more is not None and more.id is not None
            other_id = more.id
            await session.commit()
        provider = SlowRefunds()
        await asyncio.gather(
            jobs.run_job(first, provider, job_id),  # type: ignore[arg-type]
            jobs.run_job(second, provider, other_id),  # type: ignore[arg-type]
        )
        assert sorted(provider.refunds) == [("pi_race", 150), ("pi_race", 200)]
        async with first.sessions() as session:
            row = await session.get(Payment, payment.id)
            done = (
                await session.exec(select(PaymentJob).where(PaymentJob.payment_id == payment.id))
            ).all()
        assert row is not None and row.amount_refunded == 350
        assert sorted((j.amount, j.status) for j in done) == [
            (150, JobStatus.DONE),
            (200, JobStatus.DONE),
        ]
