"""Tables of the cluster: running hub instances and leases of work that runs once."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.dbtypes import UTCDateTime, utcnow


class HubInstance(SQLModel, table=True):
    """A running ``voltroam serve``; alive while ``lease_until`` is in the future."""

    __tablename__ = "hub_instance"

    id: str = Field(primary_key=True, max_length=32)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lease_until: datetime = Field(sa_type=UTCDateTime, index=True)


class HubLease(SQLModel, table=True):
    """Scheduled work that one instance at a time does (``name``: the job)."""

    __tablename__ = "hub_lease"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=32)
    lease_until: datetime = Field(sa_type=UTCDateTime)


class HubFact(SQLModel, table=True):
    """A fact about the hub that every instance and command reads from the database.

    ``secret_key_fingerprint``: which key the stored partner tokens are encrypted with.
    ``serving_url``: the URL the last `voltroam serve` started at (what the CLI hands out when
    PUBLIC_URL is not set).
    """

    __tablename__ = "hub_fact"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=2048)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
