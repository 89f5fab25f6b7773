"""Sync jobs: queueing, taking, running and listing pulls of a CPO's Locations and Tariffs.

- A job is queued in the transaction that calls for it (a CPO's registration, whichever process
  performs it: the hub answering the party's POST, `voltroam party connect`, the admin API, a
  credentials PUT), so no registration is left without its pull and no pull is queued for a
  registration that was rolled back.
- A serving instance takes a job with a conditional UPDATE (state and lease in the WHERE), so of
  several instances on one database exactly one runs it. The lease is renewed with every page;
  a job whose instance died (the lease ran out) is taken again, at most MAX_ATTEMPTS times.
- `voltroam party sync` queues a job already taken by itself and runs it in the foreground; if
  it is killed, a serving instance takes the job when its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub.context import HubContext
from app.hub.parties.models import Platform
from app.hub.sync import ProgressCallback, PullProgress, pull_cpo
from app.hub.syncs.models import SyncJob, SyncReason, SyncState

log = logging.getLogger("voltroam.syncs")

# A job taken this many times by instances that then died is given up (it may be what kills
# them).
MAX_ATTEMPTS = 5


class LostLease(Exception):
    """Another instance took the job (this one did not renew its lease in time)."""


def _lease(ctx: HubContext) -> timedelta:
    return timedelta(seconds=ctx.settings.sync_lease_seconds)


# --- queueing ---------------------------------------------------------------------------------


async def queue(session: AsyncSession, platform_id: int, reason: str) -> SyncJob:
    """Queue a pull of the platform (the caller commits). A job of the platform that has not
    started yet is the same pull: it is returned instead of a second one."""
    waiting = (
        await session.exec(
            select(SyncJob)
            .where(SyncJob.platform_id == platform_id, SyncJob.state == SyncState.PENDING)
            .order_by(col(SyncJob.id))
            .limit(1)
        )
    ).first()
    if waiting is not None:
        return waiting
    job = SyncJob(platform_id=platform_id, reason=reason)
    session.add(job)
    return job


async def queue_after_registration(
    session: AsyncSession, ctx: HubContext, platform_id: int, roles: Iterable[str]
) -> SyncJob | None:
    """A CPO registered (or updated its credentials): queue the pull of its Locations and
    Tariffs in the registration's transaction, unless SYNC_AFTER_REGISTRATION is off."""
    if not ctx.settings.sync_after_registration or "CPO" not in set(roles):
        return None
    return await queue(session, platform_id, SyncReason.REGISTRATION)


