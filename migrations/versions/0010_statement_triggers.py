"""PostgreSQL: the posting triggers cost per statement and per entry, not per posting.

Before this revision every posting row fired, on PostgreSQL, three plpgsql triggers:
``postings_apply`` (its kept balance, 0001), ``postings_month_totals`` (its month total,
0008) and the deferred constraint trigger ``postings_balanced`` (its entry balances, 0001),
which re-checked the same entry once per posting at commit. This revision replaces them:

* ``postings_apply`` and ``postings_month_totals`` become ``AFTER INSERT … FOR EACH
  STATEMENT`` triggers over the statement's transition table (``new_postings``). Each folds
  the whole statement with one ``INSERT … SELECT … GROUP BY key ORDER BY key ON CONFLICT
  DO UPDATE``: one row write per key touched, in the global lock order (account, commodity,
  lot, stripe[, month]) so two writers never wait on each other in a cycle.

  A new kept balance row gets ``nonneg`` as before (a lot of an inventory account), and
  the CHECK ``ck_balance_lot_nonnegative`` now judges the statement's folded sum per key:
  a statement that takes a lot below zero is refused whole (one that goes below and back
  within itself is not). PostgreSQL checks a CHECK on the row an ``INSERT … ON CONFLICT``
  proposes before it looks for the conflict, so a key the statement takes below zero
  proposes ``nonneg = false``: an existing row is updated and the CHECK judges the updated
  row with its own ``nonneg``; a new row so inserted for an inventory lot is refused by
  ``balances_new_lot_nonnegative`` (AFTER INSERT, only on rows inserted with a negative
  amount), with the CHECK's own error (SQLSTATE 23514, constraint
  ``ck_balance_lot_nonnegative``).

* The guards ``rdf_balance_guard`` and ``rdf_month_total_guard`` are unchanged (a write
  is let through when ``pg_trigger_depth() > 1``, i.e. from a trigger; the statement
  triggers write at depth 1, so the guard runs at depth 2). Their triggers get ``WHEN
  (pg_trigger_depth() < 1)``: the guard function now runs only for writes made outside any
  trigger, which it refuses as before; the same rule, without a plpgsql call for each row
  a posting trigger writes (an ``ON CONFLICT`` upsert fires both the INSERT and the UPDATE
  guard).

* The balance check keeps its guarantee — no transaction commits while an entry that
  received a posting in it does not sum to zero per commodity — at one check per postings
  statement instead of one per posting. The statement trigger ``postings_check_entries``
  inserts one row into ``entry_checks`` (the distinct entry ids of the statement) and
  deletes it again at once: the row only carries an event for the deferred constraint
  trigger ``postings_balanced`` on ``entry_checks``, which fires at commit (a deferred
  AFTER ROW event fires for a row deleted meanwhile, with the row's values) and checks all
  those entries in one query (a generic plan: a custom one was planned at every commit).
  Because the event is queued after the last row of its statement, it can never fire
  before a posting of that statement exists, whatever ``SET CONSTRAINTS`` does (immediate
  mode: it fires at the end of each postings statement, as the row trigger did). Every
  postings statement queues its own check, so an entry built over several statements is
  checked after the last one, and a posting added in a later transaction to an entry
  committed earlier gets that entry checked at that transaction's commit (the same rule as
  before: a balanced entry plus postings that do not balance among themselves never
  commits). A savepoint rolled back discards its events with its rows; a check that fired
  inside a rolled-back savepoint fires again at commit. ``entry_checks`` is UNLOGGED (its
  rows never outlive their statement) and empty between statements.

SQLite keeps its row triggers (0001, 0008): this revision does nothing there.

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

PG_UPGRADE = r"""
DROP TRIGGER postings_apply ON postings;
DROP TRIGGER postings_month_totals ON postings;
DROP TRIGGER postings_balanced ON postings;
DROP FUNCTION rdf_posting_apply();
DROP FUNCTION rdf_month_total_apply();
DROP FUNCTION rdf_entry_balanced();

CREATE FUNCTION rdf_postings_fold_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- PostgreSQL checks a CHECK constraint on the proposed row before it looks for a
  -- conflict, so a key the statement takes below zero proposes nonneg = false: an existing
  -- row is then updated (and the CHECK judges the updated row, with its own nonneg); a new
  -- row of an inventory lot so inserted is refused by balances_new_lot_nonnegative.
  INSERT INTO balances AS b (account_code, commodity, lot_key, stripe, amount, nonneg)
  SELECT d.account_code, d.commodity, d.lot_key, d.stripe, d.amount,
         d.lot_key <> 0 AND d.amount >= 0
         AND (SELECT a.is_inventory FROM accounts a WHERE a.code = d.account_code)
    FROM (SELECT account_code, commodity, COALESCE(lot_id, 0) AS lot_key, stripe,
                 SUM(amount) AS amount
            FROM new_postings
           GROUP BY account_code, commodity, COALESCE(lot_id, 0), stripe) d
   ORDER BY d.account_code, d.commodity, d.lot_key, d.stripe
  ON CONFLICT (account_code, commodity, lot_key, stripe)
  DO UPDATE SET amount = b.amount + EXCLUDED.amount;
  RETURN NULL;
END $$;

