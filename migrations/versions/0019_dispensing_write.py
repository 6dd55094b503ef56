"""PostgreSQL: a dispensing's writes in one round trip, ``rdf_write_dispensings(jsonb)``.

The counter plans a dispensing in Python (reference snapshot, enrolments, prices, FEFO
picking: ``dispensing.service``) from what it read WITHOUT locks, then sends every row it
will write in one call of this function, which, in one transaction step:

1. inserts the idempotency answers (``claims``) first: a concurrent request with the same
   key queues on the unique index here, before it locks anything, and then fails with a
   unique violation (the caller retries and replays the stored answer);
2. takes ``FOR KEY SHARE`` on the row of each month booked into (``months``, sorted) and
   requires it open: a concurrent close waits for this write, as with ``booking_date``;
3. locks every kept balance row the postings touch, ``FOR NO KEY UPDATE`` in the global
   key order (account, commodity, lot, stripe), BEFORE any posting is inserted (a lock
   taken after the postings' foreign-key KEY SHARE locks stalls: MEASURED.md), and compares
   the lot balances the plan was priced on (``keys[].e``) with what they are now;
4. inserts the entries, their postings (the statement triggers of 0010 fold them into the
   kept balances and month totals and queue the balance check, exactly as for any other
   INSERT), the dispensings, their lines and lots, and the audit events.

A month no longer open, a balance row missing or a lot that changed since it was read
raises SQLSTATE ``RDF01`` ("stale"): nothing of the call is kept (the caller rolls back)
and the caller records the request through the locking path (``dispense_many``), which
answers with the same problem a dispensing has always got (a closed month, short stock…).
Every database guard stays in force: the rows go through ordinary INSERTs.

SQLite: nothing (the Python orchestration writes there).

Revision ID: 0019
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

FUNCTION = r"""
CREATE OR REPLACE FUNCTION rdf_write_dispensings(p jsonb) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    m text;
    st text;
    n_keys int := jsonb_array_length(COALESCE(p->'keys', '[]'::jsonb));
    n_locked int;
    n_stale int;
BEGIN
    INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response_body,
                                  created_at)
    SELECT r.scope, r.key, r.request_hash, r.status_code, r.response_body, r.created_at
    FROM jsonb_populate_recordset(NULL::idempotency_keys, p->'claims') AS r;

    FOR m IN SELECT x FROM jsonb_array_elements_text(p->'months') AS x ORDER BY x LOOP
        SELECT status INTO st FROM periods WHERE period = m FOR KEY SHARE;
        IF st IS DISTINCT FROM 'open' THEN
            RAISE EXCEPTION 'month % is not open', m USING ERRCODE = 'RDF01';
        END IF;
    END LOOP;

    -- The global lock order of stock.lots.lock_lot_positions and ledger.posting: first
    -- the lot rows of the places stock is taken from (the keys with an expected amount),
    -- sorted; then every other row, sorted. One sorted pass over all would lock 1200-…
    -- before 1400-… and deadlock against the locking path, which holds the lot rows first.
    SELECT count(*), count(*) FILTER (WHERE l.amount <> l.e)
    INTO n_locked, n_stale
    FROM (
        SELECT b.amount, k.e
        FROM jsonb_to_recordset(p->'keys')
             AS k(a varchar, c varchar, l bigint, s smallint, e bigint)
        JOIN balances AS b
          ON b.account_code = k.a AND b.commodity = k.c AND b.lot_key = k.l
         AND b.stripe = k.s
        WHERE k.e IS NOT NULL
        ORDER BY b.account_code, b.commodity, b.lot_key, b.stripe
        FOR NO KEY UPDATE OF b
    ) AS l;
    SELECT n_locked + count(*) INTO n_locked
    FROM (
        SELECT b.amount
        FROM jsonb_to_recordset(p->'keys')
             AS k(a varchar, c varchar, l bigint, s smallint, e bigint)
        JOIN balances AS b
          ON b.account_code = k.a AND b.commodity = k.c AND b.lot_key = k.l
         AND b.stripe = k.s
        WHERE k.e IS NULL
        ORDER BY b.account_code, b.commodity, b.lot_key, b.stripe
        FOR NO KEY UPDATE OF b
    ) AS l;
    IF n_locked <> n_keys OR n_stale > 0 THEN
        RAISE EXCEPTION 'stale: % of % balance rows locked, % changed since read',
            n_locked, n_keys, n_stale USING ERRCODE = 'RDF01';
    END IF;

    INSERT INTO entries (id, service_date, accounting_date, memo, source, reverses_id,
                         partition, idempotency_key, request_hash, created_at, created_by)
    SELECT r.id, r.service_date, r.accounting_date, r.memo, r.source, r.reverses_id,
           r.partition, r.idempotency_key, r.request_hash, r.created_at, r.created_by
    FROM jsonb_populate_recordset(NULL::entries, p->'entries') AS r;

    INSERT INTO postings (entry_id, account_code, commodity, lot_id, amount,
                          accounting_date, stripe)
    SELECT r.entry_id, r.account_code, r.commodity, r.lot_id, r.amount, r.accounting_date,
           r.stripe
    FROM jsonb_populate_recordset(NULL::postings, p->'postings') AS r;

    INSERT INTO dispensings (id, pharmacy, patient, service_date, accounting_date,
                             client_ref, currency, model, contract_id, scheme, payer,
                             fee_kind, total_price, total_subsidy, total_copayment, fee,
                             entry_id, created_at, created_by)
    SELECT r.id, r.pharmacy, r.patient, r.service_date, r.accounting_date, r.client_ref,
           r.currency, r.model, r.contract_id, r.scheme, r.payer, r.fee_kind,
           r.total_price, r.total_subsidy, r.total_copayment, r.fee, r.entry_id,
           r.created_at, r.created_by
    FROM jsonb_populate_recordset(NULL::dispensings, p->'dispensings') AS r;

    INSERT INTO dispensing_lines (id, dispensing_id, line_no, medicine, quantity,
                                  unit_price, price, subsidy, copayment, cost, days_supply)
    SELECT r.id, r.dispensing_id, r.line_no, r.medicine, r.quantity, r.unit_price, r.price,
           r.subsidy, r.copayment, r.cost, r.days_supply
    FROM jsonb_populate_recordset(NULL::dispensing_lines, p->'lines') AS r;

    INSERT INTO dispensing_lots (line_id, seq, lot_id, lot_code, quantity, value)
    SELECT r.line_id, r.seq, r.lot_id, r.lot_code, r.quantity, r.value
    FROM jsonb_populate_recordset(NULL::dispensing_lots, p->'lots') AS r;

    INSERT INTO audit_events (at, user_id, user_name, role, token_hash_prefix, method, path,
                              status, remote_addr, object_ref)
    SELECT r.at, r.user_id, r.user_name, r.role, r.token_hash_prefix, r.method, r.path,
           r.status, r.remote_addr, r.object_ref
    FROM jsonb_populate_recordset(NULL::audit_events, p->'audit') AS r;
END
$fn$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS rdf_write_dispensings(jsonb)")
