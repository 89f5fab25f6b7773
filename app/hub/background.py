"""The hub's background work: delivery, still-alive checks, sync jobs (pulls of CPOs)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.hub.alive import check_platforms
from app.hub.cluster import service as cluster
from app.hub.context import HubContext
from app.hub.outbox.worker import DeliveryWorker
from app.hub.relay.service import expire_due
from app.hub.syncs.worker import SyncWorker

log = logging.getLogger("voltroam.background")


class Background:
    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self.worker = DeliveryWorker(ctx)
        self.syncs = SyncWorker(ctx)
        self._alive: asyncio.Task[None] | None = None
        self._timeouts: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    def start(self) -> None:
        settings = self.ctx.settings
        self.ctx.notify_outbox = self.worker.wake
        self.ctx.notify_syncs = self.syncs.wake
        if settings.delivery_enabled:
            self.worker.start()
            self.ctx.deliver_claimed = self.worker.take
        self.syncs.start()
        if settings.alive_check_interval_seconds > 0:
            self._alive = asyncio.create_task(self._alive_loop(), name="still-alive")
        self._timeouts = asyncio.create_task(self._timeout_loop(), name="command-timeouts")
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="instance-heartbeat")

    async def stop(self) -> None:
        self.ctx.deliver_claimed = None
        await self.worker.stop()
        await self.syncs.stop()
        tasks = [t for t in (self._alive, self._timeouts, self._heartbeat) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _alive_loop(self) -> None:
        interval = self.ctx.settings.alive_check_interval_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                # One instance of the cluster checks (it keeps the lease while it runs).
                if await cluster.take_lease(self.ctx, "still-alive", interval * 2 + 10):
                    await check_platforms(self.ctx)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("still-alive round failed")

    async def _heartbeat_loop(self) -> None:
        """Renew this instance's lease: what it holds (its chargers) stays its own."""
        while True:
            await asyncio.sleep(self.ctx.settings.instance_heartbeat_seconds)
            try:
                await cluster.announce(self.ctx)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("instance heartbeat failed")

    async def _timeout_loop(self) -> None:
        """Commands whose CPO never sent a result become TIMEOUT results for the eMSP."""
        while True:
            await asyncio.sleep(self.ctx.settings.command_timeout_check_seconds)
            try:
                await expire_due(self.ctx)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("command timeout round failed")
