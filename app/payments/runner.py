"""The running payments part of an app: its provider, its eMSP (a local party of the hub) and the
loop that runs payment jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from app.hub.context import HubContext
from app.payments import emsp, jobs, long_sessions
from app.payments.provider import PaymentProvider, make_provider

log = logging.getLogger("voltroam.payments")

# How often the runner looks for holds about to run out (app/payments/long_sessions.py).
HOLD_CHECK_SECONDS = 60.0


class Payments:
    def __init__(self, ctx: HubContext, provider: PaymentProvider | None = None) -> None:
        self.ctx = ctx
        # Refuses a live Stripe key with the local test provider (ValueError at start).
        self.provider = provider or make_provider(ctx)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        ctx.local_parties.register(emsp.PaymentsEmsp(ctx))

    @property
    def test_mode(self) -> bool:
        return self.provider.test_mode

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="payment-jobs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        poll = self.ctx.settings.payment_jobs_poll_seconds
        try:
            await emsp.start_up(self.ctx)
        except Exception:
            log.exception("the payments eMSP's platform could not be checked")
        holds_checked = 0.0
        while True:
            try:
                if time.monotonic() - holds_checked >= HOLD_CHECK_SECONDS:
                    holds_checked = time.monotonic()
                    await long_sessions.check_holds(self.ctx)
                while await jobs.run_due_jobs(self.ctx, self.provider):
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("payment jobs round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)
            self._wake.clear()
