"""Ledger core: commodities, chart of accounts, lots, entries, postings, kept balances,
periods, idempotency keys, users; the database's own guards of the invariants.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: code, name, type, carries, is_header, is_inventory, currency
CHART = [
    ("1010", "Bank KHR", "asset", "money", False, False, "KHR"),
    ("1020", "Bank USD", "asset", "money", False, False, "USD"),
    ("1200", "Due from pharmacy", "asset", "money", True, False, None),
    ("1300", "Due from subsidy payer", "asset", "money", True, False, None),
    ("1400", "Medicine inventory", "asset", "money+units", True, True, None),
    (
        "1400-CENTRAL",
        "Medicine inventory at central store",
        "asset",
        "money+units",
        False,
        True,
        None,
    ),
    ("2000", "Due to supplier", "liability", "money", True, False, None),
    ("2100", "Due to pharmacy", "liability", "money", True, False, None),
    ("3000", "Fund capital", "equity", "money", False, False, None),
    ("3100", "Accumulated surplus", "equity", "money", False, False, None),
    ("4000", "Medicine revenue", "income", "money", False, False, None),
    ("5000", "Cost of medicines dispensed", "expense", "money+units", False, False, None),
    ("5100", "Dispensing fees", "expense", "money", False, False, None),
    ("5200", "Expiry and damage losses", "expense", "money+units", False, False, None),
    ("5300", "Subsidies borne by the fund", "expense", "money", False, False, None),
    ("5400", "Stock count differences", "expense", "money+units", False, False, None),
    ("9000", "Medicine units received", "memo", "units", False, False, None),
]

PG_FUNCTIONS = r"""
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

CREATE FUNCTION rdf_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% on % is refused: the journal is append-only; post a reversing entry',
    TG_OP, TG_TABLE_NAME USING ERRCODE = '42501';
END $$;

CREATE FUNCTION rdf_entry_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.seal IS NULL AND OLD.seal_seq IS NULL
     AND NEW.seal IS NOT NULL AND NEW.seal_seq IS NOT NULL
     AND (NEW.id, NEW.service_date, NEW.accounting_date, NEW.memo, NEW.source,
          NEW.reverses_id, NEW.partition, NEW.idempotency_key, NEW.request_hash,
          NEW.created_at, NEW.created_by)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.service_date, OLD.accounting_date, OLD.memo, OLD.source,
          OLD.reverses_id, OLD.partition, OLD.idempotency_key, OLD.request_hash,
          OLD.created_at, OLD.created_by) THEN
    RETURN NEW;  -- the sealer gives an entry its place in the chain, once
  END IF;
  RAISE EXCEPTION '% on entries is refused: entries are immutable once posted', TG_OP
    USING ERRCODE = '42501';
END $$;

CREATE FUNCTION rdf_balance_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF pg_trigger_depth() > 1 THEN
    RETURN COALESCE(NEW, OLD);  -- changed by the posting trigger: allowed
  END IF;
  IF TG_OP = 'INSERT' AND NEW.amount = 0 THEN
    RETURN NEW;  -- an empty kept balance, made ready to be locked
  END IF;
  RAISE EXCEPTION 'kept balances change only through postings (% refused)', TG_OP
    USING ERRCODE = '42501';
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

CREATE TRIGGER postings_apply AFTER INSERT ON postings
  FOR EACH ROW EXECUTE FUNCTION rdf_posting_apply();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
  FOR EACH ROW EXECUTE FUNCTION rdf_append_only();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
  FOR EACH STATEMENT EXECUTE FUNCTION rdf_append_only();
CREATE TRIGGER entries_guard BEFORE UPDATE OR DELETE ON entries
  FOR EACH ROW EXECUTE FUNCTION rdf_entry_guard();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
  FOR EACH STATEMENT EXECUTE FUNCTION rdf_append_only();
CREATE TRIGGER balances_guard BEFORE INSERT OR UPDATE OR DELETE ON balances
  FOR EACH ROW EXECUTE FUNCTION rdf_balance_guard();
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION rdf_entry_balanced();
"""

SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER postings_apply AFTER INSERT ON postings BEGIN
      INSERT OR IGNORE INTO balances (account_code, commodity, lot_key, stripe, amount, nonneg)
      VALUES (NEW.account_code, NEW.commodity, COALESCE(NEW.lot_id, 0), NEW.stripe, 0,
              COALESCE(NEW.lot_id, 0) <> 0
              AND (SELECT is_inventory FROM accounts WHERE code = NEW.account_code));
      UPDATE balances SET amount = amount + NEW.amount
       WHERE account_code = NEW.account_code AND commodity = NEW.commodity
         AND lot_key = COALESCE(NEW.lot_id, 0) AND stripe = NEW.stripe;
    END
    """,
    """
    CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings BEGIN
      SELECT RAISE(ABORT, 'UPDATE on postings is refused: the journal is append-only');
    END
    """,
    """
    CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings BEGIN
      SELECT RAISE(ABORT, 'DELETE on postings is refused: the journal is append-only');
    END
    """,
    """
    CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN
      SELECT RAISE(ABORT, 'DELETE on entries is refused: entries are immutable once posted');
    END
    """,
    """
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
    """,
]


