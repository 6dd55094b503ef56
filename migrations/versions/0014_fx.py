"""Two currencies: exchange rates, the currency exchange account 9100, exchanges, the
conversions events made, and landed costs of receipts (DESIGN.md "Two currencies").

* ``fx_rates``: KHR per 1 USD, one per date, kept exactly (the text as given, normalised,
  and the integer number of millionths). History: the database refuses UPDATE and DELETE.
* ``fx_conversions``: the one conversion each cross-currency event made (its rate, stated
  or looked up, and the two amounts that met in 9100), for the auditor. Append-only.
* ``fx_exchanges``: the source document of ``POST /fx/exchanges`` (entry source
  ``fx-exchange:{id}``). Append-only.
* ``landed_costs``: freight, port, customs or bank fees added to a stock receipt (entry source
  ``landed-cost:{id}``). Append-only. ``receipt_id`` is the receipt's ``stock_movements`` id
  (no foreign key, so this revision needs only the journal of 0001).
* account ``9100`` Currency exchange (memo, money in both currencies).

Revision ID: 0014
Revises: 0012
Create Date: 2026-11-24
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: Accounts this revision adds to the chart (code, name, type, carries, is_header,
#: is_inventory, currency), as ``ledger.chart.ADDED_BY_0014``.
ACCOUNTS = [
    ("9100", "Currency exchange", "memo", "money", False, False, None),
]

#: The append-only tables of this revision.
APPEND_ONLY = ["fx_rates", "fx_conversions", "fx_exchanges", "landed_costs"]


def _timestamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("on_date", sa.Date, nullable=False, unique=True),
        sa.Column("base", sa.String(24), nullable=False),
        sa.Column("quote", sa.String(24), nullable=False),
        sa.Column("rate", sa.String(32), nullable=False),
        sa.Column("rate_micro", sa.BigInteger, nullable=False),
        *_timestamps(),
        sa.CheckConstraint("rate_micro > 0", name="ck_fx_rate_positive"),
        sa.CheckConstraint("base = 'USD' AND quote = 'KHR'", name="ck_fx_rate_pair"),
    )
    op.create_table(
        "fx_conversions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("entry_id", BigId, sa.ForeignKey("entries.id"), nullable=False, index=True),
        sa.Column("source", sa.String(64), nullable=False, index=True),
        sa.Column("on_date", sa.Date, nullable=False),
        sa.Column("rate", sa.String(32), nullable=False),
        sa.Column("rate_micro", sa.BigInteger, nullable=False),
        #: True when the event stated its rate; else the rate of ``rate_date`` was used
        sa.Column("stated", sa.Boolean, nullable=False),
        sa.Column("rate_date", sa.Date, nullable=True),
        sa.Column("from_currency", sa.String(24), nullable=False),
        sa.Column("from_amount", sa.BigInteger, nullable=False),
        sa.Column("to_currency", sa.String(24), nullable=False),
        sa.Column("to_amount", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rate_micro > 0", name="ck_fx_conversion_rate_positive"),
    )
    op.create_table(
        "fx_exchanges",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("on_date", sa.Date, nullable=False, index=True),
        sa.Column("sell_currency", sa.String(24), nullable=False),
        sa.Column("sell_amount", sa.BigInteger, nullable=False),
        sa.Column("buy_currency", sa.String(24), nullable=False),
        sa.Column("buy_amount", sa.BigInteger, nullable=False),
        sa.Column("rate", sa.String(32), nullable=False),
        sa.Column("rate_micro", sa.BigInteger, nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "sell_amount > 0 AND buy_amount > 0 AND sell_currency <> buy_currency",
            name="ck_fx_exchange_legs",
        ),
    )
    op.create_table(
        "landed_costs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("receipt_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("on_date", sa.Date, nullable=False),
        sa.Column("counterparty", sa.String(24), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("currency", sa.String(24), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("rate", sa.String(32), nullable=True),
        sa.Column("rate_micro", sa.BigInteger, nullable=True),
        #: the amount in the functional currency, allocated to the receipt's lots
        sa.Column("functional_amount", sa.BigInteger, nullable=False),
        *_timestamps(),
        sa.CheckConstraint("amount > 0 AND functional_amount > 0", name="ck_landed_cost_amount"),
    )
    accounts = sa.table(
        "accounts",
        sa.column("code"),
        sa.column("parent"),
        sa.column("name"),
        sa.column("type"),
        sa.column("carries"),
        sa.column("is_header"),
        sa.column("is_inventory"),
        sa.column("currency"),
        sa.column("pharmacy"),
        sa.column("created_at"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        accounts,
        [
            {
                "code": code,
                "parent": None,
                "name": name,
                "type": typ,
                "carries": carries,
                "is_header": header,
                "is_inventory": inventory,
                "currency": currency,
                "pharmacy": None,
                "created_at": now,
            }
            for code, name, typ, carries, header, inventory, currency in ACCOUNTS
        ],
    )
    if op.get_bind().dialect.name == "postgresql":
        for t in APPEND_ONLY:
            # rdf_append_only() is the journal's own guard (revision 0001)
            op.execute(
                f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                "FOR EACH ROW EXECUTE FUNCTION rdf_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION rdf_append_only()"
            )
    else:
        for t in APPEND_ONLY:
            for what in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {t}_no_{what.lower()} BEFORE {what} ON {t} BEGIN "
                    f"SELECT RAISE(ABORT, '{what} on {t} is refused: it is history, "
                    "append-only'); END"
                )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for t in APPEND_ONLY:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}")
            op.execute(f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}")
        else:
            for what in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {t}_no_{what}")
    op.execute("DELETE FROM accounts WHERE code IN ('9100')")
    for t in reversed(APPEND_ONLY):
        op.drop_table(t)
