"""The sealer: chains committed journal entries, one at a time, in commit order (the
database side of tamper evidence; the hashing itself is :mod:`ledger.seal_chain`).

Posting an entry does not seal it (DESIGN.md invariant 7: no write may wait on one hot
row). ``seal_pending`` runs in its own transactions: it takes the unsealed entries in id
order, gives each the next ``seal_seq`` and ``seal = entry_seal(previous, entry)``
(:mod:`ledger.seal_chain`), and moves the checkpoint (``seal_checkpoints``: count and last
seal) forward in the same transaction.

When it runs after a write (:class:`Sealer`, the app's ``rdf_after_commit`` hook, chosen
by ``RDF_SEAL_MODE``):

* ``background`` (the default): the hook only wakes a per-process daemon thread (O(1), no
  SQL on the request). The thread seals everything pending, at most once every
  ``RDF_SEAL_INTERVAL_MS`` (default 200 ms), so one sealing transaction covers every entry
  committed meanwhile instead of one per write. An entry is sealed within about one
  interval of its commit while its process lives; if the process dies first, the next
  sealer (any process's next write, a verify, a document, a month close, ``flask seal``)
  picks it up, since sealing always takes *every* unsealed entry in id order.
* ``inline`` (the default under ``TESTING``): seal right after each commit, on the
  request's thread.

Whatever the mode, verify, month close, documents and ``flask seal`` seal synchronously
(:func:`seal_pending` with ``blocking=True``) before they read a seal, so nothing
committed before them is left unsealed; and no sealing failure ever fails a write.

One sealer at a time:

* PostgreSQL: a transaction-scoped advisory lock. The after-commit path only *tries* it
  (``pg_try_advisory_xact_lock``): if another sealer holds it, the background thread looks
  again one interval later (that sealer may have read the unsealed entries before ours
  were committed). Verify, month close and the ``seal`` command wait for it
  (``pg_advisory_xact_lock``) so nothing is left behind when they read.
* SQLite: the database's single write lock (every write transaction is ``BEGIN IMMEDIATE``).

The sealer chains from the checkpoint, never from whatever the entries table holds: if the
chain's head in the table does not match the checkpoint (a deleted tail, a rewritten seal),
it refuses to seal further, so the evidence stays as the tamperer left it for
``/audit/verify`` to report.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    SmallInteger,
    String,
    and_,
    bindparam,
    case,
    exists,
    extract,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from ledger import clock
from ledger.db import Base, is_postgres, sqlite_read_only
from ledger.errors import Conflict
from ledger.model import month_bounds
from ledger.seal_chain import (
    GENESIS,
    PostingRow,
    SealEntry,
    SealPosting,
    canonical_bytes_of,
    chain_seal,
    period_root,
    verify_chain,
)
from ledger.tables import Balance, DayTotal, Entry, EntrySeal, Lot, MonthTotal, Period, Posting

log = logging.getLogger("rdf.sealing")

#: The advisory lock key of the sealer ("rdfseal" as a number; any constant would do).
SEALER_LOCK_KEY = 0x7264667365616C

#: Entries sealed per transaction.
BATCH_SIZE = 500

SessionFactory = Callable[[], Session]

#: A check of source documents against the journal that ``verify`` runs (wired by the app,
#: e.g. dispensings against their entries): a sentence per document that no longer fits.
VerifyCheck = Callable[[Session], list[str]]

#: Problems a verify report names, at most (``problems``); the count is in ``reason``.
PROBLEMS_SHOWN = 50


class SealCheckpoint(Base):
    """How far the chain reached when last sealed: the anchor against a truncated tail.

    Also where the sealer looks for unsealed entries (revision 0018, hints, not evidence):
    ``unsealed_from``, every lower entry id is sealed; ``pending_from``/``pending_at``
    (PostgreSQL), the next entry id at the last run and when it was read (see
    :func:`_sealed_below`)."""

    __tablename__ = "seal_checkpoints"
    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    seal_count: Mapped[int] = mapped_column(BigInteger)
    last_seal: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    unsealed_from: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pending_from: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pending_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ChainBroken(Conflict):
    """The entries table does not continue the checkpoint: someone altered the chain.

    Sealing stops (409 where a request needed it, e.g. a month close) until an auditor has
    looked at ``/audit/verify``."""

    slug = "chain-broken"
    title = "The hash chain does not continue its checkpoint"


# --------------------------------------------------------------------------- locking


def take_lock(session: Session, *, blocking: bool) -> bool:
    """Take the sealer's lock for the session's transaction; False if busy (try mode)."""
    if is_postgres(session):
        if blocking:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEALER_LOCK_KEY})
            return True
        return bool(
            session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEALER_LOCK_KEY})
        )
    # SQLite: the transaction began with BEGIN IMMEDIATE, so it holds the write lock.
    session.execute(select(1))
    return True


# --------------------------------------------------------------------------- one run

_E = Entry.__table__.c
_S = EntrySeal.__table__.c
_P = Posting.__table__.c
_L = Lot.__table__.c
_CP = SealCheckpoint.__table__.c

#: The entries not sealed yet, from entry id ``:from`` on (every lower id is sealed: the
#: checkpoint's ``unsealed_from``, see :func:`seal_batch`), in id order, ``:limit`` of them:
#: only the columns a seal covers.
_UNSEALED = (
    select(_E.id, _E.service_date, _E.accounting_date, _E.memo, _E.source, _E.reverses_id)
    .where(
        _E.id >= bindparam("from", type_=BigInteger),
        ~exists().where(_S.entry_id == _E.id),
    )
    .order_by(_E.id)
    .limit(bindparam("limit", type_=Integer))
)

#: A posting as it is sealed, its lot named as :func:`_lot_name` names it: NULL without a
#: lot (the outer join gives NULL parts, and NULL || ... is NULL), else "commodity:code".
_POSTINGS = select(
    _P.entry_id, _P.account_code, _P.commodity, _L.commodity + ":" + _L.lot_code, _P.amount
).select_from(Posting.__table__.outerjoin(Lot.__table__, _L.id == _P.lot_id))

#: The postings of entries ``:ids``, in one statement; PostgreSQL: one array parameter
#: (see :func:`_pg_array`), however many entries.
_POSTINGS_PG = _POSTINGS.where(_P.entry_id == text("ANY(CAST(:ids AS BIGINT[]))"))
_POSTINGS_SQLITE = _POSTINGS.where(_P.entry_id.in_(bindparam("ids", expanding=True)))

#: The chain's head: the seal with the highest seal_seq whose entry still exists (a seal
#: row left behind by a deleted entry is no head to chain from).
_HEAD = (
    select(_S.seal_seq, _S.seal)
    .select_from(EntrySeal.__table__.join(Entry.__table__, _E.id == _S.entry_id))
    .order_by(_S.seal_seq.desc())
    .limit(1)
)

#: In one statement: the checkpoint (count, last seal, and where unsealed entries begin;
#: NULLs when there is none yet) and the chain's head (seal_seq and seal of the highest
#: seal_seq).
_HEAD_OF_CHAIN = select(
    select(_CP.seal_count).where(_CP.id == 1).scalar_subquery(),
    select(_CP.last_seal).where(_CP.id == 1).scalar_subquery(),
    _HEAD.with_only_columns(_S.seal_seq).scalar_subquery(),
    _HEAD.with_only_columns(_S.seal).scalar_subquery(),
    select(_CP.unsealed_from).where(_CP.id == 1).scalar_subquery(),
    select(_CP.pending_from).where(_CP.id == 1).scalar_subquery(),
    select(_CP.pending_at).where(_CP.id == 1).scalar_subquery(),
)

#: PostgreSQL, read before :data:`_PG_WRITERS`: one past the last entry id handed out so
#: far, and when (the database's clock).
_PG_NEXT_ID = text("SELECT (SELECT last_value FROM entries_id_seq) + 1, clock_timestamp()")

#: PostgreSQL: the transactions (other than this one) that hold the lock an INSERT into
#: entries takes before it draws an id: how many, the start of the oldest, and whether one
#: of them cannot be seen (another role's session, a prepared transaction).
_PG_WRITERS = text(
    "SELECT count(*), min(a.xact_start), bool_or(a.xact_start IS NULL)"
    " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'relation' AND l.relation = 'entries'::regclass"
    " AND l.mode = 'RowExclusiveLock' AND l.pid IS DISTINCT FROM pg_backend_pid()"
)

#: SQLite: one past the last entry id (the sealer holds the write lock: nothing is in flight).
_SQLITE_NEXT_ID = select(func.coalesce(func.max(_E.id), 0) + 1)

#: PostgreSQL: every seal of a run in one statement; an entry or a place already sealed is
#: skipped (and the run then refused, see :func:`seal_batch`). Arrays as :func:`_pg_array`.
_SEAL_ALL_PG = text(
    "INSERT INTO entry_seals (seal_seq, entry_id, seal)"
    " SELECT v.seq, v.id, v.seal"
    " FROM unnest(CAST(:ids AS BIGINT[]), CAST(:seqs AS BIGINT[]), CAST(:seals AS VARCHAR[]))"
    " AS v(id, seq, seal)"
    " ON CONFLICT DO NOTHING"
)

#: SQLite: one statement per entry, executed as one executemany.
_SEAL_ONE = text(
    "INSERT OR IGNORE INTO entry_seals (seal_seq, entry_id, seal) VALUES (:seq, :eid, :sl)"
)


def _pg_array(values: list[int] | list[str]) -> str:
    """``values`` as a PostgreSQL array literal (``{1,2,3}``), which the statement casts to
    its array type. Only for ints and the sealer's own lower-case hex seals: text that
    needs no quoting in an array literal. (psycopg adapts a Python list element by element:
    some 3 us per element, as much as a fifth of sealing the entry.)"""
    return "{" + ",".join(map(str, values)) + "}"


def read_checkpoint(session: Session) -> tuple[int, str]:
    row = session.get(SealCheckpoint, 1)
    if row is None:
        return 0, GENESIS
    return int(row.seal_count), row.last_seal


def _sealed_below(
    conn: Any, postgres: bool, pending: tuple[int | None, datetime | None]
) -> tuple[int, tuple[int | None, datetime | None]]:
    """``(bound, next pending)``: every entry id below ``bound`` belongs to a transaction
    that has ended (committed, so visible to the next statement, or rolled back), so an
    entry below it that the run does not see unsealed never will be.

    SQLite: the sealer holds the write lock, so no entry is in flight: one past the last id.
    PostgreSQL: an INSERT into entries takes ``RowExclusiveLock`` on the table before it
    draws an id, and holds it to the end of its transaction. The next id is read first,
    then the lock holders: with none, every id drawn before the read has ended; with some,
    an earlier run's reading (``pending``: its next id and time) still holds if every
    holder began after it (ids drawn after a transaction begins come after the reading).
    Otherwise 0 (no advance this run). The next pending reading is this run's."""
    if not postgres:
        return int(conn.execute(_SQLITE_NEXT_ID).scalar_one()), (None, None)
    next_id, at = conn.execute(_PG_NEXT_ID).one()
    writers, oldest, unseen = conn.execute(_PG_WRITERS).one()
    if not writers:
        return int(next_id), (int(next_id), at)
    bound = 0
    p_from, p_at = pending
    if p_from is not None and p_at is not None and not unseen and oldest > p_at:
        bound = int(p_from)
    return bound, (int(next_id), at)


