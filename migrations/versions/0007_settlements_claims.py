"""Settlements with pharmacies and subsidy claims to payers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "settlements",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pharmacy", sa.String(24), sa.ForeignKey("pharmacies.code"), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("currency", sa.String(24), nullable=False),
        sa.Column("copayments_held", sa.BigInteger, nullable=False),
        sa.Column("fees_owed", sa.BigInteger, nullable=False),
        sa.Column("subsidy_owed", sa.BigInteger, nullable=False),
        sa.Column("netted", sa.BigInteger, nullable=False),
        sa.Column("net_due", sa.BigInteger, nullable=False),
        sa.Column("entry_id", BigId, sa.ForeignKey("entries.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(100), nullable=True),
        sa.UniqueConstraint("pharmacy", "period", name="uq_settlement_period"),
        sa.CheckConstraint("status IN ('draft', 'approved')", name="ck_settlement_status"),
        sa.CheckConstraint("netted >= 0", name="ck_settlement_netted"),
    )
    op.create_table(
        "settlement_items",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "settlement_id", BigId, sa.ForeignKey("settlements.id"), nullable=False, index=True
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("doc_id", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("kind", "doc_id", name="uq_settlement_item"),
    )
    op.create_table(
        "subsidy_claims",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("scheme", sa.String(24), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("currency", sa.String(24), nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.UniqueConstraint("scheme", "period", name="uq_claim_period"),
    )
    op.create_table(
        "claim_items",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "claim_id", BigId, sa.ForeignKey("subsidy_claims.id"), nullable=False, index=True
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("doc_id", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("kind", "doc_id", name="uq_claim_item"),
    )


def downgrade() -> None:
    for t in ["claim_items", "subsidy_claims", "settlement_items", "settlements"]:
        op.drop_table(t)