CREATE FUNCTION rdf_balance_new_lot_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT is_inventory FROM accounts WHERE code = NEW.account_code) THEN
    RAISE EXCEPTION 'new row for relation "balances" violates check constraint '
                    '"ck_balance_lot_nonnegative"'
      USING ERRCODE = '23514', TABLE = 'balances', CONSTRAINT = 'ck_balance_lot_nonnegative',
            DETAIL = format('Lot %s of inventory account %s would hold %s %s.',
                            NEW.lot_key, NEW.account_code, NEW.amount, NEW.commodity);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION rdf_postings_fold_month_totals() RETURNS trigger LANGUAGE plpgsql AS $$
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
  RETURN NULL;
END $$;

CREATE UNLOGGED TABLE entry_checks (entry_ids bigint[] NOT NULL);
COMMENT ON TABLE entry_checks IS
  'Always empty: each postings statement inserts and deletes one row here, whose deferred '
  'constraint trigger postings_balanced checks the statement''s entries at commit (0010).';

CREATE FUNCTION rdf_postings_check_entries() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE queued tid;
BEGIN
  INSERT INTO entry_checks (entry_ids)
  SELECT ids FROM (SELECT array_agg(DISTINCT entry_id) AS ids FROM new_postings) s
   WHERE ids IS NOT NULL
  RETURNING ctid INTO queued;
  IF queued IS NOT NULL THEN
    DELETE FROM entry_checks WHERE ctid = queued;  -- its event stays queued
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION rdf_entries_balanced() RETURNS trigger LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE bad_entry bigint; bad text;
BEGIN
  SELECT entry_id, commodity INTO bad_entry, bad FROM postings
   WHERE entry_id = ANY (NEW.entry_ids)
   GROUP BY entry_id, commodity HAVING SUM(amount) <> 0
   ORDER BY entry_id, commodity LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'entry % does not balance in %', bad_entry, bad
      USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER postings_apply AFTER INSERT ON postings
  REFERENCING NEW TABLE AS new_postings
  FOR EACH STATEMENT EXECUTE FUNCTION rdf_postings_fold_balances();
CREATE TRIGGER postings_month_totals AFTER INSERT ON postings
  REFERENCING NEW TABLE AS new_postings
  FOR EACH STATEMENT EXECUTE FUNCTION rdf_postings_fold_month_totals();
CREATE TRIGGER postings_check_entries AFTER INSERT ON postings
  REFERENCING NEW TABLE AS new_postings
  FOR EACH STATEMENT EXECUTE FUNCTION rdf_postings_check_entries();
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON entry_checks
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION rdf_entries_balanced();
CREATE TRIGGER balances_new_lot_nonnegative AFTER INSERT ON balances
  FOR EACH ROW WHEN (NEW.lot_key <> 0 AND NOT NEW.nonneg AND NEW.amount < 0)
  EXECUTE FUNCTION rdf_balance_new_lot_check();

DROP TRIGGER balances_guard ON balances;
CREATE TRIGGER balances_guard BEFORE INSERT OR UPDATE OR DELETE ON balances
  FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION rdf_balance_guard();
DROP TRIGGER month_totals_guard ON month_totals;
CREATE TRIGGER month_totals_guard BEFORE INSERT OR UPDATE OR DELETE ON month_totals
  FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION rdf_month_total_guard();
"""

#: The row triggers and their functions as 0001 and 0008 made them.
PG_DOWNGRADE = r"""
DROP TRIGGER postings_apply ON postings;
DROP TRIGGER postings_month_totals ON postings;
DROP TRIGGER postings_check_entries ON postings;
DROP TRIGGER balances_new_lot_nonnegative ON balances;
DROP TABLE entry_checks;
DROP FUNCTION rdf_postings_fold_balances();
DROP FUNCTION rdf_postings_fold_month_totals();
DROP FUNCTION rdf_postings_check_entries();
DROP FUNCTION rdf_entries_balanced();
DROP FUNCTION rdf_balance_new_lot_check();

DROP TRIGGER balances_guard ON balances;
CREATE TRIGGER balances_guard BEFORE INSERT OR UPDATE OR DELETE ON balances
  FOR EACH ROW EXECUTE FUNCTION rdf_balance_guard();
DROP TRIGGER month_totals_guard ON month_totals;
CREATE TRIGGER month_totals_guard BEFORE INSERT OR UPDATE OR DELETE ON month_totals
  FOR EACH ROW EXECUTE FUNCTION rdf_month_total_guard();

CREATE FUNCTION rdf_posting_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE balances SET amount = amount + NEW.amount
   WHERE account_code = NEW.account_code AND commodity = NEW.commodity
     AND lot_key = COALESCE(NEW.lot_id, 0) AND stripe = NEW.stripe;
  IF NOT FOUND THEN
    INSERT INTO balances (account_code, commodity, lot_key, stripe, amount, nonneg)
    VALUES (NEW.account_code, NEW.commodity, COALESCE(NEW.lot_id, 0), NEW.stripe, NEW.amount,
            COALESCE(NEW.lot_id, 0) <> 0
            AND (SELECT is_inventory FROM accounts WHERE code = NEW.account_code));
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION rdf_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE bad text;
BEGIN
  SELECT commodity INTO bad FROM postings WHERE entry_id = NEW.entry_id
   GROUP BY commodity HAVING SUM(amount) <> 0 LIMIT 1;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'entry % does not balance in %', NEW.entry_id, bad
      USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $$;

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

CREATE TRIGGER postings_apply AFTER INSERT ON postings
  FOR EACH ROW EXECUTE FUNCTION rdf_posting_apply();
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION rdf_entry_balanced();
CREATE TRIGGER postings_month_totals AFTER INSERT ON postings
  FOR EACH ROW EXECUTE FUNCTION rdf_month_total_apply();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_UPGRADE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DOWNGRADE)
