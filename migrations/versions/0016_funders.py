"""Funders (DESIGN.md "Funders"): donors, the funding source of each lot, and subsidy
budgets.

* ``donors``: a donor of medicines in kind (its equity sub-account ``3200-{code}`` is made
  with it, in ``accounts``).
* ``lots.funding`` (``purchased`` | ``donated``) and ``lots.donor``: a lot keeps the funding
  source of its first receipt for life. Existing lots are purchased.
* ``subsidy_budgets``: a scheme's budget for a month (``YYYY-MM``) or a year (``YYYY``), in
  minor units of the fund currency; versions only (the latest row of a scheme and period is
  the budget in force), never updated.
* ``ix_dispensings_scheme_date``: what a scheme's budget has used in a period is summed
  over its dispensings of the period (``dispensing.budget``).

Self-contained: no foreign key to a table of another branch of the migrations.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "donors",
        sa.Column("code", sa.String(24), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column(
        "lots", sa.Column("funding", sa.String(12), nullable=False, server_default="purchased")
    )
    op.add_column("lots", sa.Column("donor", sa.String(24), nullable=True))
    op.create_table(
        "subsidy_budgets",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("scheme", sa.String(24), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_budget_amount"),
    )
    op.create_index("ix_subsidy_budgets_scheme_period", "subsidy_budgets", ["scheme", "period"])
    op.create_index("ix_dispensings_scheme_date", "dispensings", ["scheme", "service_date"])


def downgrade() -> None:
    op.drop_index("ix_dispensings_scheme_date", table_name="dispensings")
    op.drop_index("ix_subsidy_budgets_scheme_period", table_name="subsidy_budgets")
    op.drop_table("subsidy_budgets")
    with op.batch_alter_table("lots") as batch:
        batch.drop_column("donor")
        batch.drop_column("funding")
    op.drop_table("donors")
