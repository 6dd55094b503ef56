"""Month end flat in history: kept totals per day, and seals kept apart from the entries.

**Day totals.** ``day_totals`` has one row per (account, commodity, lot, stripe, day) — the
key of a kept balance plus a date — holding what that key's postings booked on that day sum
to (``amount``), and the sums of their debits and of their credits (``amount = debit -
credit``), as ``month_totals`` (0008) does per month. A balance as of any date is then the
kept balance, less the month totals of the months after the date's month, less (or plus)
the day totals of the date's own month on the nearer side of the date: at most about
fifteen day rows per key, never a posting (``ledger.queries``). A statement's totals over a
range of days read the same rows (``range_totals``); a month close reads the month totals
only (``ledger.periods.close_period``).

The rows are kept by the posting triggers themselves, so the insert of postings is
unchanged: on PostgreSQL the statement trigger ``postings_month_totals`` (0010) folds its
transition table into the month totals *and* the day totals, one upsert per key in the
global lock order (account, commodity, lot, stripe, day) — one trigger call per postings
statement as before, one more ``INSERT … SELECT … GROUP BY … ON CONFLICT`` in it; on SQLite
a row trigger ``postings_day_totals`` as 0008's. A row is only ever written by a
transaction that already holds the kept balance row of its key (``post_entry`` locks those
first, in order), so it adds no lock order and no hot row (stripes spread a day's writes as
they spread the kept balances). PostgreSQL refuses direct writes (``day_totals_guard``, as
``month_totals_guard``) and TRUNCATE. Existing postings are folded in by one ``INSERT …
SELECT … GROUP BY`` (the backfill), after the trigger is in place.

**Entry seals.** A seal no longer rewrites its entry's row (which touched every index of
``entries``): ``entry_seals`` holds one row per sealed entry, ``(seal_seq, entry_id,
seal)`` — the entry's place in the chain and ``sha256`` chained seal, as the two columns of
``entries`` held them — inserted by the sealer, never updated or deleted (guards on both
databases, and TRUNCATE refused on PostgreSQL); its entry_id references the entry. ``seal_seq`` is the key, ``entry_id``
unique: an entry is sealed once, a place in the chain is given once. The sealed content is
unchanged (``ledger.seal_chain``), so every seal made before this revision stays valid: the
data migration copies ``(seal_seq, id, seal)`` of every sealed entry. With the seal gone
from it, an entry can no longer be updated at all: ``entries_guard`` now refuses every
UPDATE and DELETE (PostgreSQL: ``rdf_append_only``; SQLite: the seal exception removed).
PostgreSQL drops the two columns (and the unique index of ``seal_seq``: one index fewer to
keep on every entry insert); SQLite cannot drop a column holding a UNIQUE constraint without
rebuilding ``entries`` and keeps them, always NULL, never written (the guard refuses it).

``seal_checkpoints`` gains ``unsealed_from``: every entry with a lower id is sealed, so the
sealer looks for unsealed entries from there on, not over the whole journal; and
``pending_from``/``pending_at``, a reading of the next entry id the next run may trust
(PostgreSQL: entries still in flight; ``ledger.sealing._sealed_below``). Hints kept by the
sealer in the checkpoint row it updates anyway, not evidence: verify looks for unsealed
entries over the whole journal, seals them and counts them.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017h"
branch_labels = None
depends_on = ("0004",)  # seal_checkpoints


def backfill_sql() -> str:
    """Every day total recomputed from the postings (the table must be empty)."""
    return """
        INSERT INTO day_totals (account_code, commodity, lot_key, stripe, day, amount,
                                debit, credit)
        SELECT account_code, commodity, COALESCE(lot_id, 0), stripe, accounting_date,
               SUM(amount),
               SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END),
               SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END)
          FROM postings
         GROUP BY account_code, commodity, COALESCE(lot_id, 0), stripe, accounting_date
    """


#: 0010's month fold, and the day totals folded in the same trigger call.
PG_FOLD = r"""
CREATE OR REPLACE FUNCTION rdf_postings_fold_month_totals() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO month_totals AS t (account_code, commodity, lot_key, stripe, month, amount,
                                 debit, credit)
  SELECT account_code, commodity, COALESCE(lot_id, 0), stripe,
         date_trunc('month', accounting_date::timestamp)::date,
         SUM(amount), SUM(GREATEST(amount, 0)), SUM(GREATEST(-amount, 0))
    FROM new_postings
   GROUP BY account_code, commodity, COALESCE(lot_id, 0), stripe,
            date_trunc('month', accounting_date::timestamp)::date
   ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (account_code, commodity, month, lot_key, stripe)
  DO UPDATE SET amount = t.amount + EXCLUDED.amount, debit = t.debit + EXCLUDED.debit,
                credit = t.credit + EXCLUDED.credit;
  INSERT INTO day_totals AS t (account_code, commodity, lot_key, stripe, day, amount,
                               debit, credit)
  SELECT account_code, commodity, COALESCE(lot_id, 0), stripe, accounting_date,
         SUM(amount), SUM(GREATEST(amount, 0)), SUM(GREATEST(-amount, 0))
    FROM new_postings
   GROUP BY account_code, commodity, COALESCE(lot_id, 0), stripe, accounting_date
   ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (account_code, commodity, day, lot_key, stripe)
  DO UPDATE SET amount = t.amount + EXCLUDED.amount, debit = t.debit + EXCLUDED.debit,
                credit = t.credit + EXCLUDED.credit;
  RETURN NULL;
