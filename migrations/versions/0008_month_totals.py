"""Kept totals per month: what each kept balance moved in each month.

``month_totals`` has one row per (account, commodity, lot, stripe, month) — the key of a
kept balance plus the first day of a month — holding the sum of the postings of that key
booked in that month (``amount``), and the sums of its debits and of its credits (both
positive; ``amount = debit - credit``), from which a statement's totals over whole months
are read. A trigger on postings insert keeps it, next to ``postings_apply``
which keeps ``balances``; a row of it is only ever written by a transaction that already
holds the kept balance row of the same key (``post_entry`` locks those first, in order), so
it adds no lock order and no hot row of its own.

A balance as of any date then reads a bounded number of rows whatever the journal's size:
the kept balance, the month totals of the months after the date's month, and the postings
of the date's own month on one side of the date (``ledger.queries``).

Also a partial index of payment entries by date (``ix_entries_payments``), which a
pharmacy's monthly statement reads its payments through.

Existing postings are folded in by one ``INSERT … SELECT … GROUP BY`` (the backfill), made
inside the migration's transaction after the trigger is in place (on PostgreSQL creating
the trigger locks postings against inserts until the migration commits), before the guard
that refuses direct writes.

Revision ID: 0008
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0001"
branch_labels = None
depends_on = None

#: The first day of the month of date expression ``{d}``, per dialect.
MONTH_OF = {
    "postgresql": "date_trunc('month', {d}::timestamp)::date",
    "sqlite": "date({d}, 'start of month')",
}


def backfill_sql(dialect: str) -> str:
    """Every month total recomputed from the postings (the table must be empty)."""
    month = MONTH_OF[dialect].format(d="accounting_date")
    return f"""
        INSERT INTO month_totals (account_code, commodity, lot_key, stripe, month, amount,
                                  debit, credit)
        SELECT account_code, commodity, COALESCE(lot_id, 0), stripe, {month}, SUM(amount),
               SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END),
               SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END)
          FROM postings
         GROUP BY account_code, commodity, COALESCE(lot_id, 0), stripe, {month}
    """


PG_FUNCTIONS = r"""
CREATE FUNCTION rdf_month_total_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO month_totals AS t (account_code, commodity, lot_key, stripe, month, amount,
                                 debit, credit)
  VALUES (NEW.account_code, NEW.commodity, COALESCE(NEW.lot_id, 0), NEW.stripe,
          date_trunc('month', NEW.accounting_date::timestamp)::date, NEW.amount,
          GREATEST(NEW.amount, 0), GREATEST(-NEW.amount, 0))
  ON CONFLICT (account_code, commodity, month, lot_key, stripe)
  DO UPDATE SET amount = t.amount + EXCLUDED.amount, debit = t.debit + EXCLUDED.debit,
                credit = t.credit + EXCLUDED.credit;
  RETURN NULL;
END $$;

CREATE FUNCTION rdf_month_total_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF pg_trigger_depth() > 1 THEN
    RETURN COALESCE(NEW, OLD);  -- written by the posting trigger: allowed
  END IF;
  RAISE EXCEPTION 'month totals change only through postings (% refused)', TG_OP
    USING ERRCODE = '42501';
END $$;

CREATE TRIGGER postings_month_totals AFTER INSERT ON postings
  FOR EACH ROW EXECUTE FUNCTION rdf_month_total_apply();
"""

PG_GUARD = r"""
CREATE TRIGGER month_totals_guard BEFORE INSERT OR UPDATE OR DELETE ON month_totals
  FOR EACH ROW EXECUTE FUNCTION rdf_month_total_guard();
CREATE TRIGGER month_totals_no_truncate BEFORE TRUNCATE ON month_totals
  FOR EACH STATEMENT EXECUTE FUNCTION rdf_append_only();
"""

SQLITE_TRIGGER = """
CREATE TRIGGER postings_month_totals AFTER INSERT ON postings BEGIN
  INSERT INTO month_totals (account_code, commodity, lot_key, stripe, month, amount,
                            debit, credit)
  VALUES (NEW.account_code, NEW.commodity, COALESCE(NEW.lot_id, 0), NEW.stripe,
          date(NEW.accounting_date, 'start of month'), NEW.amount,
          max(NEW.amount, 0), max(-NEW.amount, 0))
  ON CONFLICT (account_code, commodity, month, lot_key, stripe)
  DO UPDATE SET amount = amount + excluded.amount, debit = debit + excluded.debit,
                credit = credit + excluded.credit;
END
"""


#: The predicate of ix_entries_payments; a query must say it the same way to use the index.
PAYMENTS = "source LIKE 'payment:%'"


def upgrade() -> None:
    op.create_table(
        "month_totals",
        sa.Column("account_code", sa.String(40), nullable=False),
        sa.Column("commodity", sa.String(24), nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("lot_key", sa.BigInteger, nullable=False),
        sa.Column("stripe", sa.SmallInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("debit", sa.BigInteger, nullable=False),
        sa.Column("credit", sa.BigInteger, nullable=False),
        sa.CheckConstraint(
            "debit >= 0 AND credit >= 0 AND amount = debit - credit", name="ck_month_total_sides"
        ),
        # month before lot and stripe: "this account and commodity after month m" is one
        # range of the key
        sa.PrimaryKeyConstraint(
            "account_code", "commodity", "month", "lot_key", "stripe", name="pk_month_totals"
        ),
    )
    # Payment entries by date (a pharmacy's statement lists its month's payments): a partial
    # index, so finding them costs the month's payments, not the month's (or all) entries.
    op.create_index(
        "ix_entries_payments",
        "entries",
        ["accounting_date"],
        postgresql_where=sa.text(PAYMENTS),
        sqlite_where=sa.text(PAYMENTS),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_FUNCTIONS)
        op.execute(backfill_sql(dialect))
        op.execute(PG_GUARD)
    else:
        op.execute(SQLITE_TRIGGER)
        op.execute(backfill_sql(dialect))


def downgrade() -> None:
    op.drop_index("ix_entries_payments", table_name="entries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS postings_month_totals ON postings")
        op.drop_table("month_totals")
        for fn in ["rdf_month_total_apply", "rdf_month_total_guard"]:
            op.execute(f"DROP FUNCTION IF EXISTS {fn}() CASCADE")
    else:
        op.execute("DROP TRIGGER IF EXISTS postings_month_totals")
        op.drop_table("month_totals")
