"""PostgreSQL: ``rdf_entry_ids(n)``, journal entry ids drawn after the entries lock.

The write paths draw an entry's id before they insert the entry (postings, a dispensing
and the one-trip payload point at it: ``ledger.bulk.entry_ids``). The sealer's bound
(``ledger.sealing._sealed_below``) holds only if an id is drawn while its transaction
holds the lock an INSERT into entries takes (``RowExclusiveLock``): this function takes
that lock, then draws ``n`` ids from the entries' sequence, in one statement.

SQLite: nothing (the write lock is held from BEGIN IMMEDIATE).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

FUNCTION = r"""
CREATE OR REPLACE FUNCTION rdf_entry_ids(n integer) RETURNS SETOF bigint
LANGUAGE plpgsql AS $fn$
BEGIN
    LOCK TABLE entries IN ROW EXCLUSIVE MODE;
    RETURN QUERY SELECT nextval(pg_get_serial_sequence('entries', 'id'))
                 FROM generate_series(1, n);
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
    op.execute("DROP FUNCTION IF EXISTS rdf_entry_ids(integer)")
