"""Invoices: payments, imported bank statements and their lines.

A payment is the source document of one journal entry (``source = "payment:{id}"``). A bank
line is matched to at most one payment (unique ``payment_id``); a statement's content hash
is unique so the same file cannot be imported twice.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("counterparty_kind", sa.String(12), nullable=False),
        sa.Column("counterparty_code", sa.String(200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(24), sa.ForeignKey("commodities.code"), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("applies_to_kind", sa.String(12), nullable=True),
        sa.Column("applies_to_id", sa.String(64), nullable=True),
        sa.Column("entry_id", BigId, sa.ForeignKey("entries.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.CheckConstraint("direction IN ('in', 'out')", name="ck_payment_direction"),
        sa.CheckConstraint(
            "counterparty_kind IN ('pharmacy', 'scheme', 'supplier', 'donor')",
            name="ck_payment_counterparty_kind",
        ),
        sa.CheckConstraint("amount_minor > 0", name="ck_payment_amount_positive"),
        sa.CheckConstraint(
            "applies_to_kind IS NULL OR applies_to_kind IN ('settlement', 'claim', 'receipt')",
            name="ck_payment_applies_to_kind",
        ),
    )
    op.create_index("ix_payments_date", "payments", ["date"])
    op.create_index(
        "ix_payments_counterparty", "payments", ["counterparty_kind", "counterparty_code"]
    )
    op.create_index("ix_payments_applies_to", "payments", ["applies_to_kind", "applies_to_id"])

    op.create_table(
        "bank_statements",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("content_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("line_count", sa.Integer, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(100), nullable=False),
    )
    op.create_table(
        "bank_statement_lines",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("statement_id", BigId, sa.ForeignKey("bank_statements.id"), nullable=False),
        sa.Column("line_number", sa.Integer, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(24), sa.ForeignKey("commodities.code"), nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("payment_id", BigId, sa.ForeignKey("payments.id"), nullable=True, unique=True),
        sa.Column("match_kind", sa.String(8), nullable=True),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("matched_by", sa.String(100), nullable=True),
        sa.UniqueConstraint("statement_id", "line_number", name="uq_bank_line_number"),
        sa.CheckConstraint("amount_minor <> 0", name="ck_bank_line_nonzero"),
        sa.CheckConstraint(
            "(payment_id IS NULL) = (match_kind IS NULL)", name="ck_bank_line_match_kind"
        ),
        sa.CheckConstraint(
            "match_kind IS NULL OR match_kind IN ('auto', 'manual')",
            name="ck_bank_line_match_kind_value",
        ),
    )
    op.create_index(
        "ix_bank_statement_lines_statement_id", "bank_statement_lines", ["statement_id"]
    )
    op.create_index("ix_bank_statement_lines_date", "bank_statement_lines", ["date"])


def downgrade() -> None:
    op.drop_table("bank_statement_lines")
    op.drop_table("bank_statements")
    op.drop_table("payments")
