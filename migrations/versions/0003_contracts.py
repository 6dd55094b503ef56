"""Contracts: price lists and versions, subsidy schemes, patients and enrolments, contracts.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "price_lists",
        sa.Column("code", sa.String(24), primary_key=True),
        sa.Column("currency", sa.String(24), sa.ForeignKey("commodities.code"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "price_list_versions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("price_list", sa.String(24), sa.ForeignKey("price_lists.code"), nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.UniqueConstraint("price_list", "effective_from", name="uq_price_list_version_date"),
    )
    op.create_index("ix_price_list_versions_price_list", "price_list_versions", ["price_list"])
    op.create_table(
        "price_list_items",
        sa.Column("version_id", BigId, sa.ForeignKey("price_list_versions.id"), primary_key=True),
        sa.Column("medicine", sa.String(24), sa.ForeignKey("medicines.code"), primary_key=True),
        sa.Column("unit_price", sa.String(40), nullable=False),
    )
    op.create_table(
        "subsidy_schemes",
        sa.Column("code", sa.String(24), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("payer", sa.String(12), nullable=False),
        sa.Column("percent_bp", sa.Integer, nullable=False),
        sa.Column("cap_per_dispensing", sa.BigInteger, nullable=True),
        sa.Column("cap_per_patient_month", sa.BigInteger, nullable=True),
        sa.Column("cash_rounding", sa.BigInteger, nullable=True),
        sa.Column("all_eligible", sa.Boolean, nullable=False),
        sa.Column("account", sa.String(40), sa.ForeignKey("accounts.code"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("payer IN ('external', 'fund')", name="ck_scheme_payer"),
        sa.CheckConstraint("percent_bp >= 0 AND percent_bp <= 10000", name="ck_scheme_percent"),
        sa.CheckConstraint(
            "cap_per_dispensing IS NULL OR cap_per_dispensing >= 0", name="ck_scheme_cap_disp"
        ),
        sa.CheckConstraint(
            "cap_per_patient_month IS NULL OR cap_per_patient_month >= 0",
            name="ck_scheme_cap_month",
        ),
        sa.CheckConstraint("cash_rounding IS NULL OR cash_rounding > 0", name="ck_scheme_rounding"),
        sa.CheckConstraint(
            "(payer = 'external') = (account IS NOT NULL)", name="ck_scheme_account"
        ),
    )
    op.create_table(
        "scheme_medicines",
        sa.Column("scheme", sa.String(24), sa.ForeignKey("subsidy_schemes.code"), primary_key=True),
        sa.Column("medicine", sa.String(24), sa.ForeignKey("medicines.code"), primary_key=True),
    )
    op.create_table(
        "patients",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("member_code", sa.String(40), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "enrolments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("patient_id", BigId, sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("scheme", sa.String(24), sa.ForeignKey("subsidy_schemes.code"), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_enrolment_range"),
    )
    op.create_index("ix_enrolments_patient_id", "enrolments", ["patient_id"])
    op.create_table(
        "contracts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pharmacy", sa.String(24), sa.ForeignKey("pharmacies.code"), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("model", sa.String(12), nullable=False),
        sa.Column("price_list", sa.String(24), sa.ForeignKey("price_lists.code"), nullable=False),
        sa.Column(
            "wholesale_price_list",
            sa.String(24),
            sa.ForeignKey("price_lists.code"),
            nullable=True,
        ),
        sa.Column("fee_kind", sa.String(16), nullable=False),
        sa.Column("fee_value", sa.String(40), nullable=False),
        sa.Column("settlement_cycle", sa.String(12), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.CheckConstraint("model IN ('consignment', 'purchase')", name="ck_contract_model"),
        sa.CheckConstraint(
            "fee_kind IN ('per_dispensing', 'per_line', 'percent')", name="ck_contract_fee_kind"
        ),
        sa.CheckConstraint("status IN ('active', 'suspended', 'ended')", name="ck_contract_status"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_contract_range"),
        sa.CheckConstraint(
            "model = 'consignment' OR wholesale_price_list IS NOT NULL",
            name="ck_contract_wholesale",
        ),
    )
    op.create_index("ix_contracts_pharmacy", "contracts", ["pharmacy"])


def downgrade() -> None:
    op.drop_index("ix_contracts_pharmacy", table_name="contracts")
    op.drop_table("contracts")
    op.drop_index("ix_enrolments_patient_id", table_name="enrolments")
    op.drop_table("enrolments")
    op.drop_table("patients")
    op.drop_table("scheme_medicines")
    op.drop_table("subsidy_schemes")
    op.drop_table("price_list_items")
    op.drop_index("ix_price_list_versions_price_list", table_name="price_list_versions")
    op.drop_table("price_list_versions")
    op.drop_table("price_lists")
