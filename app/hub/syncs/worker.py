"""The loop of a serving instance that takes queued sync jobs and runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.hub.context import HubContext
from app.hub.syncs import service as syncs

log = logging.getLogger("voltroam.syncs")

# Pulls run side by side per instance (each walks one partner's pages).
CONCURRENCY = 2


class SyncWorker:
    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False

    def wake(self) -> None:
        """A job was queued in this process: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name="sync-jobs")

    async def stop(self) -> None:
        """The loop ends after its current round (not in the middle of a claim); pulls under
        way are abandoned and their jobs released to the queue (or taken again by another
        instance when their leases run out)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        running = list(self._running)
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if running:
            with contextlib.suppress(Exception):
                await syncs.release(self.ctx)

    async def _loop(self) -> None:
        poll = self.ctx.settings.sync_poll_seconds
        while not self._stopping:
            try:
                room = CONCURRENCY - len(self._running)
                if room > 0:
                    for job_id in await syncs.claim(self.ctx, room):
                        task = asyncio.create_task(self._run(job_id), name=f"sync-{job_id}")
                        self._running.add(task)
                        task.add_done_callback(self._done)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the loop for good
                log.exception("sync jobs round failed")
            if self._stopping:
                return
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)

    async def _run(self, job_id: int) -> None:
        try:
            await syncs.run(self.ctx, job_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # its lease runs out and it is taken again
            log.exception("sync job %s could not be recorded", job_id)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()