def seal_batch(session: Session, limit: int = BATCH_SIZE, *, from_start: bool = False) -> int:
    """Seal up to ``limit`` unsealed entries in ``session`` (the caller holds the lock and
    commits). Returns how many were sealed.

    Unsealed entries are looked for from the checkpoint's ``unsealed_from`` on (every
    lower id is sealed; ``from_start``: over the whole journal, as verify does), and the
    run moves it forward as far as is safe (:func:`_sealed_below`): the search costs the
    entries since the last runs, not the journal. A seal is a row inserted into
    ``entry_seals``; the entry's own row is never written.

    Statements whatever ``limit``: the checkpoint and the chain head, (PostgreSQL: the next
    entry id and the entries' writers,) the entries (only the columns a seal covers, as
    plain rows), their postings, every seal (one statement on PostgreSQL), the checkpoint.
    Raises :class:`ChainBroken` when the table's chain does not end at the checkpoint, or
    when an entry read as unsealed was sealed when its seal was written (something other
    than the sealer, which holds the lock, wrote a seal): nothing of the run is then kept
    (the caller rolls back).
    """
    session.flush()  # what the session holds goes first, as an ORM query would autoflush it
    conn = session.connection()
    postgres = is_postgres(session)
    cp_count, cp_seal, head_seq, head_seal, hint, p_from, p_at = conn.execute(_HEAD_OF_CHAIN).one()
    unsealed_from = int(hint or 0)
    bound, pending = _sealed_below(conn, postgres, (p_from, p_at))
    entries = conn.execute(
        _UNSEALED, {"from": 0 if from_start else unsealed_from, "limit": limit}
    ).all()
    if not entries:
        return 0
    has_checkpoint = cp_count is not None
    count, previous = (int(cp_count), cp_seal) if has_checkpoint else (0, GENESIS)
    head = (int(head_seq), head_seal) if head_seq is not None else (0, GENESIS)
    if head != (count, previous):
        raise ChainBroken(
            f"the chain ends at seal_seq {head[0]} but the checkpoint says {count}: "
            "sealing stopped until /audit/verify is looked at"
        )
    ids = [int(e[0]) for e in entries]
    postings: dict[int, list[PostingRow]] = {i: [] for i in ids}
    if postgres:
        rows = conn.execute(_POSTINGS_PG, {"ids": _pg_array(ids)}).all()
    else:
        rows = conn.execute(_POSTINGS_SQLITE, {"ids": ids}).all()
    for entry_id, account, commodity, lot, amount in rows:
        postings[entry_id].append((account, commodity, lot, amount))
    seqs: list[int] = []
    seals: list[str] = []
    for entry_id, service_date, accounting_date, memo, source, reverses in entries:
        count += 1
        previous = chain_seal(
            previous,
            canonical_bytes_of(
                int(entry_id),
                service_date,
                accounting_date,
                memo,
                source,
                int(reverses) if reverses is not None else None,
                postings[entry_id],
            ),
        )
        seqs.append(count)
        seals.append(previous)
    if postgres:
        arrays = {"ids": _pg_array(ids), "seqs": _pg_array(seqs), "seals": _pg_array(seals)}
        done = conn.execute(_SEAL_ALL_PG, arrays).rowcount
    else:
        params = [{"eid": i, "seq": q, "sl": sl} for i, q, sl in zip(ids, seqs, seals, strict=True)]
        done = conn.execute(_SEAL_ONE, params).rowcount
    if done != len(ids):
        raise ChainBroken(
            f"{len(ids) - done} of the {len(ids)} entries read as unsealed already carried a "
            "seal (or their places in the chain were taken) when the sealer wrote theirs: "
            "something other than the sealer writes seals; sealing stopped until "
            "/audit/verify is looked at"
        )
    # Every entry of the region below the first one sealed here was sealed already, and so
    # is every one this run sealed; past a full batch more may wait: the next run starts
    # after its last entry, unless the bound (ids still in flight) says less.
    reached = ids[-1] + 1 if len(ids) == limit else bound
    unsealed_from = max(unsealed_from, min(bound, reached))
    now = clock.now()
    figures = dict(
        seal_count=count,
        last_seal=previous,
        updated_at=now,
        unsealed_from=unsealed_from,
        pending_from=pending[0],
        pending_at=pending[1],
    )
    if has_checkpoint:
        conn.execute(
            update(SealCheckpoint.__table__)  # type: ignore[arg-type]  # a Table
            .where(_CP.id == 1)
            .values(**figures)
        )
    else:
        conn.execute(
            insert(SealCheckpoint.__table__).values(id=1, **figures)  # type: ignore[arg-type]
        )
    return len(ids)


