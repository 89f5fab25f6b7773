"""ops: hub facts (secret key fingerprint, serving URL) and sync jobs

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 07:58:50.068843
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import app.core.dbtypes

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_fact",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("updated_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "sync_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("lease_until", app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "modules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
        sa.Column("created_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["platform_id"], ["platform.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sync_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_job_platform_id"), ["platform_id"], unique=False)
        batch_op.create_index("ix_sync_job_state", ["state", "lease_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_job", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_job_state")
        batch_op.drop_index(batch_op.f("ix_sync_job_platform_id"))

    op.drop_table("sync_job")
    op.drop_table("hub_fact")
