"""outbox: partial indexes on open deliveries, delivery.leased_by

The claim's plan no longer depends on how many delivered rows the table holds (or on statistics
taken while it was empty): its candidates come from an index of pending rows, its ordering check
from an index of open rows. ``leased_by`` names the instance holding a row in flight, so that rows
of an instance that is gone are taken again at once.

Revision ID: 0015
Revises: 0011
Create Date: 2026-11-29 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")
OPEN = sa.text("status IN ('pending', 'sending')")
SENDING = sa.text("status = 'sending'")


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("leased_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.drop_index("ix_delivery_due")
        batch_op.drop_index("ix_delivery_order")
        batch_op.create_index(
            "ix_delivery_pending_due",
            ["next_attempt_at", "id"],
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )
        batch_op.create_index(
            "ix_delivery_open_order",
            ["platform_id", "object_ref", "id"],
            postgresql_where=OPEN,
            sqlite_where=OPEN,
        )
        batch_op.create_index(
            "ix_delivery_sending",
            ["leased_by", "lease_until"],
            postgresql_where=SENDING,
            sqlite_where=SENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_sending")
        batch_op.drop_index("ix_delivery_open_order")
        batch_op.drop_index("ix_delivery_pending_due")
        batch_op.create_index("ix_delivery_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_delivery_order", ["platform_id", "object_ref", "id"], unique=False
        )
        batch_op.drop_column("leased_by")