def _lot_name(lot_commodity: str | None, lot_code: str | None) -> str | None:
    return None if lot_code is None else f"{lot_commodity}:{lot_code}"


def seal_all_in(session: Session, *, blocking: bool = True) -> int:
    """Take the lock in ``session``'s transaction and seal everything pending there.

    Used inside a month close, so the seals and the close commit (or roll back) together.
    """
    if not take_lock(session, blocking=blocking):
        return 0
    total = 0
    while True:
        n = seal_batch(session)
        total += n
        if n < BATCH_SIZE:
            return total


def seal_pending(
    session_factory: SessionFactory,
    *,
    blocking: bool = False,
    batch: int = BATCH_SIZE,
    from_start: bool = False,
) -> int:
    """Seal every committed unsealed entry, ``batch`` per transaction; returns how many.

    ``blocking=False`` (after a write): give up at once if another sealer is at work.
    ``blocking=True`` (verify, close, PDF, the ``seal`` command, :meth:`Sealer.flush`):
    wait for it, so nothing committed before the call is left unsealed. Raises
    :class:`ChainBroken` when the chain was tampered with. ``from_start``: look for
    unsealed entries over the whole journal, not only from the checkpoint's
    ``unsealed_from`` on (verify, which reads the whole journal anyway).
    """
    return _seal_pending(session_factory, blocking=blocking, batch=batch, from_start=from_start)[0]