END $$;

CREATE FUNCTION rdf_day_total_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'day totals change only through postings (% refused)', TG_OP
    USING ERRCODE = '42501';
END $$;
"""

PG_GUARDS = r"""
CREATE TRIGGER day_totals_guard BEFORE INSERT OR UPDATE OR DELETE ON day_totals
  FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION rdf_day_total_guard();
CREATE TRIGGER day_totals_no_truncate BEFORE TRUNCATE ON day_totals
  FOR EACH STATEMENT EXECUTE FUNCTION rdf_append_only();

CREATE TRIGGER entry_seals_append_only BEFORE UPDATE OR DELETE ON entry_seals
  FOR EACH ROW EXECUTE FUNCTION rdf_append_only();
CREATE TRIGGER entry_seals_no_truncate BEFORE TRUNCATE ON entry_seals
  FOR EACH STATEMENT EXECUTE FUNCTION rdf_append_only();

DROP TRIGGER entries_guard ON entries;
CREATE TRIGGER entries_guard BEFORE UPDATE OR DELETE ON entries
  FOR EACH ROW EXECUTE FUNCTION rdf_append_only();
"""

SQLITE_DAY_TRIGGER = """
CREATE TRIGGER postings_day_totals AFTER INSERT ON postings BEGIN
  INSERT INTO day_totals (account_code, commodity, lot_key, stripe, day, amount,
                          debit, credit)
  VALUES (NEW.account_code, NEW.commodity, COALESCE(NEW.lot_id, 0), NEW.stripe,
          NEW.accounting_date, NEW.amount, max(NEW.amount, 0), max(-NEW.amount, 0))
  ON CONFLICT (account_code, commodity, day, lot_key, stripe)
  DO UPDATE SET amount = amount + excluded.amount, debit = debit + excluded.debit,
                credit = credit + excluded.credit;
END
"""

SQLITE_GUARDS = [
    """
    CREATE TRIGGER entry_seals_no_update BEFORE UPDATE ON entry_seals BEGIN
      SELECT RAISE(ABORT, 'UPDATE on entry_seals is refused: a seal is given once');
    END
    """,
    """
    CREATE TRIGGER entry_seals_no_delete BEFORE DELETE ON entry_seals BEGIN
      SELECT RAISE(ABORT, 'DELETE on entry_seals is refused: a seal is given once');
    END
    """,
    "DROP TRIGGER entries_guard",
    """
    CREATE TRIGGER entries_guard BEFORE UPDATE ON entries BEGIN
      SELECT RAISE(ABORT, 'UPDATE on entries is refused: entries are immutable once posted');
    END
    """,
]

#: The sealed entries' seals, as 0001 kept them in ``entries``.
COPY_SEALS = """
    INSERT INTO entry_seals (seal_seq, entry_id, seal)
    SELECT seal_seq, id, seal FROM entries WHERE seal_seq IS NOT NULL ORDER BY seal_seq
