"""The fund's settings: one row, the functional currency (DESIGN.md "Two currencies").

Lots are valued in the functional currency and kept balances are in it, so it is chosen at
set-up (``flask set-functional-currency USD``) and never changed once anything is posted
(``ledger.settings``). The row starts as KHR, the default. The reference snapshot holds it
(``ledger.refdata``), so a change bumps ``ref_version`` like the other reference tables.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fund_settings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("functional_currency", sa.String(24), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("set_by", sa.String(100), nullable=True),
        sa.CheckConstraint("id = 1", name="ck_fund_settings_one_row"),
        sa.CheckConstraint(
            "functional_currency IN ('KHR', 'USD')", name="ck_fund_settings_currency"
        ),
    )
    op.execute("INSERT INTO fund_settings (id, functional_currency) VALUES (1, 'KHR')")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER fund_settings_ref_bump AFTER INSERT OR UPDATE OR DELETE ON "
            "fund_settings FOR EACH ROW EXECUTE FUNCTION rdf_ref_bump()"
        )
    else:
        for what in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER fund_settings_ref_bump_{what.lower()} AFTER {what} ON "
                "fund_settings BEGIN "
                "UPDATE ref_version SET version = version + 1 WHERE id = 1; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS fund_settings_ref_bump ON fund_settings")
    else:
        for what in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS fund_settings_ref_bump_{what}")
    op.drop_table("fund_settings")