def _seal_pending(
    session_factory: SessionFactory,
    *,
    blocking: bool,
    batch: int = BATCH_SIZE,
    from_start: bool = False,
) -> tuple[int, bool]:
    """:func:`seal_pending`, and whether it gave up because another sealer held the lock."""
    token = sqlite_read_only.set(False)  # a write: SQLite must start BEGIN IMMEDIATE
    total = 0
    try:
        while True:
            with session_factory() as s:
                if not take_lock(s, blocking=blocking):
                    return total, True
                n = seal_batch(s, batch, from_start=from_start)
                s.commit()
            total += n
            if n < batch:
                return total, False
    finally:
        sqlite_read_only.reset(token)


# --------------------------------------------------------------------------- after a write

SEAL_MODES = ("background", "inline")

#: Default of ``RDF_SEAL_INTERVAL_MS``: the background sealer runs at most this often.
DEFAULT_INTERVAL_MS = 200

#: After a failed run (database down...), the background sealer waits this long, doubling.
RETRY_MAX_S = 30.0

#: How often the background sealer logs a broken chain (it meets it again on every run
#: until an auditor has looked).
BROKEN_LOG_EVERY_S = 60.0


class Sealer:
    """The ``rdf_after_commit`` hook: ``sealer()`` after every committed write.

    ``mode="inline"`` seals at once on the caller's thread. ``mode="background"`` sets an
    event for this process's sealer thread, started on first use in each process (gunicorn
    forks its workers and a thread of the parent does not exist in the child, hence the pid
    check). The thread is a daemon (it never keeps a process alive), holds a connection
    only while it seals, and is stopped by :meth:`stop` (``attach_database`` stops the
    sealer of the database it replaces) and at interpreter exit, after a last try.

    Calling the hook never raises: the write is committed whatever happens here.
    """

    def __init__(
        self,
        session_factory: SessionFactory,
        *,
        mode: str = "background",
        interval_ms: int = DEFAULT_INTERVAL_MS,
    ) -> None:
        if mode not in SEAL_MODES:
            raise ValueError(f"RDF_SEAL_MODE must be one of {SEAL_MODES}, not {mode!r}")
        if interval_ms < 0:
            raise ValueError("RDF_SEAL_INTERVAL_MS must be >= 0")
        self.session_factory = session_factory
        self.mode = mode
        self.interval = interval_ms / 1000
        #: Runs of the background thread that sealed, entries they sealed, and the CPU
        #: seconds of the thread's runs (for tests and benches).
        self.runs = 0
        self.sealed = 0
        self.cpu_seconds = 0.0
        self._fresh_state()
        _track(self)

    def _fresh_state(self) -> None:
        """Locks, events and thread of this process (a forked child starts again here)."""
        self._pid = os.getpid()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._next_run = 0.0
        self._backoff = 0.0
        self._broken_logged_at: float | None = None

    # ------------------------------------------------------------------ the hook

    def __call__(self) -> None:
        try:
            if self.mode == "inline":
                self._seal_inline()
                return
            if self._pid != os.getpid():
                self._fresh_state()  # a forked child: the parent's thread is not here
            if self._thread is None or not self._thread.is_alive():
                self._start()
            self._wake.set()
        except Exception:  # noqa: BLE001 - the write is committed; sealing catches up later
            log.exception("the sealer could not be woken; the next seal run will catch up")

    def _seal_inline(self) -> None:
        try:
            seal_pending(self.session_factory, blocking=False)
        except ChainBroken as exc:
            log.error("sealer stopped: %s", exc)
        except Exception:  # noqa: BLE001 - the write is committed; sealing is retried later
            log.exception("sealing after commit failed; the next seal run will catch up")

    def _start(self) -> None:
        with self._start_lock:
            if self._stopped or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(
                target=self._run, name=f"rdf-sealer-{self._pid}", daemon=True
            )
            self._thread.start()

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stopping.is_set():
                return
            rest = self._next_run - time.monotonic()
            if rest > 0 and self._stopping.wait(rest):
                return
            self._wake.clear()  # a commit from here on wakes the next run
            cpu = time.thread_time()
            again = self._run_once()
            self.cpu_seconds += time.thread_time() - cpu
            self._next_run = time.monotonic() + max(self.interval, self._backoff)
            if again:
                self._wake.set()

    def _run_once(self) -> bool:
        """One sealing run; True when it must be tried again (lock busy, error)."""
        try:
            n, busy = _seal_pending(self.session_factory, blocking=False)
        except ChainBroken as exc:
            now = time.monotonic()
            last = self._broken_logged_at
            if last is None or now - last > BROKEN_LOG_EVERY_S:
                self._broken_logged_at = now
                log.error("sealer stopped: %s", exc)
            return False  # met again on the next write's run, and reported by verify
        except Exception:  # noqa: BLE001 - a background thread must not die of a bad run
            self._backoff = min(max(2 * self._backoff, 0.5), RETRY_MAX_S)
            log.exception("background sealing failed; trying again in %.1f s", self._backoff)
            return True
        self._backoff = 0.0
        self._broken_logged_at = None
        self.runs += 1
        self.sealed += n
        return busy  # another sealer held the lock and may have read before our commit

    # ------------------------------------------------------------------ control

    def flush(self) -> int:
        """Seal everything committed so far, now, on the caller's thread (waiting for a
        running sealer). Returns how many entries this call sealed; raises
        :class:`ChainBroken` when the chain was tampered with."""
        return seal_pending(self.session_factory, blocking=True)

    @property
    def running(self) -> bool:
        """This process's sealer thread is alive."""
        thread = self._thread
        return self._pid == os.getpid() and thread is not None and thread.is_alive()

    def stop(self, timeout: float = 10.0, *, last_try: bool = False) -> None:
        """Stop this process's sealer thread for good (a later write does not restart it).
        ``last_try``: then seal what it was woken for (unless another sealer is at work)."""
        if self._pid != os.getpid():
            self._fresh_state()
        with self._start_lock:
            self._stopped = True
            thread, pending = self._thread, self._wake.is_set()
        self._stopping.set()
        self._wake.set()
        if thread is not None:
            thread.join(timeout)
            if last_try and pending:
                self._seal_inline()


