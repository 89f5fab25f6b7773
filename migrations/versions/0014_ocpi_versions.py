"""ocpi versions: what a 2.1.1 partner does not say; the ext of 2.3.0 objects

Revision ID: 0014
Revises: 0011
Create Date: 2026-11-29 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # platform.version (the negotiated version) exists since 0001; these are the settings a
    # 2.1.1 partner's messages need and do not carry: its role (2.1.1 credentials have none),
    # the IANA time zone of its Locations and the VAT rate its tariff prices are subject to.
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("declared_role", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True)
        )
        batch_op.add_column(
            sa.Column("time_zone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("vat", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )

    # What 2.2.1 cannot carry but a 2.3.0 sender gave (app/ocpi/ext.py), beside data.
    with op.batch_alter_table("ocpi_object", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ext", JSONDoc, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ocpi_object", schema=None) as batch_op:
        batch_op.drop_column("ext")
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.drop_column("vat")
        batch_op.drop_column("time_zone")
        batch_op.drop_column("declared_role")
