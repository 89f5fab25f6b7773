"""The outbox: every push the hub owes a partner, written in the transaction of its object."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, text
from sqlmodel import Field, SQLModel

from app.core.dbtypes import JSONDoc, UTCDateTime, utcnow


class DeliveryStatus:
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    # Final: the receiver refused (2xxx), or every retry failed.
    FAILED = "failed"
    # A newer full version for the same receiver and object was queued before this one left.
    SUPERSEDED = "superseded"
    # The receiver went OFFLINE or unregistered; it is brought up to date when it is back.
    DROPPED = "dropped"

    OPEN = (PENDING, SENDING)


class Delivery(SQLModel, table=True):
    __tablename__ = "delivery"
    # Partial indexes hold the open rows only, so the claim costs what the queue holds, not what
    # the table has delivered over time (migration 0015).
    __table_args__ = (
        # The claim's candidates: pending rows, due first.
        Index(
            "ix_delivery_pending_due",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # Whether an earlier row of the same receiver and object is still open; superseding.
        Index(
            "ix_delivery_open_order",
            "platform_id",
            "object_ref",
            "id",
            postgresql_where=text("status IN ('pending', 'sending')"),
            sqlite_where=text("status IN ('pending', 'sending')"),
        ),
        # Rows in flight: whose lease ran out, or whose instance is gone.
        Index(
            "ix_delivery_sending",
            "leased_by",
            "lease_until",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(
        sa_column=Column(Integer, ForeignKey("platform.id", ondelete="CASCADE"), nullable=False)
    )
    module: str = Field(max_length=16)
    method: str = Field(max_length=8)
    # Appended to the receiver's endpoint URL for the module, e.g. "NL/CPO/LOC1/EVSE1".
    path: str = Field(default="", max_length=512)
    query: str = Field(default="", max_length=255)
    # A full URL given by the receiver itself (a response_url): used instead of its endpoint.
    url: str | None = Field(default=None, max_length=512)
    # Deliveries with the same receiver and object_ref leave strictly in id order.
    object_ref: str = Field(max_length=160)
    body: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONDoc, nullable=True))
    from_country_code: str | None = Field(default=None, max_length=2)
    from_party_id: str | None = Field(default=None, max_length=3)
    to_country_code: str | None = Field(default=None, max_length=2)
    to_party_id: str | None = Field(default=None, max_length=3)
    correlation_id: str | None = Field(default=None, max_length=64)
    # The X-Request-ID of this push, fixed when it is queued: every attempt (by any instance)
    # sends the same one, so the receiver can tell a repeat. None only on rows queued before
    # migration 0008 that had left by then.
    request_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default=DeliveryStatus.PENDING, max_length=12)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The hub instance (hub_instance.id) whose worker holds the lease: when that instance is
    # gone, the row is taken again at once rather than when the lease ends.
    leased_by: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=512)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
