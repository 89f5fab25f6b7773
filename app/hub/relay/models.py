"""Asynchronous results the hub relays: every response_url it replaced with its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from app.core.dbtypes import JSONDoc, UTCDateTime, utcnow


class CallbackStatus:
    WAITING = "waiting"  # the requester waits for the receiver's asynchronous result
    ANSWERED = "answered"
    TIMED_OUT = "timed_out"


class Callback(SQLModel, table=True):
    """A request forwarded with ``response_url`` rewritten to the hub's own URL.

    Kept in the database so that a result arriving after a hub restart still reaches the
    requester's original ``response_url``.
    """

    __tablename__ = "callback"
    __table_args__ = (
        Index("ix_callback_waiting", "status", "expires_at"),
        Index("ix_callback_subject", "kind", "subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The id in the hub's response_url: unguessable, so only the receiver that was given the
    # URL can post a result to it.
    public_id: str = Field(max_length=64, unique=True, index=True)
    kind: str = Field(max_length=24)  # "command" | "chargingprofile"
    action: str = Field(max_length=32)  # START_SESSION, ..., or GET/PUT/DELETE
    # What the request was about: a session id, a reservation id, a location id.
    subject: str | None = Field(default=None, max_length=64)
    requester_platform_id: int | None = Field(default=None)
    requester_country_code: str = Field(max_length=2)
    requester_party_id: str = Field(max_length=3)
    receiver_platform_id: int | None = Field(default=None)
    receiver_country_code: str = Field(max_length=2)
    receiver_party_id: str = Field(max_length=3)
    original_url: str = Field(max_length=512)
    status: str = Field(default=CallbackStatus.WAITING, max_length=12)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    results: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONDoc, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
