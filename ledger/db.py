"""Database engine, sessions and transaction discipline.

SQLite is the embedded default and PostgreSQL the production database. On SQLite every
write transaction starts with ``BEGIN IMMEDIATE`` so writers queue at the start instead
of failing half-way; read-only requests start a deferred transaction. On PostgreSQL the
default READ COMMITTED isolation is used and correctness comes from explicit row locks
taken in a fixed order (see ``ledger.posting``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

from ledger.refcache import CACHE_KEY, Loader, RefCache

T = TypeVar("T")

#: When true, the next SQLite transaction on this context starts deferred (reads only).
sqlite_read_only: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sqlite_read_only", default=False
)


class Base(DeclarativeBase):
    """Declarative base of every table; Alembic migrations are the only way tables are made."""


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """Create an engine with the pragmas and transaction behaviour this service relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=NullPool if ":memory:" not in url else None,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN" if sqlite_read_only.get() else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True)


def is_postgres(session_or_engine: Session | Engine) -> bool:
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, Session)
        else (session_or_engine)
    )
    return bind.dialect.name == "postgresql"


_side_engines: dict[str, Engine] = {}


def side_engine(engine: Engine) -> Engine:
    """An unpooled engine to ``engine``'s database, for short transactions of their own
    (a balance row made ready to lock, a reference snapshot). A request already holds one
    pooled connection; waiting for a second from the same pool starves it (every connection
    held by a request that waits for another) under concurrency."""
    key = engine.url.render_as_string(hide_password=False)
    if key not in _side_engines:
        _side_engines[key] = (
            make_engine(key)
            if engine.dialect.name == "sqlite"  # NullPool, BEGIN rules
            else create_engine(engine.url, poolclass=NullPool)
        )
    return _side_engines[key]


class Database:
    """An engine and its session factory, kept on the Flask app as ``app.extensions['rdf_db']``.

    ``reference_parts``: what its reference snapshot holds (``ledger.refcache``), a loader
    per name; the application factory wires them (``app.REFERENCE_PARTS``). A database made
    without them (a script that only posts and reads the journal) has an empty snapshot."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        reference_parts: Mapping[str, Loader] | None = None,
    ) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self._side: Callable[[], Session] | None = None
        if ":memory:" not in url:
            # Reference snapshots are read on connections of their own, outside the pool.
            self._side = sessionmaker(side_engine(self.engine), expire_on_commit=False)
        self.refcache = RefCache(
            reference_parts or {}, self.read_committed if self._side is not None else None
        )
        self.sessionmaker = sessionmaker(
            self.engine, expire_on_commit=False, info={CACHE_KEY: self.refcache}
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction is rolled back unless the caller committed it."""
        s = self.sessionmaker()
        try:
            yield s
        finally:
            s.close()

    @contextmanager
    def read_committed(self) -> Iterator[Session]:
        """A read-only session on a connection of its own, outside the pool: committed data
        only, in one consistent read (REPEATABLE READ on PostgreSQL, a deferred transaction
        on SQLite). Closing it detaches the rows read, still loaded."""
        if self._side is None:
            raise RuntimeError(f"{self.url}: an in-memory database has no second connection")
        token = sqlite_read_only.set(True)
        try:
            with self._side() as s:
                if is_postgres(s):
                    s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                yield s
        finally:
            sqlite_read_only.reset(token)

    def dispose(self) -> None:
        self.engine.dispose()


#: PostgreSQL SQLSTATEs that mean "try the whole transaction again": serialization
#: failure and deadlock. SQLite's "database is locked" is the embedded equivalent.
RETRYABLE_SQLSTATES = {"40001", "40P01"}


def is_retryable(exc: BaseException) -> bool:
    """True when a failed transaction may simply be run again."""
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if code in RETRYABLE_SQLSTATES:
            return True
        if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
            return True
    return False


def run_in_transaction(session: Session, work: Callable[[], T], *, attempts: int = 5) -> T:
    """Run ``work`` and commit; on a serialization failure or deadlock, roll back and retry.

    ``work`` must be re-runnable from scratch: it reads everything it needs inside the
    transaction. Retries are invisible to the client (never surfaced as a 5xx).
    """
    for attempt in range(1, attempts + 1):
        try:
            result = work()
            session.commit()
            return result
        except DBAPIError as exc:
            session.rollback()
            if attempt == attempts or not is_retryable(exc):
                raise
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")  # pragma: no cover