"""

#: Every entry below it is sealed: the lowest unsealed entry id (or one past the last).
UNSEALED_FROM = """
    UPDATE seal_checkpoints SET unsealed_from = COALESCE(
      (SELECT MIN(id) FROM entries WHERE seal_seq IS NULL),
      (SELECT MAX(id) + 1 FROM entries), 0)
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "day_totals",
        sa.Column("account_code", sa.String(40), nullable=False),
        sa.Column("commodity", sa.String(24), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("lot_key", sa.BigInteger, nullable=False),
        sa.Column("stripe", sa.SmallInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("debit", sa.BigInteger, nullable=False),
        sa.Column("credit", sa.BigInteger, nullable=False),
        sa.CheckConstraint(
            "debit >= 0 AND credit >= 0 AND amount = debit - credit", name="ck_day_total_sides"
        ),
        # day before lot and stripe: "this account and commodity over these days" is one
        # range of the key
        sa.PrimaryKeyConstraint(
            "account_code", "commodity", "day", "lot_key", "stripe", name="pk_day_totals"
        ),
    )
    # the trial balance as of a day reads every account's day rows of part of a month: a
    # range of this index (a new row only on a key's first posting of a day; later postings
    # of the day update amounts only, which no index holds)
    op.create_index("ix_day_totals_day", "day_totals", ["day"])
    op.create_table(
        "entry_seals",
        sa.Column("seal_seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("entry_id", sa.BigInteger, nullable=False),
        sa.Column("seal", sa.String(64), nullable=False),
        sa.UniqueConstraint("entry_id", name="uq_entry_seals_entry"),
        # an entry cannot be deleted (its guard); were it deleted behind the guards, its
        # seal goes with it (SQLite would give its id to the next entry, which must not
        # inherit the seal): the chain then shows a gap, as before this revision
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entries.id"], name="fk_entry_seals_entry", ondelete="CASCADE"
        ),
        sa.CheckConstraint("seal_seq > 0", name="ck_entry_seal_seq"),
    )
    op.add_column("seal_checkpoints", sa.Column("unsealed_from", sa.BigInteger, nullable=True))
    op.add_column("seal_checkpoints", sa.Column("pending_from", sa.BigInteger, nullable=True))
    op.add_column(
        "seal_checkpoints", sa.Column("pending_at", sa.DateTime(timezone=True), nullable=True)
    )
    if dialect == "postgresql":
        op.execute(PG_FOLD)
    else:
        op.execute(SQLITE_DAY_TRIGGER)
    op.execute(backfill_sql())
    op.execute(COPY_SEALS)
    op.execute(UNSEALED_FROM)
    if dialect == "postgresql":
        op.execute(PG_GUARDS)
        op.drop_column("entries", "seal")
        op.drop_column("entries", "seal_seq")  # and its unique index
    else:
        for stmt in SQLITE_GUARDS:
            op.execute(stmt)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.add_column("entries", sa.Column("seal_seq", sa.BigInteger, nullable=True, unique=True))
        op.add_column("entries", sa.Column("seal", sa.String(64), nullable=True))
        op.execute("DROP TRIGGER entries_guard ON entries")
        op.execute(
            "UPDATE entries e SET seal_seq = s.seal_seq, seal = s.seal"
            " FROM entry_seals s WHERE s.entry_id = e.id"
        )
        op.execute(
            "CREATE TRIGGER entries_guard BEFORE UPDATE OR DELETE ON entries"
            " FOR EACH ROW EXECUTE FUNCTION rdf_entry_guard()"
        )
        op.execute("DROP TRIGGER IF EXISTS entry_seals_append_only ON entry_seals")
        op.execute("DROP TRIGGER IF EXISTS entry_seals_no_truncate ON entry_seals")
        op.execute("DROP TRIGGER IF EXISTS day_totals_guard ON day_totals")
        op.execute("DROP TRIGGER IF EXISTS day_totals_no_truncate ON day_totals")
        op.execute("DROP FUNCTION IF EXISTS rdf_day_total_guard()")
        # 0010's month fold, without the day totals
        op.execute(PG_FOLD.split("  INSERT INTO day_totals")[0] + "  RETURN NULL;\nEND $$;")
    else:
        for name in ("entry_seals_no_update", "entry_seals_no_delete", "postings_day_totals"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TRIGGER entries_guard")
        op.execute(
            "UPDATE entries SET seal_seq = (SELECT s.seal_seq FROM entry_seals s"
            " WHERE s.entry_id = entries.id), seal = (SELECT s.seal FROM entry_seals s"
            " WHERE s.entry_id = entries.id)"
        )
        op.execute("""
    CREATE TRIGGER entries_guard BEFORE UPDATE ON entries
    WHEN NOT (OLD.seal IS NULL AND OLD.seal_seq IS NULL
              AND NEW.seal IS NOT NULL AND NEW.seal_seq IS NOT NULL
              AND NEW.id = OLD.id AND NEW.service_date IS OLD.service_date
              AND NEW.accounting_date IS OLD.accounting_date AND NEW.memo IS OLD.memo
              AND NEW.source IS OLD.source AND NEW.reverses_id IS OLD.reverses_id
              AND NEW.partition IS OLD.partition
              AND NEW.idempotency_key IS OLD.idempotency_key
              AND NEW.request_hash IS OLD.request_hash
              AND NEW.created_at IS OLD.created_at AND NEW.created_by IS OLD.created_by)
    BEGIN
      SELECT RAISE(ABORT, 'UPDATE on entries is refused: entries are immutable once posted');
    END
    """)
    op.drop_column("seal_checkpoints", "pending_at")
    op.drop_column("seal_checkpoints", "pending_from")
    op.drop_column("seal_checkpoints", "unsealed_from")
    op.drop_table("entry_seals")
    op.drop_table("day_totals")
