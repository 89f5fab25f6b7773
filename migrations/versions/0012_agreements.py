"""agreements: roaming agreements between CPO and eMSP roles, their revision counter, token routes

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import app.core.dbtypes

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_UNPUBLISHED = {
    "sqlite": "json_extract(data, '$.publish') = 0",
    "postgresql": "(data ->> 'publish') = 'false'",
}


def upgrade() -> None:
    op.create_table(
        "agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cpo_country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("cpo_party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("emsp_country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("emsp_party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column(
            "modules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("created_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("activated_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("suspended_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sync_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("sync_queued", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "cpo_country_code",
            "cpo_party_id",
            "emsp_country_code",
            "emsp_party_id",
            name="uq_agreement_pair",
        ),
    )
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreement_emsp_country_code"), ["emsp_country_code"], unique=False
        )
    op.create_table(
        "agreement_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO agreement_revision (id, revision) VALUES (1, 0)")
    # The Locations that are not published (publish: false), found without reading every
    # Location (app/hub/agreements.py, hidden_locations, uses the same condition).
    op.execute(
        f"CREATE INDEX ix_ocpi_object_unpublished ON ocpi_object (module) WHERE {_UNPUBLISHED[op.get_bind().dialect.name]}"
    )
    op.create_index(
        "ix_ocpi_object_page_owner",
        "ocpi_object",
        ["module", "last_updated", "id", "country_code", "party_id"],
    )
    op.create_table(
        "token_route",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cpo_country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("cpo_party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("uid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("token_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("emsp_country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("emsp_party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("learned_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "cpo_country_code", "cpo_party_id", "uid", "token_type", name="uq_token_route"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_ocpi_object_page_owner", table_name="ocpi_object")
    op.execute("DROP INDEX ix_ocpi_object_unpublished")
    op.drop_table("token_route")
    op.drop_table("agreement_revision")
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_emsp_country_code"))
    op.drop_table("agreement")
