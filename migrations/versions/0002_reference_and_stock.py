"""Reference data and stock documents: medicines, suppliers, pharmacies, stock movements.

A medicine is also a commodity (kind "medicine", exponent 0); a supplier owns the sub-account
``2000-{code}``; a pharmacy owns ``1200-{code}``, ``1400-{code}`` and ``2100-{code}``. Those
accounts and commodity rows are written by the service when the reference row is created.
``stock_movements`` records each receipt, transfer, write-off and count (the source document
of its journal entry, ``source = "stock-<kind>:<id>"``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "medicines",
        sa.Column("code", sa.String(24), sa.ForeignKey("commodities.code"), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("strength", sa.String(60), nullable=False),
        sa.Column("form", sa.String(60), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "suppliers",
        sa.Column("code", sa.String(24), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "pharmacies",
        sa.Column("code", sa.String(24), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("province", sa.String(100), nullable=False),
        sa.Column("district", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("code <> 'CENTRAL'", name="ck_pharmacy_not_central"),
    )
    op.create_table(
        "stock_movements",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("location", sa.String(24), nullable=False),
        sa.Column("to_location", sa.String(24), nullable=True),
        sa.Column("supplier", sa.String(24), sa.ForeignKey("suppliers.code"), nullable=True),
        sa.Column("event_on", sa.Date, nullable=False),
        sa.Column("reason", sa.String(20), nullable=True),
        sa.Column("entry_id", BigId, sa.ForeignKey("entries.id"), nullable=True, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.CheckConstraint(
            "kind IN ('receipt', 'transfer', 'write_off', 'count')", name="ck_movement_kind"
        ),
    )
    op.create_index("ix_stock_movements_location", "stock_movements", ["location", "event_on"])
    op.create_index("ix_lots_commodity_expiry", "lots", ["commodity", "expiry_on"])


def downgrade() -> None:
    op.drop_index("ix_lots_commodity_expiry", table_name="lots")
    op.drop_index("ix_stock_movements_location", table_name="stock_movements")
    for table in ["stock_movements", "pharmacies", "suppliers", "medicines"]:
        op.drop_table(table)
