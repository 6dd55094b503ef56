"""Monthly periods: which month an entry is booked in, and closing a month.

A month is open until it is closed; months close in order. An entry whose service date
falls in a closed month is booked on the first day of the earliest open month and keeps
its service date (the late record of an offline phone that synced after the close).

Concurrency (PostgreSQL): posting takes ``FOR KEY SHARE`` on the row of the month it books
into; closing takes ``FOR UPDATE`` on it. So a close waits for the entries in flight in
that month, and an entry that starts after the close sees it closed and moves forward:
each entry lands before the close or after it, in the next month.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from ledger import clock
from ledger.db import is_postgres
from ledger.errors import Conflict, InvalidRequest, NotFound, PeriodCloseRefused
from ledger.model import first_day_after, month_bounds, month_of
from ledger.refdata import LedgerRef
from ledger.tables import Balance, Entry, MonthTotal, Period, PeriodBalance, Posting

#: ASCII digits, years 2000-2999 (dates before 2000 are refused anyway; 9999-12 would
#: overflow month arithmetic), and \Z rather than $ (which admits a trailing newline).
PERIOD_RE = re.compile(r"^2[0-9]{3}-(0[1-9]|1[0-2])\Z")

#: A check run before a month closes, given the month ("YYYY-MM"): returns the problems
#: found (empty = fine). Packages above the ledger provide them (invoices: every pharmacy
#: settled); the application factory wires them by name (``app.CLOSE_CHECKS``) and the
#: close is handed them (``close_period(..., checks=...)``).
CloseCheck = Callable[[Session, str], list[str]]


def parse_period(text: str) -> str:
    if not isinstance(text, str) or not PERIOD_RE.match(text):
        raise InvalidRequest(
            f"{text!r} is not a period; write YYYY-MM", errors={"period": ["must be YYYY-MM"]}
        )
    return text


def _ensure_period_row(session: Session, period: str) -> None:
    if is_postgres(session):
        session.execute(
            pg_insert(Period).values(period=period, status="open").on_conflict_do_nothing()
        )
    else:
        session.execute(
            insert(Period).prefix_with("OR IGNORE").values(period=period, status="open")
        )


def last_closed_period(session: Session) -> str | None:
    return session.scalar(select(func.max(Period.period)).where(Period.status == "closed"))


def booking_date(
    session: Session,
    service_date: date,
    requested: date | None = None,
    ref: LedgerRef | None = None,
    locked: set[str] | None = None,
) -> date:
    """The accounting date of a new entry, locking its month against a concurrent close.

    With a reference snapshot (``ledger.refdata``) that knows the month open, only the lock
    is taken; if the month turns out closed meanwhile, the full search below runs.
    ``locked``: months this transaction already locked and found open (a batch books many
    entries; each month is locked once), added to as months are locked.
    """
    wanted = requested or service_date
    if ref is not None:
        target = wanted
        if ref.last_closed is not None and month_of(target) <= ref.last_closed:
            target = first_day_after(ref.last_closed)
        month = month_of(target)
        if locked is not None and month in locked:
            return target
        if ref.periods.get(month) == "open" and _lock_open(session, month):
            if locked is not None:
                locked.add(month)
            return target
    for _ in range(100):
        last = last_closed_period(session)
        target = wanted
        if last is not None and month_of(target) <= last:
            target = first_day_after(last)
        period = month_of(target)
        _ensure_period_row(session, period)
        if _lock_open(session, period):
            return target
    raise Conflict("could not find an open month to book into")  # pragma: no cover


_STATUS = select(Period.__table__.c.status).where(Period.__table__.c.period == bindparam("p"))
_STATUS_LOCKED = _STATUS.with_for_update(read=True, key_share=True)  # FOR KEY SHARE


def _lock_open(session: Session, period: str) -> bool:
    """Take ``FOR KEY SHARE`` on the month's row (PostgreSQL); True if it is open."""
    q = _STATUS_LOCKED if is_postgres(session) else _STATUS
    return session.execute(q, {"p": period}).scalar() == "open"


def first_period(session: Session) -> str | None:
    first = session.scalar(select(func.min(Entry.accounting_date)))
    return month_of(first) if first else None


def months_between(first: str, last: str) -> list[str]:
    out = []
    p = first
    while p <= last:
        out.append(p)
        p = month_of(first_day_after(p))
    return out


@dataclass(frozen=True)
class PeriodView:
    period: str
    status: str
    closed_at: str | None
    closed_by: str | None
    forced: bool
    reason: str | None
    merkle_root: str | None
    last_seal: str | None


def list_periods(session: Session) -> list[PeriodView]:
    """Every month from the first entry's month to the later of today and the last entry."""
    first = first_period(session)
    if first is None:
        return []
    last_entry = session.scalar(select(func.max(Entry.accounting_date)))
    last = max(month_of(clock.today()), month_of(last_entry) if last_entry else first)
    rows = {p.period: p for p in session.scalars(select(Period))}
    out = []
    for m in months_between(first, last):
        r = rows.get(m)
        out.append(
            PeriodView(
                period=m,
                status=r.status if r else "open",
                closed_at=r.closed_at.isoformat() if r and r.closed_at else None,
                closed_by=r.closed_by if r else None,
                forced=bool(r.forced) if r else False,
                reason=r.reason if r else None,
                merkle_root=r.merkle_root if r else None,
                last_seal=r.last_seal if r else None,
            )
        )
    return out


