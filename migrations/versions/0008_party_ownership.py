"""party ownership: a (country_code, party_id) belongs to one platform, whatever the role

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 08:00:00.000000

Adds ``platform_party`` (one row per party id and the platform that holds it, unique on
country_code/party_id) and points every ``platform_role`` at its platform's row there.

Existing data: before this revision two platforms could hold one party id under different roles
(say CPO NL*ABC on one platform and EMSP NL*ABC on another). For each such party id the platform
kept is the older registered one (registered platforms before unregistered ones, then the oldest
``created_at``, then the lowest id). Every other platform loses its roles under that party id and
keeps its other roles; a registered platform left with no role at all is set to SUSPENDED, so that
it can no longer call the hub, and the operator sees it in ``GET /admin/platforms`` (it has to
register again under a party id of its own). Each such change is logged as a warning. Stored
objects (Locations, Sessions, ...) are not touched. A downgrade drops the table and the foreign key
but does not bring back the roles removed here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.dbtypes

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

platform = sa.table(
    "platform",
    sa.column("id", sa.Integer),
    sa.column("registered", sa.Boolean),
    sa.column("status", sa.String),
    sa.column("created_at", app.core.dbtypes.UTCDateTime()),
    sa.column("updated_at", app.core.dbtypes.UTCDateTime()),
)
platform_role = sa.table(
    "platform_role",
    sa.column("id", sa.Integer),
    sa.column("platform_id", sa.Integer),
    sa.column("role", sa.String),
    sa.column("country_code", sa.String),
    sa.column("party_id", sa.String),
)
platform_party = sa.table(
    "platform_party",
    sa.column("platform_id", sa.Integer),
    sa.column("country_code", sa.String),
    sa.column("party_id", sa.String),
)


def _settle_existing_roles() -> None:
    """One platform per party id among the roles already stored; then a platform_party row for
    each (platform, party id) left."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            platform_role.c.id,
            platform_role.c.platform_id,
            platform_role.c.role,
            sa.func.upper(platform_role.c.country_code),
            sa.func.upper(platform_role.c.party_id),
            platform.c.registered,
            platform.c.created_at,
        ).select_from(platform_role.join(platform, platform.c.id == platform_role.c.platform_id))
    ).all()
    by_party: dict[tuple[str, str], list[sa.Row]] = {}
    for row in rows:
        by_party.setdefault((row[3], row[4]), []).append(row)
    losers: set[int] = set()
    for (cc, pid), holders in sorted(by_party.items()):
        if len({h.platform_id for h in holders}) < 2:
            continue
        keeper = min(
            holders,
            key=lambda h: (not h.registered, h.created_at or _EPOCH, h.platform_id),
        ).platform_id
        for holder in holders:
            if holder.platform_id == keeper:
                continue
            log.warning(
                "party id %s*%s: role %s of platform %s removed (kept by platform %s)",
                cc, pid, holder.role, holder.platform_id, keeper,
            )  # fmt: skip
            bind.execute(sa.delete(platform_role).where(platform_role.c.id == holder.id))
            losers.add(holder.platform_id)
    left = {row.platform_id for row in bind.execute(sa.select(platform_role.c.platform_id))}
    for platform_id in sorted(losers - left):
        result = bind.execute(
            sa.update(platform)
            .where(platform.c.id == platform_id, platform.c.registered.is_(True))
            .values(status="SUSPENDED", updated_at=datetime.now(UTC))
        )
        if result.rowcount:
            log.warning("platform %s has no role left: SUSPENDED", platform_id)
    # Roles were stored upper-case; make sure of it before they point at platform_party.
    bind.execute(
        sa.update(platform_role).values(
            country_code=sa.func.upper(platform_role.c.country_code),
            party_id=sa.func.upper(platform_role.c.party_id),
        )
    )
    bind.execute(
        platform_party.insert().from_select(
            ["platform_id", "country_code", "party_id"],
            sa.select(
                platform_role.c.platform_id, platform_role.c.country_code, platform_role.c.party_id
            ).distinct(),
        )
    )


def upgrade() -> None:
    op.create_table(
        "platform_party",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.ForeignKeyConstraint(["platform_id"], ["platform.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("country_code", "party_id", name="uq_platform_party"),
        sa.UniqueConstraint(
            "platform_id", "country_code", "party_id", name="uq_platform_party_platform"
        ),
    )
    _settle_existing_roles()
    with op.batch_alter_table("platform_role", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_platform_role_party",
            "platform_party",
            ["platform_id", "country_code", "party_id"],
            ["platform_id", "country_code", "party_id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("platform_role", schema=None) as batch_op:
        batch_op.drop_constraint("fk_platform_role_party", type_="foreignkey")
    op.drop_table("platform_party")
