"""One version number for all reference data, bumped by the database on every change.

The service caches reference data (chart of accounts, commodities, lots, periods, medicines,
pharmacies, price lists, schemes, contracts) per process and checks this number once per
write instead of reading those tables on every dispensing (see ``ledger.refcache``). The
number is kept by row-level triggers, so every change counts, whichever code (or person
with SQL) makes it; an ``INSERT … ON CONFLICT DO NOTHING`` that inserts nothing changes
nothing and bumps nothing.

Revision ID: 0009
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0003"
branch_labels = None
depends_on = None

#: Tables whose rows the reference cache holds (0001: ledger, 0002: stock, 0003: contracts).
TABLES = [
    "commodities",
    "accounts",
    "lots",
    "periods",
    "medicines",
    "pharmacies",
    "price_lists",
    "price_list_versions",
    "price_list_items",
    "subsidy_schemes",
    "scheme_medicines",
    "contracts",
]

PG_FUNCTION = """
CREATE FUNCTION rdf_ref_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ref_version SET version = version + 1 WHERE id = 1;
  RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "ref_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_ref_version_one_row"),
    )
    op.execute("INSERT INTO ref_version (id, version) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for t in TABLES:
            op.execute(
                f"CREATE TRIGGER {t}_ref_bump AFTER INSERT OR UPDATE OR DELETE ON {t} "
                "FOR EACH ROW EXECUTE FUNCTION rdf_ref_bump()"
            )
            op.execute(
                f"CREATE TRIGGER {t}_ref_bump_truncate AFTER TRUNCATE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION rdf_ref_bump()"
            )
    else:
        for t in TABLES:
            for what in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {t}_ref_bump_{what.lower()} AFTER {what} ON {t} BEGIN "
                    "UPDATE ref_version SET version = version + 1 WHERE id = 1; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for t in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {t}_ref_bump ON {t}")
            op.execute(f"DROP TRIGGER IF EXISTS {t}_ref_bump_truncate ON {t}")
        op.execute("DROP FUNCTION IF EXISTS rdf_ref_bump()")
    else:
        for t in TABLES:
            for what in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {t}_ref_bump_{what}")
    op.drop_table("ref_version")