def unbalanced_entries(session: Session, start: date, end: date) -> list[int]:
    """Entries booked from ``start`` to ``end`` whose postings do not sum to zero per
    commodity: the month's entries through their date index, their postings through the
    entry index (the month's rows, not the journal's)."""
    month = select(Entry.id).where(Entry.accounting_date >= start, Entry.accounting_date <= end)
    q = (
        select(Posting.entry_id)
        .where(Posting.entry_id.in_(month.scalar_subquery()))
        .group_by(Posting.entry_id, Posting.commodity)
        .having(func.sum(Posting.amount) != 0)
    )
    return sorted(set(session.scalars(q)))


def month_out_of_balance(session: Session, start: date) -> list[str]:
    """The commodities in which the kept month totals of the month starting ``start`` do
    not sum to zero over all accounts: what every entry of the month balancing implies,
    read from the kept totals (a few rows per account), not from the postings."""
    q = (
        select(MonthTotal.commodity)
        .where(MonthTotal.month == start)
        .group_by(MonthTotal.commodity)
        .having(func.sum(MonthTotal.amount) != 0)
    )
    return sorted(session.scalars(q))


def closing_balances(session: Session, end: date) -> list[tuple[str, str, int, int]]:
    """(account, commodity, lot key, amount) at the end of ``end``, the last day of a
    month, for every key whose amount is not zero: the kept balances less the kept month
    totals of the months after (no posting read, whatever the journal's size)."""
    after = dict(
        ((a, c, int(lk)), int(v))
        for a, c, lk, v in session.execute(
            select(
                MonthTotal.account_code,
                MonthTotal.commodity,
                MonthTotal.lot_key,
                func.sum(MonthTotal.amount),
            )
            .where(MonthTotal.month > end)
            .group_by(MonthTotal.account_code, MonthTotal.commodity, MonthTotal.lot_key)
        )
    )
    kept = session.execute(
        select(
            Balance.account_code, Balance.commodity, Balance.lot_key, func.sum(Balance.amount)
        ).group_by(Balance.account_code, Balance.commodity, Balance.lot_key)
    )
    out = []
    for a, c, lot_key, amount in kept:
        closing = int(amount) - after.get((a, c, int(lot_key)), 0)
        if closing:
            out.append((a, c, int(lot_key), closing))
    return out


def close_period(
    session: Session,
    period: str,
    *,
    by: str,
    force: bool = False,
    reason: str | None = None,
    on_closed: Callable[[Session, Period], None] | None = None,
    checks: Iterable[CloseCheck] = (),
) -> Period:
    """Close ``period``: earlier months must be closed and the checks pass (or ``force``).

    The ledger's own checks (the month has ended, every entry balances) run first, then
    ``checks`` in order; their problems are refused together."""
    period = parse_period(period)
    first = first_period(session)
    if first is None:
        raise NotFound("there are no entries yet, so there is no month to close")
    if period < first:
        raise NotFound(f"{period} is before the first period ({first})")
    _ensure_period_row(session, period)
    q = select(Period).where(Period.period == period)
    if is_postgres(session):
        q = q.with_for_update()
    row = session.scalars(q).one()
    if row.status == "closed":
        raise PeriodCloseRefused(f"{period} is already closed")
    closed = set(session.scalars(select(Period.period).where(Period.status == "closed")))
    earlier_open = [m for m in months_between(first, period)[:-1] if m not in closed]
    if earlier_open:
        raise PeriodCloseRefused(
            f"{earlier_open[0]} is still open; months close in order",
            open_periods=earlier_open,
        )
    start, end = month_bounds(period)
    problems: list[str] = []
    if clock.today() <= end:
        problems.append(f"the month has not ended yet (it ends {end.isoformat()})")
    # PostgreSQL refuses at commit any transaction that leaves an entry unbalanced (the
    # deferred check of revision 0010), so the month's entries balance by construction:
    # the close checks the kept month totals (flat in history), and reads the postings
    # only to name the entries when they do not sum to zero. SQLite has no such guard:
    # every entry of the month is checked from its postings.
    if is_postgres(session) and not month_out_of_balance(session, start):
        bad = []
    else:
        bad = unbalanced_entries(session, start, end)
    if bad:
        problems.append(f"entries that do not balance per commodity: {bad[:20]}")
    for check in checks:
        problems.extend(check(session, period))
    if problems and not force:
        raise PeriodCloseRefused(
            f"{period} cannot be closed: "
            + "; ".join(problems)
            + " (a forced close with a reason overrides these checks)",
            checks=problems,
        )
    if force and not (reason and reason.strip()):
        raise InvalidRequest(
            "a forced close needs a reason", errors={"reason": ["required when force is true"]}
        )
    # Keep the closing balances: the kept balance less the month totals after the month.
    snapshot = [
        dict(period=period, account_code=a, commodity=c, lot_key=lot_key, amount=amount)
        for a, c, lot_key, amount in closing_balances(session, end)
    ]
    if snapshot:
        session.execute(insert(PeriodBalance), snapshot)
    row.status = "closed"
    row.closed_at = clock.now()
    row.closed_by = by
    row.forced = bool(problems) and force
    row.reason = reason if force else None
    if on_closed is not None:
        on_closed(session, row)
    session.flush()
    return row
