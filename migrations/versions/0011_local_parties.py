"""local parties: platform.local marks the platforms the hub plays itself

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("local", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_platform_local"), ["local"], unique=True)
    # The own CPO was the one platform the hub played itself, marked initiated_by "own".
    op.execute(
        "UPDATE platform SET local = 'cpo' WHERE id = "
        "(SELECT MIN(id) FROM platform WHERE initiated_by = 'own')"
    )


def downgrade() -> None:
    # The payments eMSP's platform had no row before: it goes, its roles with it (CASCADE).
    op.execute(
        "DELETE FROM platform_role WHERE platform_id IN (SELECT id FROM platform WHERE local = 'payments')"
    )
    op.execute(
        "DELETE FROM platform_party WHERE platform_id IN (SELECT id FROM platform WHERE local = 'payments')"
    )
    op.execute("DELETE FROM platform WHERE local = 'payments'")
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_platform_local"))
        batch_op.drop_column("local")