def upgrade() -> None:
    op.create_table(
        "commodities",
        sa.Column("code", sa.String(24), primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("exponent", sa.SmallInteger, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.CheckConstraint("kind IN ('currency', 'medicine')", name="ck_commodity_kind"),
        sa.CheckConstraint("exponent >= 0 AND exponent <= 6", name="ck_commodity_exponent"),
    )
    op.create_table(
        "accounts",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("parent", sa.String(40), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(12), nullable=False),
        sa.Column("carries", sa.String(12), nullable=False),
        sa.Column("is_header", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("is_inventory", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("currency", sa.String(24), nullable=True),
        sa.Column("pharmacy", sa.String(24), nullable=True, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "type IN ('asset', 'liability', 'equity', 'income', 'expense', 'memo')",
            name="ck_account_type",
        ),
        sa.CheckConstraint(
            "carries IN ('money', 'units', 'money+units')", name="ck_account_carries"
        ),
    )
    op.create_table(
        "lots",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("commodity", sa.String(24), sa.ForeignKey("commodities.code"), nullable=False),
        sa.Column("lot_code", sa.String(40), nullable=False),
        sa.Column("expiry_on", sa.Date, nullable=False),
        sa.Column("received_on", sa.Date, nullable=False),
        sa.Column("supplier", sa.String(24), nullable=True),
        sa.UniqueConstraint("commodity", "lot_code", name="uq_lot_code"),
    )
    op.create_table(
        "entries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("service_date", sa.Date, nullable=False),
        sa.Column("accounting_date", sa.Date, nullable=False, index=True),
        sa.Column("memo", sa.Text, nullable=False),
        sa.Column("source", sa.String(64), nullable=True, index=True),
        sa.Column("reverses_id", BigId, sa.ForeignKey("entries.id"), nullable=True, index=True),
        sa.Column("partition", sa.String(24), nullable=True),
        sa.Column("idempotency_key", sa.String(300), nullable=True, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("seal_seq", sa.BigInteger, nullable=True, unique=True),
        sa.Column("seal", sa.String(64), nullable=True),
    )
    op.create_table(
        "postings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("entry_id", BigId, sa.ForeignKey("entries.id"), nullable=False, index=True),
        sa.Column("account_code", sa.String(40), sa.ForeignKey("accounts.code"), nullable=False),
        sa.Column("commodity", sa.String(24), sa.ForeignKey("commodities.code"), nullable=False),
        sa.Column("lot_id", BigId, sa.ForeignKey("lots.id"), nullable=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("accounting_date", sa.Date, nullable=False),
        sa.Column("stripe", sa.SmallInteger, nullable=False, server_default="0"),
        sa.CheckConstraint("amount <> 0", name="ck_posting_nonzero"),
    )
    op.create_index(
        "ix_postings_account_date",
        "postings",
        ["account_code", "commodity", "accounting_date", "id"],
    )
    op.create_index("ix_postings_date", "postings", ["accounting_date"])
    op.create_table(
        "balances",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_code", sa.String(40), nullable=False),
        sa.Column("commodity", sa.String(24), nullable=False),
        sa.Column("lot_key", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("stripe", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("amount", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("nonneg", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint(
            "account_code", "commodity", "lot_key", "stripe", name="uq_balance_key"
        ),
        sa.CheckConstraint("NOT nonneg OR amount >= 0", name="ck_balance_lot_nonnegative"),
    )
    op.create_table(
        "periods",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("status", sa.String(8), nullable=False, server_default="open"),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(100), nullable=True),
        sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("merkle_root", sa.String(64), nullable=True),
        sa.Column("last_seal", sa.String(64), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_period_status"),
    )
    op.create_table(
        "period_balances",
        sa.Column("period", sa.String(7), sa.ForeignKey("periods.period"), primary_key=True),
        sa.Column("account_code", sa.String(40), primary_key=True),
        sa.Column("commodity", sa.String(24), primary_key=True),
        sa.Column("lot_key", sa.BigInteger, primary_key=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.SmallInteger, nullable=False),
        sa.Column("response_body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),
    )
    op.create_table(
        "users",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(12), nullable=False),
        sa.Column("pharmacy", sa.String(24), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'finance', 'auditor', 'pharmacist')", name="ck_user_role"
        ),
        sa.CheckConstraint(
            "(role = 'pharmacist') = (pharmacy IS NOT NULL)", name="ck_user_pharmacist_pharmacy"
        ),
    )

    commodities = sa.table(
        "commodities",
        sa.column("code"),
        sa.column("kind"),
        sa.column("exponent"),
        sa.column("name"),
    )
    op.bulk_insert(
        commodities,
        [
            {"code": "KHR", "kind": "currency", "exponent": 0, "name": "Cambodian riel"},
            {"code": "USD", "kind": "currency", "exponent": 2, "name": "US dollar"},
        ],
    )
    accounts = sa.table(
        "accounts",
        sa.column("code"),
        sa.column("parent"),
        sa.column("name"),
        sa.column("type"),
        sa.column("carries"),
        sa.column("is_header", sa.Boolean),
        sa.column("is_inventory", sa.Boolean),
        sa.column("currency"),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        accounts,
        [
            {
                "code": c,
                "parent": c.split("-")[0] if "-" in c else None,
                "name": n,
                "type": t,
                "carries": car,
                "is_header": h,
                "is_inventory": inv,
                "currency": cur,
                "created_at": now,
            }
            for c, n, t, car, h, inv, cur in CHART
        ],
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTIONS)
    else:
        for ddl in SQLITE_TRIGGERS:
            op.execute(ddl)


def downgrade() -> None:
    for table in [
        "users",
        "idempotency_keys",
        "period_balances",
        "periods",
        "balances",
        "postings",
        "entries",
        "lots",
        "accounts",
        "commodities",
    ]:
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        for fn in [
            "rdf_posting_apply",
            "rdf_append_only",
            "rdf_entry_guard",
            "rdf_balance_guard",
            "rdf_entry_balanced",
        ]:
            op.execute(f"DROP FUNCTION IF EXISTS {fn}() CASCADE")
