"""A version number for who may call, bumped by the database on every change of users and
passwords; version numbers that a restored database cannot repeat.

* ``auth_version``: one row, bumped by row triggers on ``users`` (a token made, rotated,
  revoked; a role, pharmacy, expiry changed, by any code or by hand with SQL) and on
  ``user_passwords`` (a password set or changed). Each worker keeps the principals of the
  tokens and users it has seen per process and checks this number once per request
  (``api.authcache``): a change is seen by the very next request after it commits.
* Both this number and ``ref_version`` (0009) now grow by 1 plus a random step of up to
  10⁹ instead of by 1. A cache trusts a version it has seen: with steps of 1, a database
  restored to an earlier state under a running process would climb back to the number
  the process holds, with other content, and be served stale. With random steps the
  numbers of two histories do not meet (the chance is about 10⁻⁹ per change). Equal
  versions still mean "nothing changed", larger still means "later".

Revision ID: 0017h
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017h"
down_revision = "0017"
branch_labels = None
depends_on = None

#: Tables whose rows decide who a request's credentials stand for.
AUTH_TABLES = ["users", "user_passwords"]
#: 0009's tables (the reference cache's).
REF_TABLES = [
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

PG_STEP = "1 + floor(random() * 1000000000)::bigint"
SQLITE_STEP = "1 + (abs(random()) % 1000000000)"

PG_AUTH_FUNCTION = f"""
CREATE FUNCTION rdf_auth_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE auth_version SET version = version + {PG_STEP} WHERE id = 1;
  RETURN NULL;
END $$;
"""


def _pg_ref_function(step: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION rdf_ref_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ref_version SET version = version + {step} WHERE id = 1;
  RETURN NULL;
END $$;
"""


def _sqlite_triggers(tables: list[str], name: str, table: str, step: str) -> None:
    for t in tables:
        for what in ("INSERT", "UPDATE", "DELETE"):
            trig = f"{t}_{name}_{what.lower()}"
            op.execute(f"DROP TRIGGER IF EXISTS {trig}")
            op.execute(
                f"CREATE TRIGGER {trig} AFTER {what} ON {t} BEGIN "
                f"UPDATE {table} SET version = version + {step} WHERE id = 1; END"
            )


def upgrade() -> None:
    op.create_table(
        "auth_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_auth_version_one_row"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # a random start too: a database made afresh does not repeat another's numbers
        op.execute(f"INSERT INTO auth_version (id, version) VALUES (1, {PG_STEP})")
        op.execute(PG_AUTH_FUNCTION)
        for t in AUTH_TABLES:
            op.execute(
                f"CREATE TRIGGER {t}_auth_bump AFTER INSERT OR UPDATE OR DELETE ON {t} "
                "FOR EACH ROW EXECUTE FUNCTION rdf_auth_bump()"
            )
            op.execute(
                f"CREATE TRIGGER {t}_auth_bump_truncate AFTER TRUNCATE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION rdf_auth_bump()"
            )
        op.execute(_pg_ref_function(PG_STEP))
        op.execute(f"UPDATE ref_version SET version = version + {PG_STEP}")
    else:
        op.execute(f"INSERT INTO auth_version (id, version) VALUES (1, {SQLITE_STEP})")
        _sqlite_triggers(AUTH_TABLES, "auth_bump", "auth_version", SQLITE_STEP)
        _sqlite_triggers(REF_TABLES, "ref_bump", "ref_version", SQLITE_STEP)
        op.execute(f"UPDATE ref_version SET version = version + {SQLITE_STEP}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for t in AUTH_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {t}_auth_bump ON {t}")
            op.execute(f"DROP TRIGGER IF EXISTS {t}_auth_bump_truncate ON {t}")
        op.execute("DROP FUNCTION IF EXISTS rdf_auth_bump()")
        op.execute(_pg_ref_function("1"))
    else:
        for t in AUTH_TABLES:
            for what in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {t}_auth_bump_{what}")
        _sqlite_triggers(REF_TABLES, "ref_bump", "ref_version", "1")
    op.drop_table("auth_version")
