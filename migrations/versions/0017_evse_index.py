"""evse index: the EVSE uids of stored Locations, for the pay page's lookup

Revision ID: 0017
Revises: 0011
Create Date: 2026-11-29 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.dbtypes

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 500


def upgrade() -> None:
    op.create_table(
        "evse_index",
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("evse_uid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["object_id"], ["ocpi_object.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("object_id", "evse_uid"),
    )
    with op.batch_alter_table("evse_index", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evse_index_evse_uid"), ["evse_uid"], unique=False)

    # The Locations stored so far: the same uids as app.hub.store.evse_index.evse_uids finds
    # (kept here as it is today, so this migration does not change when that module does).
    conn = op.get_bind()
    objects = sa.table(
        "ocpi_object",
        sa.column("id", sa.Integer()),
        sa.column("module", sa.String()),
        sa.column("data", app.core.dbtypes.JSONDoc),
    )
    index = sa.table("evse_index", sa.column("object_id"), sa.column("evse_uid"))
    rows = conn.execute(
        sa.select(objects.c.id, objects.c.data)
        .where(objects.c.module == "locations")
        .order_by(objects.c.id)
    ).all()
    batch: list[dict[str, object]] = []
    for object_id, data in rows:
        uids = {
            str(evse["uid"]).upper()
            for evse in (data or {}).get("evses") or []
            if isinstance(evse, dict) and evse.get("uid") not in (None, "")
        }
        batch.extend({"object_id": object_id, "evse_uid": uid} for uid in sorted(uids))
        if len(batch) >= _BATCH:
            conn.execute(sa.insert(index), batch)
            batch = []
    if batch:
        conn.execute(sa.insert(index), batch)


def downgrade() -> None:
    with op.batch_alter_table("evse_index", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evse_index_evse_uid"))
    op.drop_table("evse_index")
