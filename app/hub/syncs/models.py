"""The table of sync jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from app.core.dbtypes import JSONDoc, UTCDateTime, utcnow


class SyncState:
    PENDING = "pending"  # queued, no instance has it
    RUNNING = "running"  # an instance (``holder``) has it while its lease lasts
    DONE = "done"
    FAILED = "failed"  # ``error`` says why

    OPEN = (PENDING, RUNNING)


class SyncReason:
    REGISTRATION = "registration"  # a CPO registered (any path) or updated its credentials
    ADMIN = "admin"  # POST /admin/platforms/{id}/sync
    CLI = "cli"  # voltroam party sync


class SyncJob(SQLModel, table=True):
    """One pull of a CPO platform's Locations and Tariffs (app/hub/sync.py).

    Queued in the transaction that calls for it (a registration), taken by one instance with a
    conditional UPDATE, its lease renewed with every page; when the instance dies the lease runs
    out and another instance takes the job again.
    """

    __tablename__ = "sync_job"
    __table_args__ = (Index("ix_sync_job_state", "state", "lease_until"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("platform.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    reason: str = Field(max_length=16)
    state: str = Field(default=SyncState.PENDING, max_length=12)
    # How many times an instance took it (more than once: an instance died holding it).
    attempts: int = 0
    holder: str | None = Field(default=None, max_length=32)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Progress per module: {"locations": {"pages", "objects", "total", "stored", "ignored",
    # "done", "error"}, "tariffs": {...}}.
    modules: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDoc, nullable=False))
    error: str | None = Field(default=None, max_length=1024)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
