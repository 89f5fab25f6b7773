"""parties version: a counter raised by triggers whenever a platform, role or party id changes

Every instance caches what it reads of platforms on each request (the caller behind a token, a
receiver's endpoints and roles) and checks this one row first: a token revoked or rotated, a
platform suspended or its roles changed through any instance, the command line or plain SQL is
seen by every instance on its next request.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# app/hub/directory/models.py WATCHED_PLATFORM_COLUMNS, as of this revision.
WATCHED = (
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
)
BUMP = "UPDATE parties_version SET value = value + 1 WHERE id = 1"
# (trigger name suffix, table, event)
TRIGGERS = (
    ("platform_ins", "platform", "INSERT"),
    ("platform_del", "platform", "DELETE"),
    ("platform_upd", "platform", "UPDATE OF " + ", ".join(WATCHED)),
    ("role_ins", "platform_role", "INSERT"),
    ("role_del", "platform_role", "DELETE"),
    ("role_upd", "platform_role", "UPDATE"),
    ("party_ins", "platform_party", "INSERT"),
    ("party_del", "platform_party", "DELETE"),
    ("party_upd", "platform_party", "UPDATE"),
)


def upgrade() -> None:
    op.create_table(
        "parties_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO parties_version (id, value) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_parties_version() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for suffix, table, event in TRIGGERS:
            # Per statement, BEFORE it touches a row: the counter's row lock is taken before any
            # platform row's, in every transaction, so two writers cannot deadlock on them.
            op.execute(
                f"CREATE TRIGGER parties_version_{suffix} BEFORE {event} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_parties_version()"
            )
    else:
        for suffix, table, event in TRIGGERS:
            op.execute(
                f"CREATE TRIGGER parties_version_{suffix} AFTER {event} ON {table} "
                f"BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    for suffix, table, _event in TRIGGERS:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS parties_version_{suffix} ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS parties_version_{suffix}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS bump_parties_version()")
    op.drop_table("parties_version")
