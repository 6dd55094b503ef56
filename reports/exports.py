"""The journal of a date range as a Beancount file, read from the database and streamed.

:func:`export_beancount` feeds :func:`ledger.beancount.render_beancount` from one session:

* accounts (every non-header account, opened on the earlier of its creation date and the
  export's first date, so back-dated postings never precede an ``open``) and commodities
  (all of them) from the database;
* entries in ``(accounting date, entry id)`` order, their postings read by one query in
  chunks (``yield_per``), grouped into entries as they stream;
* with ``start``, an opening transaction per commodity from the balances as of the day before
  (:func:`ledger.queries.trial_balance`, the kept balances less what came later);
* balance assertions at each month end from running totals folded while streaming: the
  opening balances plus every posting already written. No history is re-queried, and only
  one integer per (account, commodity) is held.

On PostgreSQL the whole export reads one REPEATABLE READ snapshot, so the opening balances
and the entries agree even while dispensings are being posted.

Streaming over HTTP: the renderer pushes text through a ``write`` callback while WSGI pulls
chunks, so :func:`stream_beancount` runs the export in a worker thread with its own session,
handing ~64 KB chunks through a queue of at most 8: memory stays flat, and a client that
disconnects stops the worker at its next chunk.
"""

from __future__ import annotations

import contextvars
import itertools
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.beancount import (
    COMMODITY_RULE,
    BcAccount,
    BcCommodity,
    BcEntry,
    BcPosting,
    account_name,
    is_valid_commodity,
    render_beancount,
)
from ledger.db import is_postgres, sqlite_read_only
from ledger.errors import Conflict
from ledger.fx_rates import all_rates
from ledger.queries import trial_balance
from ledger.settings import functional_currency
from ledger.tables import Account, Commodity, Entry, Lot, Posting

#: Rows fetched per round trip while streaming postings.
CHUNK_ROWS = 2000
#: Text handed to the client per chunk, and chunks buffered at most.
CHUNK_CHARS = 64 * 1024
QUEUE_CHUNKS = 8


class NotExportable(Conflict):
    """An account code or a commodity code of the books cannot be written in Beancount, so
    no export can be made (raised before anything is streamed)."""

    slug = "not-exportable"
    title = "The books hold codes Beancount cannot read"


def check_exportable(session: Session) -> None:
    """Refuse up front (409) when a code would make the renderer fail mid-stream."""
    bad_accounts = []
    for code, type_ in session.execute(
        select(Account.code, Account.type).where(Account.is_header.is_(False))
    ):
        try:
            account_name(code, type_)
        except ValueError:
            bad_accounts.append(code)
    bad_commodities = [
        c for c in session.scalars(select(Commodity.code)) if not is_valid_commodity(c)
    ]
    if bad_accounts or bad_commodities:
        errors: dict[str, list[str]] = {}
        if bad_accounts:
            errors["accounts"] = [
                f"{c}: an account code is a capital letter or digit, then letters, digits or -"
                for c in sorted(bad_accounts)
            ]
        if bad_commodities:
            errors["commodities"] = [f"{c}: {COMMODITY_RULE}" for c in sorted(bad_commodities)]
        raise NotExportable(
            "some codes of the books cannot be written as Beancount names", errors=errors
        )