async def start(session: AsyncSession, ctx: HubContext, platform_id: int, reason: str) -> SyncJob:
    """A job this process runs itself, now: queued already taken (and committed)."""
    now = utcnow()
    job = SyncJob(
        platform_id=platform_id,
        reason=reason,
        state=SyncState.RUNNING,
        attempts=1,
        holder=ctx.instance_id,
        lease_until=now + _lease(ctx),
        started_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.commit()
    await session.refresh(job)
    return job


# --- taking and running -----------------------------------------------------------------------


def _takeable(now: Any) -> Any:
    """Pending, or running for an instance whose lease ran out; and no other job of the same
    platform running under a live lease (two pulls of one CPO side by side gain nothing)."""
    other = aliased(SyncJob)
    busy = (
        select(other.id)
        .where(
            col(other.platform_id) == col(SyncJob.platform_id),
            col(other.id) != col(SyncJob.id),
            col(other.state) == SyncState.RUNNING,
            col(other.lease_until) >= now,
        )
        .exists()
    )
    return and_(
        or_(
            col(SyncJob.state) == SyncState.PENDING,
            and_(col(SyncJob.state) == SyncState.RUNNING, col(SyncJob.lease_until) < now),
        ),
        ~busy,
    )


def _takeable_by(ctx: HubContext, now: Any) -> Any:
    return _takeable_by_holder(now, ctx.instance_id)


def _takeable_by_holder(now: Any, holder: Any) -> Any:
    # Never a job this instance is still running itself (its lease ran out because the
    # process was too busy to renew it): that would run it twice side by side.
    return and_(
        _takeable(now),
        or_(col(SyncJob.holder).is_(None), col(SyncJob.holder) != holder),
    )


# What every poll of every instance reads (once per SYNC_POLL_SECONDS, nearly always finding
# nothing), built once: building it (an aliased SyncJob, its columns' proxies) cost more CPU
# than running it, and most of an idle hub's CPU. Bound per poll: now, holder, limit.
_DUE = (
    select(SyncJob.id, SyncJob.attempts)
    .where(_takeable_by_holder(bindparam("now"), bindparam("holder")))
    .order_by(col(SyncJob.id))
    .limit(bindparam("limit"))
)


async def claim(ctx: HubContext, limit: int) -> list[int]:
    """Take up to ``limit`` jobs for this instance; each job is taken by one instance only.

    Only reads while there is nothing to take (on SQLite a write, even of no row, takes the
    database's one write lock, which every push needs too).
    """
    now = utcnow()
    taken: list[int] = []
    async with ctx.sessions() as session:
        due = (
            await session.exec(_DUE, params={"now": now, "holder": ctx.instance_id, "limit": limit})
        ).all()
        for job_id, attempts in due:
            if attempts >= MAX_ATTEMPTS:
                # Instances died running it again and again: it may be what kills them.
                await session.exec(
                    update(SyncJob)
                    .where(col(SyncJob.id) == job_id, _takeable_by(ctx, now))
                    .values(
                        state=SyncState.FAILED,
                        error=f"given up: the instance running it stopped {attempts} times",
                        lease_until=None,
                        finished_at=now,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                continue
            result = await session.exec(
                update(SyncJob)
                .where(col(SyncJob.id) == job_id, _takeable_by(ctx, now))
                .values(
                    state=SyncState.RUNNING,
                    holder=ctx.instance_id,
                    lease_until=now + _lease(ctx),
                    attempts=col(SyncJob.attempts) + 1,
                    started_at=now,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1 and job_id is not None:
                taken.append(job_id)
        await session.commit()
    return taken


class _Recorder:
    """The pull's progress callback: writes each module's counts to the job and renews the
    lease; LostLease when the job is no longer this instance's.

    Between pages (a slow partner, a big page to store) ``keep_lease`` renews the lease on its
    own, so that only an instance that stopped loses its jobs.
    """

    def __init__(self, ctx: HubContext, job_id: int, also: ProgressCallback | None) -> None:
        self.ctx = ctx
        self.job_id = job_id
        self.also = also
        self.modules: dict[str, dict[str, Any]] = {}
        self.lost = False

    async def keep_lease(self) -> None:
        interval = self.ctx.settings.sync_lease_seconds / 3
        while not self.lost:
            await asyncio.sleep(interval)
            now = utcnow()
            async with self.ctx.sessions() as session:
                result = await session.exec(
                    update(SyncJob)
                    .where(*_mine(self.ctx, self.job_id))
                    .values(lease_until=now + _lease(self.ctx))
                )
                await session.commit()
            self.lost = result.rowcount != 1

    async def __call__(self, progress: PullProgress) -> None:
        if self.lost:
            raise LostLease()
        self.modules[progress.module] = {
            "pages": progress.pages,
            "objects": progress.objects,
            "total": progress.total,
            "stored": progress.stored,
            "ignored": progress.ignored,
            "done": progress.done,
            "error": progress.error,
        }
        if self.also is not None:
            told = self.also(progress)
            if inspect.isawaitable(told):
                await told
        now = utcnow()
        async with self.ctx.sessions() as session:
            result = await session.exec(
                update(SyncJob)
                .where(*_mine(self.ctx, self.job_id))
                .values(
                    modules=dict(self.modules),
                    lease_until=now + _lease(self.ctx),
                    updated_at=now,
                )
            )
            await session.commit()
        if result.rowcount != 1:
            raise LostLease()


def _mine(ctx: HubContext, job_id: int) -> tuple[Any, ...]:
    return (
        col(SyncJob.id) == job_id,
        col(SyncJob.holder) == ctx.instance_id,
        col(SyncJob.state) == SyncState.RUNNING,
    )


async def run(
    ctx: HubContext, job_id: int, progress: ProgressCallback | None = None
) -> SyncJob | None:
    """Run a job this instance holds; the job as it ended, or None when another instance took
    it meanwhile (it goes on there)."""
    async with ctx.sessions() as session:
        job = await session.get(SyncJob, job_id)
    if job is None or job.holder != ctx.instance_id or job.state != SyncState.RUNNING:
        return None
    recorder = _Recorder(ctx, job_id, progress)
    keeper = asyncio.create_task(recorder.keep_lease(), name=f"sync-{job_id}-lease")
    try:
        report = await pull_cpo(ctx, job.platform_id, recorder)
    except LostLease:
        log.warning("sync job %s was taken over by another instance", job_id)
        return None
    except Exception as exc:  # recorded on the job (and logged), not swallowed
        log.exception("sync job %s failed unexpectedly", job_id)
        error: str | None = f"internal error: {type(exc).__name__}"
    else:
        error = report.refused or "; ".join(report.errors) or None
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await keeper
    ctx.notify_outbox()
    return await _finish(ctx, job_id, recorder.modules, error)


async def _finish(
    ctx: HubContext, job_id: int, modules: dict[str, Any], error: str | None
) -> SyncJob | None:
    now = utcnow()
    async with ctx.sessions() as session:
        result = await session.exec(
            update(SyncJob)
            .where(*_mine(ctx, job_id))
            .values(
                state=SyncState.FAILED if error else SyncState.DONE,
                error=error[:1024] if error else None,
                modules=dict(modules),
                lease_until=None,
                finished_at=now,
                updated_at=now,
            )
        )
        await session.commit()
        if result.rowcount != 1:
            return None
        job = await session.get(SyncJob, job_id, populate_existing=True)
    if job is not None:
        log.info("sync job %s of platform %s %s", job_id, job.platform_id, job.state)
    return job


async def release(ctx: HubContext) -> None:
    """A clean stop: the jobs this instance holds go back to the queue at once (not counted as
    an attempt) instead of waiting for their leases to run out."""
    async with ctx.sessions() as session:
        await session.exec(
            update(SyncJob)
            .where(col(SyncJob.holder) == ctx.instance_id, col(SyncJob.state) == SyncState.RUNNING)
            .values(
                state=SyncState.PENDING,
                holder=None,
                lease_until=None,
                attempts=col(SyncJob.attempts) - 1,
                updated_at=utcnow(),
            )
        )
        await session.commit()


# --- listing ----------------------------------------------------------------------------------


async def listing(
    session: AsyncSession,
    platform_id: int | None = None,
    state: str | None = None,
    limit: int = 100,
) -> list[tuple[SyncJob, str]]:
    """Jobs, newest first, with the name of their platform."""
    query = select(SyncJob, Platform.name).join(
        Platform, col(Platform.id) == col(SyncJob.platform_id)
    )
    if platform_id is not None:
        query = query.where(SyncJob.platform_id == platform_id)
    if state is not None:
        query = query.where(SyncJob.state == state)
    rows = await session.exec(query.order_by(col(SyncJob.id).desc()).limit(limit))
    return [(job, name) for job, name in rows.all()]


async def get(session: AsyncSession, job_id: int) -> tuple[SyncJob, str] | None:
    row = (
        await session.exec(
            select(SyncJob, Platform.name)
            .join(Platform, col(Platform.id) == col(SyncJob.platform_id))
            .where(SyncJob.id == job_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def latest(session: AsyncSession, platform_ids: Sequence[int]) -> dict[int, SyncJob]:
    """The newest job of each of the platforms (those that have one)."""
    if not platform_ids:
        return {}
    newest = (
        select(func.max(SyncJob.id))
        .where(col(SyncJob.platform_id).in_(platform_ids))
        .group_by(col(SyncJob.platform_id))
    )
    ids = [job_id for job_id in (await session.exec(newest)).all() if job_id is not None]
    if not ids:
        return {}
    jobs = (await session.exec(select(SyncJob).where(col(SyncJob.id).in_(ids)))).all()
    return {job.platform_id: job for job in jobs}