#: Every sealer of this process, to reset in a forked child and to stop at exit.
_live: weakref.WeakSet[Sealer] = weakref.WeakSet()
_process_hooks = threading.Lock()
_process_hooks_installed = False


def _track(sealer: Sealer) -> None:
    """Keep ``sealer`` among the live ones; the first sealer of the process installs the
    process hooks (reset in a forked child, a last try at interpreter exit)."""
    global _process_hooks_installed
    with _process_hooks:
        if not _process_hooks_installed:
            os.register_at_fork(after_in_child=_after_fork_in_child)
            atexit.register(_stop_all_at_exit)
            _process_hooks_installed = True
        _live.add(sealer)


def seal_after_commit(
    session_factory: SessionFactory,
    *,
    mode: str = "inline",
    interval_ms: int = DEFAULT_INTERVAL_MS,
) -> Sealer:
    """The ``rdf_after_commit`` hook of a database (see :class:`Sealer`)."""
    return Sealer(session_factory, mode=mode, interval_ms=interval_ms)


def _after_fork_in_child() -> None:
    for sealer in list(_live):
        sealer._fresh_state()


def _stop_all_at_exit() -> None:
    for sealer in list(_live):
        if sealer.running:
            try:
                sealer.stop(timeout=5.0, last_try=True)
            except Exception:  # noqa: BLE001 - exiting anyway
                log.exception("stopping the sealer at exit failed")