def _snapshot(session: Session) -> None:
    if is_postgres(session):
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def export_beancount(
    session: Session,
    write: Callable[[str], None],
    *,
    start: date | None = None,
    end: date | None = None,
    title: str = "RDF Ledger",
) -> None:
    """Write the journal of ``[start, end]`` (both inclusive, either open) through ``write``."""
    _snapshot(session)
    first = session.scalar(
        select(func.min(Entry.accounting_date)).where(
            *([Entry.accounting_date >= start] if start else [])
        )
    )
    earliest = start or first
    accounts = [
        BcAccount(
            a.code,
            a.type,
            a.created_at.date() if earliest is None else min(a.created_at.date(), earliest),
        )
        for a in session.scalars(
            select(Account).where(Account.is_header.is_(False)).order_by(Account.code)
        )
    ]
    commodities = [
        BcCommodity(c, e)
        for c, e in session.execute(
            select(Commodity.code, Commodity.exponent).order_by(Commodity.code)
        )
    ]
    running: dict[tuple[str, str], int] = {}
    opening: dict[tuple[str, str], int] | None = None
    if start is not None:
        opening = {
            (r.account, r.commodity): r.balance
            for r in trial_balance(session, start - timedelta(days=1))
        }
        running.update(opening)

    def entries() -> Generator[BcEntry]:
        q = (
            select(
                Entry.id,
                Entry.accounting_date,
                Entry.service_date,
                Entry.memo,
                Entry.source,
                Entry.seal,
                Posting.account_code,
                Posting.commodity,
                Posting.amount,
                Lot.lot_code,
                Lot.commodity,
            )
            .join(Entry, Entry.id == Posting.entry_id)
            .outerjoin(Lot, Lot.id == Posting.lot_id)
            .order_by(Posting.accounting_date, Posting.entry_id, Posting.id)
        )
        if start is not None:
            q = q.where(Posting.accounting_date >= start)
        if end is not None:
            q = q.where(Posting.accounting_date <= end)
        rows = session.execute(q.execution_options(yield_per=CHUNK_ROWS))
        # A consumer that stops early (a client gone mid-download) abandons this generator:
        # close the server-side cursor then, not when the garbage collector finds it.
        try:
            pending: BcEntry | None = None
            for _eid, group in itertools.groupby(rows, key=lambda r: r[0]):
                lines = list(group)
                eid, ad, sd, memo, source, seal = lines[0][:6]
                postings = tuple(
                    BcPosting(
                        account,
                        commodity,
                        int(amount),
                        None
                        if lot_code is None
                        else (lot_code if lot_med == commodity else f"{lot_med}:{lot_code}"),
                    )
                    for *_e, account, commodity, amount, lot_code, lot_med in lines
                )
                # Fold the previous entry only now: the renderer asks for month-end balances
                # after pulling the next entry and before writing it, and those balances must
                # include everything written so far and nothing more.
                if pending is not None:
                    _fold(running, pending)
                pending = BcEntry(int(eid), ad, sd, memo, source, seal, postings)
                yield pending
            if pending is not None:
                _fold(running, pending)
        finally:
            rows.close()

    def month_ends(_boundary: date) -> Iterator[tuple[str, str, int]]:
        for (code, commodity), amount in sorted(running.items()):
            yield code, commodity, amount

    stream = entries()
    try:
        render_beancount(
            accounts,
            commodities,
            stream,
            write=write,
            opening=opening,
            opening_date=start,
            month_ends=month_ends,
            end=None if end is None else end + timedelta(days=1),
            title=title,
            operating_currency=functional_currency(session),
            prices=[
                (on, rate.base, rate.text, rate.quote)
                for on, rate in all_rates(session)
                if end is None or on <= end
            ],
        )
    finally:
        stream.close()  # its cursor closed while the session is still open


def _fold(running: dict[tuple[str, str], int], entry: BcEntry) -> None:
    for p in entry.postings:
        key = (p.account, p.commodity)
        running[key] = running.get(key, 0) + p.amount


class _Stop(Exception):
    """The client went away: the worker stops writing."""


_DONE = object()


def stream_beancount(
    session_factory: Callable[[], Session],
    *,
    start: date | None,
    end: date | None,
    title: str,
) -> Iterator[str]:
    """The export as an iterator of text chunks, produced by a worker thread (see module doc).

    An error in the worker ends the iterator with that error re-raised (the response is then
    cut short: the file will not load, which is the honest outcome).
    """
    chunks: queue.Queue[object] = queue.Queue(maxsize=QUEUE_CHUNKS)
    stop = threading.Event()

    def put(item: object) -> None:
        while True:
            if stop.is_set():
                raise _Stop
            try:
                chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def work() -> None:
        buf: list[str] = []
        size = 0

        def write(text: str) -> None:
            nonlocal size
            buf.append(text)
            size += len(text)
            if size >= CHUNK_CHARS:
                put("".join(buf))
                buf.clear()
                size = 0

        sqlite_read_only.set(True)
        try:
            with session_factory() as s:
                export_beancount(s, write, start=start, end=end, title=title)
            if buf:
                put("".join(buf))
            put(_DONE)
        except _Stop:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            try:
                put(exc)
            except _Stop:
                return

    ctx = contextvars.copy_context()
    worker = threading.Thread(target=ctx.run, args=(work,), name="beancount-export", daemon=True)
    worker.start()
    try:
        while True:
            item = chunks.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, str)
            yield item
    finally:
        stop.set()
        worker.join(timeout=10)
