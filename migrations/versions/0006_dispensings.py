"""Dispensings and their returns (the source documents of the pharmacist's entries).

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Money = sa.BigInteger


def upgrade() -> None:
    op.create_table(
        "dispensings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pharmacy", sa.String(24), sa.ForeignKey("pharmacies.code"), nullable=False),
        sa.Column("patient", sa.String(40), nullable=True),
        sa.Column("service_date", sa.Date, nullable=False),
        sa.Column("accounting_date", sa.Date, nullable=False),
        sa.Column("client_ref", sa.String(120), nullable=True),
        sa.Column("currency", sa.String(24), nullable=False),
        sa.Column("model", sa.String(12), nullable=False),
        sa.Column("contract_id", sa.BigInteger, nullable=False),
        sa.Column("scheme", sa.String(24), nullable=True),
        sa.Column("payer", sa.String(12), nullable=True),
        sa.Column("fee_kind", sa.String(16), nullable=False),
        sa.Column("total_price", Money, nullable=False),
        sa.Column("total_subsidy", Money, nullable=False),
        sa.Column("total_copayment", Money, nullable=False),
        sa.Column("fee", Money, nullable=False),
        sa.Column("entry_id", BigId, sa.ForeignKey("entries.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.UniqueConstraint("pharmacy", "client_ref", name="uq_dispensing_client_ref"),
        sa.CheckConstraint(
            "total_price = total_subsidy + total_copayment", name="ck_dispensing_split"
        ),
        sa.CheckConstraint(
            "total_subsidy >= 0 AND total_copayment >= 0 AND fee >= 0",
            name="ck_dispensing_nonnegative",
        ),
    )
    op.create_index("ix_dispensings_pharmacy_date", "dispensings", ["pharmacy", "service_date"])
    op.create_index("ix_dispensings_patient_date", "dispensings", ["patient", "service_date"])
    op.create_table(
        "dispensing_lines",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "dispensing_id", BigId, sa.ForeignKey("dispensings.id"), nullable=False, index=True
        ),
        sa.Column("line_no", sa.SmallInteger, nullable=False),
        sa.Column("medicine", sa.String(24), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("unit_price", sa.String(40), nullable=False),
        sa.Column("price", Money, nullable=False),
        sa.Column("subsidy", Money, nullable=False),
        sa.Column("copayment", Money, nullable=False),
        sa.Column("cost", Money, nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_dispensing_line_quantity"),
        sa.CheckConstraint("price = subsidy + copayment", name="ck_dispensing_line_split"),
    )
    op.create_table(
        "dispensing_lots",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "line_id", BigId, sa.ForeignKey("dispensing_lines.id"), nullable=False, index=True
        ),
        sa.Column("seq", sa.SmallInteger, nullable=False),
        sa.Column("lot_id", BigId, sa.ForeignKey("lots.id"), nullable=False),
        sa.Column("lot_code", sa.String(40), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("value", Money, nullable=False),
    )
    op.create_table(
        "dispensing_returns",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "dispensing_id", BigId, sa.ForeignKey("dispensings.id"), nullable=False, index=True
        ),
        sa.Column("return_date", sa.Date, nullable=False),
        sa.Column("accounting_date", sa.Date, nullable=False),
        sa.Column("total_price", Money, nullable=False),
        sa.Column("total_subsidy", Money, nullable=False),
        sa.Column("total_copayment", Money, nullable=False),
        sa.Column("total_cost", Money, nullable=False),
        sa.Column("fee", Money, nullable=False),
        sa.Column("entry_id", BigId, sa.ForeignKey("entries.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
    )
    op.create_table(
        "return_lines",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "return_id", BigId, sa.ForeignKey("dispensing_returns.id"), nullable=False, index=True
        ),
        sa.Column(
            "line_id", BigId, sa.ForeignKey("dispensing_lines.id"), nullable=False, index=True
        ),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("price", Money, nullable=False),
        sa.Column("subsidy", Money, nullable=False),
        sa.Column("copayment", Money, nullable=False),
        sa.Column("cost", Money, nullable=False),
    )
    op.create_table(
        "return_lots",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "return_line_id", BigId, sa.ForeignKey("return_lines.id"), nullable=False, index=True
        ),
        sa.Column("lot_id", BigId, sa.ForeignKey("lots.id"), nullable=False),
        sa.Column("lot_code", sa.String(40), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("value", Money, nullable=False),
    )


def downgrade() -> None:
    for t in [
        "return_lots",
        "return_lines",
        "dispensing_returns",
        "dispensing_lots",
        "dispensing_lines",
        "dispensings",
    ]:
        op.drop_table(t)
