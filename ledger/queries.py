"""Reading the books: balances, statements and the trial balance.

Balances are answered from the kept balances (a few rows per account), never by summing
all history. A balance as of a past date is the kept balance less the kept month totals
(``month_totals``) of the months after the date's month, corrected by the kept day totals
(``day_totals``, revision 0018) of the date's own month on one side of the date: at most
about fifteen day rows and the month rows per key, whatever the size of the journal or of
the month. No as-of read sums postings.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Label,
    Select,
    bindparam,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from ledger.errors import NotFound
from ledger.tables import Account, Balance, Commodity, DayTotal, Entry, Lot, MonthTotal, Posting


def exponents(session: Session) -> dict[str, int]:
    """Commodity -> decimal exponent, read once per transaction (a commodity's exponent
    never changes; one created later in the same transaction is picked up on a miss)."""
    cached: dict[str, int] | None = session.info.get("rdf_exponents")
    if cached is None:
        cached = {c: e for c, e in session.execute(select(Commodity.code, Commodity.exponent))}
        session.info["rdf_exponents"] = cached
    return _Exponents(session, cached)


class _Exponents(dict[str, int]):
    """The cached exponents; a code not cached yet is looked up before it is called unknown."""

    def __init__(self, session: Session, known: dict[str, int]) -> None:
        super().__init__(known)
        self._session = session
        self._known = known

    def _lookup(self, code: str) -> int | None:
        exp = self._session.scalar(select(Commodity.exponent).where(Commodity.code == code))
        if exp is not None:
            self._known[code] = exp
            self[code] = exp
        return exp

    def __missing__(self, code: str) -> int:
        exp = self._lookup(code)
        if exp is None:
            raise KeyError(code)
        return exp

    def get(self, code: str, default: int | None = None) -> int | None:  # type: ignore[override]
        if code in self:
            return self[code]
        exp = self._lookup(code)
        return default if exp is None else exp

    def __contains__(self, code: object) -> bool:
        return dict.__contains__(self, code) or (
            isinstance(code, str) and self._lookup(code) is not None
        )


def get_account(session: Session, code: str) -> Account:
    if "\x00" in code:  # PostgreSQL refuses NUL in text; no account has one
        raise NotFound(f"no account {code!r}")
    acc = session.get(Account, code)
    if acc is None:
        raise NotFound(f"no account {code!r}")
    return acc


def account_codes(session: Session, acc: Account) -> list[str]:
    """The account itself, or all its sub-accounts when it is a header."""
    if acc.is_header:
        return list(session.scalars(select(Account.code).where(Account.parent == acc.code)))
    return [acc.code]


@dataclass(frozen=True)
class BalanceLine:
    commodity: str
    lot_id: int | None
    lot: str | None
    amount: int


#: One part of a balance read: (commodity or account, commodity or lot key, amount) rows.
_Part = Select[str, Any, int]
#: A summed read: (commodity or account, lot key or commodity, Σ amount) rows.
_Sums = Select[str, Any, Any]


@dataclass(frozen=True)
class _AsOf:
    """How a balance as of ``as_of`` is read in bounded work: the kept balance less the
    month totals from a month on, then the day totals of the date's own month on one side
    of the date:

    * ``sign`` −1: the balance at the month's end (kept − the months after this one) less
      the days after the date within the month;
    * ``sign`` +1: the balance at the previous month's end (kept − this month and the ones
      after) plus the days of the month up to the date.

    Whichever side of the date has fewer days; a month end (every statement's boundary)
    reads no day row at all."""

    as_of: date
    first: date
    last: date
    sign: int

    @property
    def has_postings(self) -> bool:
        return self.sign > 0 or self.as_of < self.last

    def params(self, n: str = "") -> dict[str, Any]:
        return {f"as_of{n}": self.as_of, f"first{n}": self.first, f"last{n}": self.last}


def _as_of_plan(as_of: date) -> _AsOf:
    first = as_of.replace(day=1)
    last = as_of.replace(day=monthrange(as_of.year, as_of.month)[1])
    return _AsOf(as_of, first, last, -1 if (last - as_of).days <= as_of.day else 1)


# The statements are built once per shape, with bound parameters (``codes``, ``commodity``,
# ``commodities``, ``as_of``, ``first``, ``last``): building a union of selects costs more
# Python than running it.


def _later_months(sign: int, n: str = "") -> ColumnElement[bool]:
    """The month totals taken away from the kept balance (see ``_AsOf``); ``n`` suffixes
    the parameters' names (several dates in one statement)."""
    if sign < 0:
        return MonthTotal.month > bindparam(f"first{n}")
    return MonthTotal.month >= bindparam(f"first{n}")


def _month_days(sign: int, n: str = "") -> list[ColumnElement[bool]]:
    """The day totals of the date's month on the chosen side of the date (see ``_AsOf``)."""
    if sign < 0:
        return [DayTotal.day > bindparam(f"as_of{n}"), DayTotal.day <= bindparam(f"last{n}")]
    return [DayTotal.day >= bindparam(f"first{n}"), DayTotal.day <= bindparam(f"as_of{n}")]


def _days_part(sign: int, one_commodity: bool) -> _Part:
    amount = DayTotal.amount if sign > 0 else -DayTotal.amount
    q: _Part = select(DayTotal.commodity, DayTotal.lot_key, amount.label("amount")).where(
        DayTotal.account_code.in_(bindparam("codes", expanding=True)), *_month_days(sign)
    )
    if one_commodity:
        q = q.where(DayTotal.commodity == bindparam("commodity"))
    return q


def _grouped(parts: list[_Part], by_lot: bool) -> _Sums:
    """Σ amount of the union of ``parts`` per commodity (and lot when ``by_lot``)."""
    u = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    if by_lot:
        return select(u.c.commodity, u.c.lot_key, func.sum(u.c.amount)).group_by(
            u.c.commodity, u.c.lot_key
        )
    return select(u.c.commodity, literal_column("0"), func.sum(u.c.amount)).group_by(u.c.commodity)


@cache
def _balances_stmt(by_lot: bool, one_commodity: bool, sign: int, days: bool) -> _Sums:
    """Kept balances (``sign`` 0), or as of a date: less later month totals, and with the
    date's month's day totals on one side of it when ``days``."""
    codes: BindParameter[Any] = bindparam("codes", expanding=True)
    kept: _Part = select(
        Balance.commodity.label("commodity"),
        Balance.lot_key.label("lot_key"),
        Balance.amount.label("amount"),
    ).where(Balance.account_code.in_(codes))
    if one_commodity:
        kept = kept.where(Balance.commodity == bindparam("commodity"))
    parts = [kept]
    if sign:
        months: _Part = select(
            MonthTotal.commodity, MonthTotal.lot_key, (-MonthTotal.amount).label("amount")
        ).where(MonthTotal.account_code.in_(codes), _later_months(sign))
        if one_commodity:
            months = months.where(MonthTotal.commodity == bindparam("commodity"))
        parts.append(months)
        if days:
            parts.append(_days_part(sign, one_commodity))
    return _grouped(parts, by_lot)


def balances(
    session: Session,
    codes: list[str],
    as_of: date | None = None,
    *,
    by_lot: bool = True,
    commodity: str | None = None,
) -> list[BalanceLine]:
    """Balances of ``codes`` (summed) per commodity and lot, as of a date (default: now);
    only ``commodity``'s when given.

    As of a date: the kept balances less the kept month totals of later months, corrected
    by the day totals of the date's own month on the nearer side of the date (``_AsOf``) —
    a bounded number of rows whatever the size of the journal, in one statement."""
    plan = _as_of_plan(as_of) if as_of is not None else None
    one = commodity is not None
    params: dict[str, Any] = {"codes": codes, "commodity": commodity}
    if plan is not None:
        params |= plan.params()
    stmt = _balances_stmt(by_lot, one, plan.sign if plan else 0, bool(plan and plan.has_postings))
    totals = {(c, int(lk)): int(v) for c, lk, v in session.execute(stmt, params)}
    lot_ids = {lk for (_c, lk), v in totals.items() if lk and v}
    codes_by_id = (
        dict(session.execute(select(Lot.id, Lot.lot_code).where(Lot.id.in_(lot_ids))).all())
        if lot_ids
        else {}
    )
    out = [
        BalanceLine(c, lk or None, codes_by_id.get(lk) if lk else None, v)
        for (c, lk), v in sorted(totals.items())
        if v != 0
    ]
    return out


def balance_of(
    session: Session, codes: list[str], commodity: str, as_of: date | None = None
) -> int:
    return sum(
        b.amount
        for b in balances(session, codes, as_of, by_lot=False, commodity=commodity)
        if b.commodity == commodity
    )


def account_balances(
    session: Session, codes: list[str], dates: list[date]
) -> dict[tuple[date, str, str], int]:
    """(date, account, commodity) -> balance at the end of that date, for each account of
    ``codes`` (not summed; lots summed) and each of ``dates``: what ``balance_of`` gives one
    at a time, in one statement for all. Zero balances may be left out."""
    dates = sorted(set(dates))
    plans = [_as_of_plan(d) for d in dates]
    params: dict[str, Any] = {"codes": codes}
    for i, p in enumerate(plans):
        params |= p.params(f"_{i}")
    out: dict[tuple[date, str, str], int] = {}
    which = tuple((p.sign, p.has_postings) for p in plans)
    for i, a, c, v in session.execute(_account_balances_stmt(which), params):
        k = (dates[int(i)], a, c)
        out[k] = out.get(k, 0) + int(v)
    return out


@cache
def _account_balances_stmt(which: tuple[tuple[int, bool], ...]) -> Select[Any, Any, Any, Any]:
    codes: BindParameter[Any] = bindparam("codes", expanding=True)
    parts: list[Select[Any, Any, Any, Any]] = []
    for i, (sign, days) in enumerate(which):
        n: Label[Any] = literal_column(str(i)).label("n")
        parts.append(
            select(n, Balance.account_code, Balance.commodity, Balance.amount).where(
                Balance.account_code.in_(codes)
            )
        )
        parts.append(
            select(n, MonthTotal.account_code, MonthTotal.commodity, -MonthTotal.amount).where(
                MonthTotal.account_code.in_(codes), _later_months(sign, f"_{i}")
            )
        )
        if days:
            parts.append(
                select(
                    n,
                    DayTotal.account_code,
                    DayTotal.commodity,
                    DayTotal.amount if sign > 0 else -DayTotal.amount,
                ).where(DayTotal.account_code.in_(codes), *_month_days(sign, f"_{i}"))
            )
    u = union_all(*parts).subquery()
    cols = (u.c[0], u.c[1], u.c[2])
    return select(*cols, func.sum(u.c[3])).group_by(*cols)


@dataclass(frozen=True)
class StatementLine:
    posting_id: int
    entry_id: int
    accounting_date: date
    service_date: date
    memo: str
    source: str | None
    lot: str | None
    amount: int
    running: int


def statement_lines(
    session: Session,
    codes: list[str],
    commodity: str,
    start: date,
    end: date,
    *,
    after: tuple[str, int] | None,
    opening: int,
    limit: int,
) -> list[StatementLine]:
    """Postings of ``codes`` in ``commodity`` from ``start`` to ``end``, in date order,
    each with its running balance, resuming after ``after`` (date, posting id)."""
    q = (
        select(
            Posting.id,
            Posting.entry_id,
            Posting.accounting_date,
            Entry.service_date,
            Entry.memo,
            Entry.source,
            Lot.lot_code,
            Posting.amount,
        )
        .join(Entry, Entry.id == Posting.entry_id)
        .outerjoin(Lot, Lot.id == Posting.lot_id)
        .where(
            Posting.account_code.in_(codes),
            Posting.commodity == commodity,
            Posting.accounting_date >= start,
            Posting.accounting_date <= end,
        )
        .order_by(Posting.accounting_date, Posting.id)
        .limit(limit)
    )
    if after is not None:
        d, pid = date.fromisoformat(after[0]), after[1]
        q = q.where(
            (Posting.accounting_date > d) | ((Posting.accounting_date == d) & (Posting.id > pid))
        )
    running = opening
    out = []
    for pid, eid, ad, sd, memo, source, lot, amount in session.execute(q):
        running += int(amount)
        out.append(StatementLine(pid, eid, ad, sd, memo, source, lot, int(amount), running))
    return out


def opening_and_closing(
    session: Session, codes: list[str], commodity: str, start: date, end: date
) -> tuple[int, int]:
    """``codes``' (summed) balance in ``commodity`` before ``start`` and at the end of
    ``end``: two ``opening_balance`` reads in one statement."""
    before = start - timedelta(days=1)
    at = account_balances(session, codes, [before, end])
    return (
        sum(v for (d, _a, c), v in at.items() if d == before and c == commodity),
        sum(v for (d, _a, c), v in at.items() if d == end and c == commodity),
    )


def range_totals(
    session: Session, codes: list[str], commodity: str, start: date, end: date
) -> tuple[int, int]:
    """Σ debits and Σ credits (both >= 0) of ``codes`` in ``commodity`` booked from
    ``start`` to ``end``: the months wholly inside the range from the kept month totals,
    the days of a partial month at either end from the kept day totals (one statement)."""
    full_from = start if start.day == 1 else _month_after(start)
    end_last = end.replace(day=monthrange(end.year, end.month)[1])
    full_to = end if end == end_last else _day_before(end.replace(day=1))
    params: dict[str, Any] = {"codes": codes, "commodity": commodity}
    if full_from is not None and full_to is not None and full_from <= full_to:
        params |= {"m_from": full_from, "m_to": full_to}
        head = full_from > start
        tail = full_to < end
        if head:
            params |= {"lo_0": start, "hi_0": _day_before(full_from)}
        if tail:
            params |= {"lo_1": full_to + timedelta(days=1), "hi_1": end}
        stmt = _range_totals_stmt(True, head, tail)
    else:
        params |= {"lo_0": start, "hi_0": end}
        stmt = _range_totals_stmt(False, True, False)
    debit, credit = session.execute(stmt, params).one()
    return int(debit), int(credit)


def _month_after(d: date) -> date | None:
    """The first day of the month after ``d``'s (None after December 9999)."""
    if d.month == 12:
        return date(d.year + 1, 1, 1) if d.year < date.max.year else None
    return date(d.year, d.month + 1, 1)


def _day_before(d: date) -> date | None:
    return d - timedelta(days=1) if d > date.min else None


@cache
def _range_totals_stmt(months: bool, head: bool, tail: bool) -> Select[Any, Any]:
    codes: BindParameter[Any] = bindparam("codes", expanding=True)
    commodity: BindParameter[Any] = bindparam("commodity")
    parts: list[Select[Any, Any]] = []
    if months:
        parts.append(
            select(MonthTotal.debit.label("debit"), MonthTotal.credit.label("credit")).where(
                MonthTotal.account_code.in_(codes),
                MonthTotal.commodity == commodity,
                MonthTotal.month >= bindparam("m_from"),
                MonthTotal.month <= bindparam("m_to"),
            )
        )
    zero: ColumnElement[Any] = literal_column("0")
    for n, wanted in ((0, head), (1, tail)):
        if wanted:
            parts.append(
                select(DayTotal.debit, DayTotal.credit).where(
                    DayTotal.account_code.in_(codes),
                    DayTotal.commodity == commodity,
                    DayTotal.day >= bindparam(f"lo_{n}"),
                    DayTotal.day <= bindparam(f"hi_{n}"),
                )
            )
    u = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    return select(func.coalesce(func.sum(u.c[0]), zero), func.coalesce(func.sum(u.c[1]), zero))


def opening_balance(session: Session, codes: list[str], commodity: str, start: date) -> int:
    return balance_of(session, codes, commodity, start - timedelta(days=1))


@cache
def _trial_balance_stmt(one_commodity: bool, sign: int, days: bool) -> _Sums:
    """As ``_balances_stmt``, for every account (lots summed)."""
    kept: _Part = select(
        Balance.account_code.label("account_code"),
        Balance.commodity.label("commodity"),
        Balance.amount.label("amount"),
    )
    parts = [kept]
    if sign:
        parts.append(
            select(
                MonthTotal.account_code,
                MonthTotal.commodity,
                (-MonthTotal.amount).label("amount"),
            ).where(_later_months(sign))
        )
        if days:
            parts.append(
                select(
                    DayTotal.account_code,
                    DayTotal.commodity,
                    (DayTotal.amount if sign > 0 else -DayTotal.amount).label("amount"),
                ).where(*_month_days(sign))
            )
    if one_commodity:
        commodity: BindParameter[Any] = bindparam("commodity")
        parts[0] = parts[0].where(Balance.commodity == commodity)
        if sign:
            parts[1] = parts[1].where(MonthTotal.commodity == commodity)
        if sign and days:
            parts[2] = parts[2].where(DayTotal.commodity == commodity)
    u = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    return select(u.c.account_code, u.c.commodity, func.sum(u.c.amount)).group_by(
        u.c.account_code, u.c.commodity
    )


@dataclass(frozen=True)
class TrialBalanceRow:
    account: str
    name: str
    type: str
    commodity: str
    balance: int

    @property
    def debit(self) -> int:
        return self.balance if self.balance > 0 else 0

    @property
    def credit(self) -> int:
        return -self.balance if self.balance < 0 else 0


def trial_balance(
    session: Session, as_of: date | None = None, commodity: str | None = None
) -> list[TrialBalanceRow]:
    """Every account's balance per commodity from the kept balances (lots summed); as of a
    date, less the kept month and day totals after it (see ``balances``)."""
    plan = _as_of_plan(as_of) if as_of is not None else None
    params: dict[str, Any] = {"commodity": commodity}
    if plan is not None:
        params |= plan.params()
    stmt = _trial_balance_stmt(
        bool(commodity), plan.sign if plan else 0, bool(plan and plan.has_postings)
    )
    totals = {(a, c): int(v) for a, c, v in session.execute(stmt, params)}
    accounts = {a.code: a for a in session.scalars(select(Account))}
    return [
        TrialBalanceRow(a, accounts[a].name, accounts[a].type, c, v)
        for (a, c), v in sorted(totals.items())
        if v != 0
    ]