# --------------------------------------------------------------------------- reading seals


def last_seal(session: Session, end: date | None = None) -> str | None:
    """The seal a document covering the books up to ``end`` prints (any date if None): the
    seal of the sealed entry with the highest ``seal_seq`` booked on or before ``end``.

    Everything committed is sealed first (waiting for a running sealer), in transactions of
    its own on ``session``'s database, so the seal names the newest entries; if the chain was
    tampered with, sealing stops (no error) and the seal is the last good one. The seal is
    read in a fresh transaction: ``session``'s may hold a snapshot taken before the sealing.
    ``session`` itself is only used for its connection's database; None when nothing is
    sealed yet."""
    factory = sessionmaker(bind=session.get_bind())
    try:
        seal_pending(factory, blocking=True)
    except ChainBroken:
        pass
    q = select(EntrySeal.seal)
    if end is not None:
        q = q.join(Entry, Entry.id == EntrySeal.entry_id).where(Entry.accounting_date <= end)
    with factory() as fresh:
        return fresh.scalar(q.order_by(EntrySeal.seal_seq.desc()).limit(1))


def _stream_entries(session: Session, where: Any, order: Any) -> Generator[SealedRow]:
    """Entries matching ``where`` in ``order`` with their postings, as plain rows streamed
    in constant memory (one joined query, grouped as it is read)."""
    stmt = (
        select(
            Entry.id,
            Entry.service_date,
            Entry.accounting_date,
            Entry.memo,
            Entry.source,
            Entry.reverses_id,
            EntrySeal.seal_seq,
            EntrySeal.seal,
            Posting.account_code,
            Posting.commodity,
            Lot.commodity,
            Lot.lot_code,
            Posting.amount,
        )
        .outerjoin(EntrySeal, EntrySeal.entry_id == Entry.id)
        .outerjoin(Posting, Posting.entry_id == Entry.id)
        .outerjoin(Lot, Lot.id == Posting.lot_id)
        .where(where)
        .order_by(order, Entry.id, Posting.id)
        .execution_options(stream_results=True, yield_per=1000)
    )
    head: Any = None
    postings: list[SealPosting] = []
    result = session.execute(stmt)
    try:
        for row in result:
            if head is not None and row[0] != head[0]:
                yield _sealed_row(head, postings)
                postings = []
            if head is None or row[0] != head[0]:
                head = row
            if row[8] is not None:
                postings.append(
                    SealPosting(row[8], row[9], _lot_name(row[10], row[11]), int(row[12]))
                )
        if head is not None:
            yield _sealed_row(head, postings)
    finally:
        result.close()  # a walk stopped early must not leave a server-side cursor open


@dataclass(frozen=True)
class SealedRow:
    seal_seq: int | None
    seal: str | None
    entry: SealEntry


def _sealed_row(head: Any, postings: list[SealPosting]) -> SealedRow:
    entry = SealEntry(
        entry_id=int(head[0]),
        service_date=head[1],
        accounting_date=head[2],
        memo=head[3],
        source=head[4],
        reverses=int(head[5]) if head[5] is not None else None,
        postings=tuple(postings),
    )
    return SealedRow(int(head[6]) if head[6] is not None else None, head[7], entry)


def verify_period_roots(session: Session) -> tuple[str, str | None] | None:
    """The first closed month whose stored Merkle root no longer matches its entries."""
    rows = session.execute(
        select(Period.period, Period.merkle_root)
        .where(Period.status == "closed", Period.merkle_root.is_not(None))
        .order_by(Period.period)
    ).all()
    for period, stored in rows:
        if month_root(session, period) != stored:
            return period, stored
    return None


def month_root(session: Session, period: str) -> str:
    """RFC 6962 root over the canonical content of a month's entries, in id order."""
    start, end = month_bounds(period)
    where = and_(Entry.accounting_date >= start, Entry.accounting_date <= end)
    return period_root(r.entry for r in _stream_entries(session, where, Entry.id))


