"""The version of the parties' table rows, raised by database triggers (migration 0018)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel


class PartiesVersion(SQLModel, table=True):
    """One row (id 1): ``value`` goes up in every transaction that writes what authentication
    and routing read from ``platform``, ``platform_role`` or ``platform_party`` (a token, a
    status, endpoints, roles), whoever writes it: this process, another instance, the command
    line or plain SQL. ``last_seen_at`` and ``updated_at`` alone do not count."""

    __tablename__ = "parties_version"

    id: int = Field(primary_key=True)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


# The platform columns whose change raises the version (migration 0018 names them in its
# triggers: a column added to ``platform`` goes in one of these two sets, and a migration
# recreates the triggers when it is watched; tests/hub/test_directory.py checks both).
WATCHED_PLATFORM_COLUMNS = frozenset(
    {
        "name",
        "status",
        "registered",
        "initiated_by",
        "local",
        "versions_url",
        "version",
        "endpoints",
        "inbound_token_hash",
        "inbound_token_kind",
        "inbound_token_expires_at",
        "outbound_token",
        "offline_since",
        "declared_role",
        "time_zone",
        "vat",
    }
)
UNWATCHED_PLATFORM_COLUMNS = frozenset({"id", "created_at", "updated_at", "last_seen_at"})
