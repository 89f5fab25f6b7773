"""delivery request ids: every push keeps one X-Request-ID across its attempts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:00:00.000000
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    # Pushes still waiting or in flight get their ids now, so that their next attempts (by any
    # instance) all carry the same ones. Rows that have left keep none.
    delivery = sa.table(
        "delivery",
        sa.column("id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("request_id", sa.String),
        sa.column("correlation_id", sa.String),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(delivery.c.id, delivery.c.correlation_id).where(
            delivery.c.status.in_(("pending", "sending"))
        )
    ).all()
    for row_id, correlation_id in rows:
        bind.execute(
            sa.update(delivery)
            .where(delivery.c.id == row_id)
            .values(
                request_id=str(uuid.uuid4()),
                correlation_id=correlation_id or str(uuid.uuid4()),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("request_id")
