"""Set-based writes for batches: ids taken ahead, rows written with one statement a table.

A batch writes hundreds of rows into each of a few tables (entries, postings, dispensings
and their lines and lots, idempotency claims). Row by row, or as one INSERT with a VALUES
list, each row costs a statement or thousands of bind parameters for the driver to parse.
Instead:

* :func:`allocate_ids` takes the ids first, so rows that point at each other (a line at
  its dispensing, a dispensing at its entry) are built in memory and written without
  ``RETURNING`` or a later ``UPDATE``. PostgreSQL: ``nextval`` of the column's sequence, as
  the column's default would. SQLite: after the largest id, which is safe because a write
  transaction holds the database's write lock from ``BEGIN IMMEDIATE`` (``ledger.db``).
* :func:`insert_rows` writes the rows with one statement: on PostgreSQL ``COPY … FROM
  STDIN`` (psycopg formats the rows in C; an INSERT of arrays was slower, its text arrays
  being escaped in Python), on SQLite the driver's ``executemany``. A database error is
  raised as SQLAlchemy's (``IntegrityError`` for a unique key taken), as from ``execute``.

Triggers and constraints see exactly what an INSERT of the same rows would give them.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import psycopg
from psycopg import sql as pgsql
from sqlalchemy import Engine, Table, event, insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ledger.db import is_postgres


@cache
def _copy_sql(table: str, columns: tuple[str, ...]) -> pgsql.Composed:
    return pgsql.SQL("COPY {} ({}) FROM STDIN").format(
        pgsql.Identifier(table), pgsql.SQL(", ").join(map(pgsql.Identifier, columns))
    )


@cache
def _sqlite_insert(table: Table) -> Any:
    return insert(table)


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` with one statement."""
    if not rows:
        return
    if not is_postgres(session):
        session.execute(_sqlite_insert(table), list(rows))
        return
    columns = tuple(rows[0])
    statement = _copy_sql(table.name, columns)
    driver = session.connection().connection.dbapi_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement.as_string(None), None, exc, psycopg.Error) from exc


def allocate_ids(session: Session, table: Table, n: int) -> list[int]:
    """``n`` new ids for rows of ``table`` (its integer ``id`` column), ascending."""
    if n <= 0:
        return []
    if is_postgres(session):
        ids = session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": n},
        ).scalars()
        return sorted(int(i) for i in ids)
    return _sqlite_ids(session, table.name, n)


def _sqlite_ids(session: Session, table: str, n: int) -> list[int]:
    """SQLite: the ``n`` ids after the largest (the write lock is held from BEGIN)."""
    top = session.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one()
    return list(range(int(top) + 1, int(top) + 1 + n))


#: Ids taken ahead per engine and table (PostgreSQL): ``take_ids`` hands them out, so a
#: single write needs no ``nextval`` round trip of its own. Keyed by the engine object, so
#: a database dropped with its engine never hands out its ids again.
_pools: weakref.WeakKeyDictionary[Engine, dict[str, list[int]]] = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()
#: How many ids one refill takes from a sequence.
ID_BLOCK = 64


def _forget_pool(engine: Engine) -> None:
    with _pools_lock:
        _pools.pop(engine, None)


#: PostgreSQL: ``n`` entry ids drawn after the lock an INSERT into entries takes (revision
#: 0021's function; see :func:`entry_ids`).
_PG_ENTRY_IDS = text("SELECT rdf_entry_ids(:n)")


def entry_ids(session: Session, n: int) -> list[int]:
    """``n`` new journal entry ids, ascending, drawn in the writing transaction after it
    holds the lock an INSERT into entries takes (PostgreSQL), never from a pool.

    The sealer relies on it (``ledger.sealing._sealed_below``): an entry id below the
    sequence's value read while no transaction holds that lock belongs to a transaction
    that has ended. An id taken ahead (a pool, or ``nextval`` before the lock) could be
    inserted after such a reading, below the sealer's bound, and stay unsealed until a
    verify looked over the whole journal."""
    if n <= 0:
        return []
    if not is_postgres(session):
        return _sqlite_ids(session, "entries", n)
    return sorted(int(i) for i in session.execute(_PG_ENTRY_IDS, {"n": n}).scalars())


def take_ids(session: Session, table: Table, n: int) -> list[int]:
    """``n`` new ids for ``table``, ascending: from this process's pool of ids taken ahead
    (PostgreSQL; refilled ``ID_BLOCK`` at a time with :func:`allocate_ids`), else
    :func:`allocate_ids`. Ids are unique, not gapless, and across processes not in the
    order of the writes (as ``nextval`` already is across transactions). Not for journal
    entries: :func:`entry_ids`."""
    if table.name == "entries":
        raise ValueError("journal entry ids come from entry_ids, never from a pool")
    if n <= 0:
        return []
    if not is_postgres(session):
        return allocate_ids(session, table, n)
    engine = session.get_bind().engine
    with _pools_lock:
        if engine not in _pools:
            _pools[engine] = {}
            # a disposed engine may be pointed at a new copy of its database (tests do)
            event.listen(engine, "engine_disposed", _forget_pool)
        pool = _pools[engine].setdefault(table.name, [])
        if len(pool) >= n:
            taken, pool[:n] = pool[:n], []
            return taken
    fresh = allocate_ids(session, table, max(n, ID_BLOCK))
    with _pools_lock:
        pool = _pools.setdefault(engine, {}).setdefault(table.name, [])
        taken, rest = fresh[:n], fresh[n:]
        pool.extend(rest)
        pool.sort()
    return taken
