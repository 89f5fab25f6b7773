"""money: ledger, CPO payout terms, hold expiry, invoices and credit notes

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-29 11:18:43.273756
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import app.core.dbtypes

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hold_expires_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "cpo_payout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("fee_percent", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("fee_fixed", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column(
            "connect_account_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
        ),
        sa.Column("updated_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("country_code", "party_id", name="uq_cpo_payout_party"),
    )
    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("journal", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("account", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("cpo_country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("cpo_party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("booked_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("journal", "account", name="uq_ledger_entry_journal_account"),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_entry_cpo", ["cpo_country_code", "cpo_party_id", "booked_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_entry_payment_id"), ["payment_id"], unique=False
        )

    op.create_table(
        "invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("document_number", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("references_id", sa.Integer(), nullable=True),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column(
            "vat_lines",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("supply_date", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("issued_at", app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "number", name="uq_invoice_issuer_number"),
        sa.UniqueConstraint("source", name="uq_invoice_source"),
    )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoice_document_number"), ["document_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_invoice_payment_id"), ["payment_id"], unique=False)
    op.create_table(
        "invoice_counter",
        sa.Column("issuer", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("issuer"),
    )


def downgrade() -> None:
    op.drop_table("invoice_counter")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_payment_id"))
        batch_op.drop_index(batch_op.f("ix_invoice_document_number"))
    op.drop_table("invoice")
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entry_payment_id"))
        batch_op.drop_index("ix_ledger_entry_cpo")

    op.drop_table("ledger_entry")
    op.drop_table("cpo_payout")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_column("hold_expires_at")