def on_month_closed(session: Session, row: Period) -> None:
    """``close_period``'s ``on_closed``: seal everything pending in the close's own
    transaction, then store the month's Merkle root and the seal of its last entry."""
    seal_all_in(session, blocking=True)
    row.merkle_root = month_root(session, row.period)
    start, end = month_bounds(row.period)
    row.last_seal = session.scalar(
        select(EntrySeal.seal)
        .join(Entry, Entry.id == EntrySeal.entry_id)
        .where(Entry.accounting_date >= start, Entry.accounting_date <= end)
        .order_by(EntrySeal.seal_seq.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    entries_checked: int
    first_bad_entry: int | None
    reason: str | None
    last_seal: str | None
    first_bad_seq: int | None
    checkpoint_count: int
    checkpoint_seal: str
    unsealed: int
    #: every difference found, one sentence each (chain, closed months, kept balances and
    #: month totals against the postings, source documents against their entries)
    problems: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries_checked": self.entries_checked,
            "first_bad_entry": str(self.first_bad_entry) if self.first_bad_entry else None,
            "reason": self.reason,
            "last_seal": self.last_seal,
            "first_bad_seq": self.first_bad_seq,
            "checkpoint": {"count": self.checkpoint_count, "last_seal": self.checkpoint_seal},
            "unsealed": self.unsealed,
            "problems": list(self.problems),
        }


def verify(session_factory: SessionFactory, checks: Sequence[VerifyCheck] = ()) -> VerifyReport:
    """Seal what is pending, then re-walk the whole chain against the checkpoint, and the
    Merkle roots of closed months (constant memory in the number of entries); then
    recompute the kept balances and month totals from the postings
    (:func:`kept_figure_problems`) and run ``checks`` (source documents against their
    entries). Any difference makes the report not ok and is named in ``problems``; the
    chain's own finding, when there is one, stays the ``reason``."""
    try:
        seal_pending(session_factory, blocking=True, from_start=True)
    except ChainBroken as exc:
        log.warning("verify: %s", exc)
    token = sqlite_read_only.set(True)
    try:
        with session_factory() as s:
            return _verify_in(s, checks)
    finally:
        sqlite_read_only.reset(token)


def kept_figure_problems(session: Session) -> list[str]:
    """The kept balances, month totals and day totals that differ from what their postings
    sum to, one sentence each naming the account, commodity, lot (and month or day)."""
    lot_key = func.coalesce(Posting.lot_id, 0)
    from_postings: dict[tuple[str, str, int, int], int] = {}
    for account, commodity, lot, stripe, amount in session.execute(
        select(
            Posting.account_code,
            Posting.commodity,
            lot_key,
            Posting.stripe,
            func.sum(Posting.amount),
        ).group_by(Posting.account_code, Posting.commodity, lot_key, Posting.stripe)
    ):
        if int(amount):
            from_postings[(account, commodity, int(lot), int(stripe))] = int(amount)
    kept: dict[tuple[str, str, int, int], int] = {}
    for account, commodity, lot, stripe, amount in session.execute(
        select(
            Balance.account_code,
            Balance.commodity,
            Balance.lot_key,
            Balance.stripe,
            func.sum(Balance.amount),
        ).group_by(Balance.account_code, Balance.commodity, Balance.lot_key, Balance.stripe)
    ):
        if int(amount):
            kept[(account, commodity, int(lot), int(stripe))] = int(amount)
    differ = [
        k
        for k in sorted(set(kept) | set(from_postings))
        if kept.get(k, 0) != from_postings.get(k, 0)
    ]
    lots = _lot_names(session, {k[2] for k in differ})
    problems = [
        f"the kept balance of {_key_name(k, lots)} is {kept.get(k, 0)} but its postings "
        f"sum to {from_postings.get(k, 0)}"
        for k in differ
    ]

    year = extract("year", Posting.accounting_date)
    month = extract("month", Posting.accounting_date)
    debit = func.sum(case((Posting.amount > 0, Posting.amount), else_=0))
    credit = func.sum(case((Posting.amount < 0, -Posting.amount), else_=0))
    month_sums: dict[tuple[str, str, int, int, date], tuple[int, int, int]] = {}
    for account, commodity, lot, stripe, y, m, amount, dr, cr in session.execute(
        select(
            Posting.account_code,
            Posting.commodity,
            lot_key,
            Posting.stripe,
            year,
            month,
            func.sum(Posting.amount),
            debit,
            credit,
        ).group_by(Posting.account_code, Posting.commodity, lot_key, Posting.stripe, year, month)
    ):
        key = (account, commodity, int(lot), int(stripe), date(int(y), int(m), 1))
        month_sums[key] = (int(amount), int(dr), int(cr))
    kept_months: dict[tuple[str, str, int, int, date], tuple[int, int, int]] = {}
    for row in session.execute(
        select(
            MonthTotal.account_code,
            MonthTotal.commodity,
            MonthTotal.lot_key,
            MonthTotal.stripe,
            MonthTotal.month,
            MonthTotal.amount,
            MonthTotal.debit,
            MonthTotal.credit,
        )
    ):
        figures = (int(row[5]), int(row[6]), int(row[7]))
        if figures != (0, 0, 0):
            key = (row[0], row[1], int(row[2]), int(row[3]), _as_date(row[4]))
            kept_months[key] = figures
    months_differ = [
        k
        for k in sorted(set(kept_months) | set(month_sums))
        if kept_months.get(k, (0, 0, 0)) != month_sums.get(k, (0, 0, 0))
    ]
    lots.update(_lot_names(session, {k[2] for k in months_differ} - set(lots)))
    for k in months_differ:
        have, want = kept_months.get(k, (0, 0, 0)), month_sums.get(k, (0, 0, 0))
        problems.append(
            f"the month total of {_key_name(k[:4], lots)} for {k[4]:%Y-%m} is "
            f"{have[0]} (debit {have[1]}, credit {have[2]}) but its postings sum to "
            f"{want[0]} (debit {want[1]}, credit {want[2]})"
        )
    day_sums: dict[tuple[str, str, int, int, date], tuple[int, int, int]] = {}
    for account, commodity, lot, stripe, d, amount, dr, cr in session.execute(
        select(
            Posting.account_code,
            Posting.commodity,
            lot_key,
            Posting.stripe,
            Posting.accounting_date,
            func.sum(Posting.amount),
            debit,
            credit,
        ).group_by(
            Posting.account_code,
            Posting.commodity,
            lot_key,
            Posting.stripe,
            Posting.accounting_date,
        )
    ):
        day_sums[(account, commodity, int(lot), int(stripe), _as_date(d))] = (
            int(amount),
            int(dr),
            int(cr),
        )
    kept_days: dict[tuple[str, str, int, int, date], tuple[int, int, int]] = {}
    for row in session.execute(
        select(
            DayTotal.account_code,
            DayTotal.commodity,
            DayTotal.lot_key,
            DayTotal.stripe,
            DayTotal.day,
            DayTotal.amount,
            DayTotal.debit,
            DayTotal.credit,
        )
    ):
        figures = (int(row[5]), int(row[6]), int(row[7]))
        if figures != (0, 0, 0):
            kept_days[(row[0], row[1], int(row[2]), int(row[3]), _as_date(row[4]))] = figures
    days_differ = [
        k
        for k in sorted(set(kept_days) | set(day_sums))
        if kept_days.get(k, (0, 0, 0)) != day_sums.get(k, (0, 0, 0))
    ]
    lots.update(_lot_names(session, {k[2] for k in days_differ} - set(lots)))
    for k in days_differ:
        have, want = kept_days.get(k, (0, 0, 0)), day_sums.get(k, (0, 0, 0))
        problems.append(
            f"the day total of {_key_name(k[:4], lots)} for {k[4]:%Y-%m-%d} is "
            f"{have[0]} (debit {have[1]}, credit {have[2]}) but its postings sum to "
            f"{want[0]} (debit {want[1]}, credit {want[2]})"
        )
    return problems


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _lot_names(session: Session, lot_ids: set[int]) -> dict[int, str]:
    wanted = sorted(i for i in lot_ids if i)
    if not wanted:
        return {}
    return {
        int(i): f"{c}:{code}"
        for i, c, code in session.execute(
            select(Lot.id, Lot.commodity, Lot.lot_code).where(Lot.id.in_(wanted))
        )
    }


def _key_name(key: tuple[str, str, int, int], lots: dict[int, str]) -> str:
    account, commodity, lot, stripe = key
    name = f"account {account} in {commodity}"
    if lot:
        name += f", lot {lots.get(lot, lot)}"
    if stripe:
        name += f" (stripe {stripe})"
    return name


def _verify_in(s: Session, checks: Sequence[VerifyCheck] = ()) -> VerifyReport:
    count, cp_seal = read_checkpoint(s)
    head: list[str | None] = [None]

    def rows() -> Generator[tuple[int, str | None, SealEntry]]:
        with closing(
            _stream_entries(s, EntrySeal.seal_seq.is_not(None), EntrySeal.seal_seq)
        ) as stream:
            for r in stream:
                head[0] = r.seal
                yield int(r.seal_seq or 0), r.seal, r.entry

    with closing(rows()) as walk:
        result = verify_chain(walk, (count, cp_seal))
    unsealed = int(
        s.scalar(
            select(func.count())
            .select_from(Entry)
            .where(~exists().where(EntrySeal.entry_id == Entry.id))
        )
        or 0
    )
    ok, reason, first_bad = result.ok, result.reason, result.first_bad_entry
    problems: list[str] = [] if ok or reason is None else [reason]
    if ok:
        bad_month = verify_period_roots(s)
        if bad_month is not None:
            ok = False
            reason = f"the Merkle root stored when {bad_month[0]} closed no longer matches"
            problems.append(reason)
    found = kept_figure_problems(s)
    for check in checks:
        found.extend(check(s))
    if found:
        problems.extend(found)
        if ok:
            ok = False
            reason = found[0] + (
                f" (and {len(found) - 1} more differences)" if len(found) > 1 else ""
            )
    return VerifyReport(
        ok=ok,
        entries_checked=result.entries_checked,
        first_bad_entry=first_bad,
        reason=reason,
        last_seal=head[0] if ok else None,
        first_bad_seq=result.first_bad_seq,
        checkpoint_count=count,
        checkpoint_seal=cp_seal,
        unsealed=unsealed,
        problems=tuple(problems[:PROBLEMS_SHOWN]),
    )
