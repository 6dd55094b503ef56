"""Reading the books: balances, statements and the trial balance.

Balances are answered from the kept balances (a few rows per account), never by summing
all history. A balance as of a past date is the kept balance less the kept month totals
(``month_totals``) of the months after the date's month, corrected by the postings of the
date's own month on one side of the date (read through the ``(account, commodity,
accounting_date)`` index): work bounded by one month of the account plus its month totals,
whatever the size of the journal.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select, union_all
from sqlalchemy.orm import Session

from ledger.errors import NotFound
from ledger.tables import Account, Balance, Commodity, Entry, Lot, MonthTotal, Posting


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
            isinstance(code, str) and self._lookup(code) is not None)


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


@dataclass(frozen=True)
class _AsOf:
    """How a balance as of ``as_of`` is read in bounded work: the kept balance less the
    month totals from a month on, then the postings of the date's own month on one side of
    the date:

    * ``sign`` −1: the balance at the month's end (kept − the months after this one) less
      the postings after the date within the month;
    * ``sign`` +1: the balance at the previous month's end (kept − this month and the ones
      after) plus the postings of the month up to the date.

    Whichever side of the date has fewer days; a month end (every statement's boundary)
    reads no posting at all."""

    as_of: date
    first: date
    last: date
    sign: int

    @property
    def has_postings(self) -> bool:
        return self.sign > 0 or self.as_of < self.last

    def later_months(self) -> ColumnElement[bool]:
        """The month totals taken away from the kept balance."""
        if self.sign < 0:
            return MonthTotal.month > self.first
        return MonthTotal.month >= self.first

    def postings(self) -> list[ColumnElement[bool]]:
        """The postings of the month on the chosen side of the date."""
        if self.sign < 0:
            return [Posting.accounting_date > self.as_of, Posting.accounting_date <= self.last]
        return [Posting.accounting_date >= self.first, Posting.accounting_date <= self.as_of]


def _as_of_plan(as_of: date) -> _AsOf:
    first = as_of.replace(day=1)
    last = as_of.replace(day=monthrange(as_of.year, as_of.month)[1])
    return _AsOf(as_of, first, last, -1 if (last - as_of).days <= as_of.day else 1)


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
    by the postings of the date's own month on the nearer side of the date (``_as_of_plan``)
    — a bounded number of rows whatever the size of the journal, in one statement (two when
    no commodity is named and the date is not a month end)."""
    kept = select(
        Balance.commodity.label("commodity"),
        Balance.lot_key.label("lot_key"),
        Balance.amount.label("amount"),
    ).where(Balance.account_code.in_(codes))
    if commodity is not None:
        kept = kept.where(Balance.commodity == commodity)
    parts: list[_Part] = [kept]
    plan = _as_of_plan(as_of) if as_of is not None else None
    if plan is not None:
        months = select(
            MonthTotal.commodity, MonthTotal.lot_key, (-MonthTotal.amount).label("amount")
        ).where(MonthTotal.account_code.in_(codes), plan.later_months())
        if commodity is not None:
            months = months.where(MonthTotal.commodity == commodity)
        parts.append(months)
        if plan.has_postings and commodity is not None:
            parts.append(_postings_part(codes, [commodity], plan))
    totals = _grouped(session, parts, by_lot)
    if plan is not None and plan.has_postings and commodity is None and totals:
        # The posting index is (account, commodity, date): name every commodity the
        # accounts hold (each posting has a kept balance row) so the date range is tight.
        more = _grouped(
            session, [_postings_part(codes, sorted({c for c, _lk in totals}), plan)], by_lot
        )
        for k, v in more.items():
            totals[k] = totals.get(k, 0) + v
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


def _postings_part(codes: list[str], commodities: list[str], plan: _AsOf) -> _Part:
    lot_key = func.coalesce(Posting.lot_id, literal_column("0"))
    amount = Posting.amount if plan.sign > 0 else -Posting.amount
    q: _Part = select(
        Posting.commodity, lot_key.label("lot_key"), amount.label("amount")
    ).where(Posting.account_code.in_(codes), Posting.commodity.in_(commodities), *plan.postings())
    return q


def _grouped(
    session: Session, parts: list[_Part], by_lot: bool
) -> dict[tuple[str, int], int]:
    """Σ amount of the union of ``parts`` (commodity, lot_key, amount) per commodity (and
    lot when ``by_lot``; lot 0 otherwise)."""
    u = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    if by_lot:
        q = select(u.c.commodity, u.c.lot_key, func.sum(u.c.amount)).group_by(
            u.c.commodity, u.c.lot_key
        )
        return {(c, int(lk)): int(s) for c, lk, s in session.execute(q)}
    q1 = select(u.c.commodity, func.sum(u.c.amount)).group_by(u.c.commodity)
    return {(c, 0): int(s) for c, s in session.execute(q1)}


def balance_of(
    session: Session, codes: list[str], commodity: str, as_of: date | None = None
) -> int:
    return sum(
        b.amount
        for b in balances(session, codes, as_of, by_lot=False, commodity=commodity)
        if b.commodity == commodity
    )


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


def opening_balance(session: Session, codes: list[str], commodity: str, start: date) -> int:
    return balance_of(session, codes, commodity, start - timedelta(days=1))


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
    date, less the kept month totals after it (see ``balances``)."""
    kept = select(
        Balance.account_code.label("account_code"),
        Balance.commodity.label("commodity"),
        Balance.amount.label("amount"),
    )
    if commodity:
        kept = kept.where(Balance.commodity == commodity)
    parts: list[_Part] = [kept]
    if as_of is not None:
        # As balances(): kept − later month totals ∓ one side of the date's month (here
        # every account's postings of those days, through the accounting_date index).
        plan = _as_of_plan(as_of)
        months = select(
            MonthTotal.account_code, MonthTotal.commodity, (-MonthTotal.amount).label("amount")
        ).where(plan.later_months())
        if commodity:
            months = months.where(MonthTotal.commodity == commodity)
        parts.append(months)
        if plan.has_postings:
            moved = select(
                Posting.account_code,
                Posting.commodity,
                (Posting.amount if plan.sign > 0 else -Posting.amount).label("amount"),
            ).where(*plan.postings())
            if commodity:
                moved = moved.where(Posting.commodity == commodity)
            parts.append(moved)
    u = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    q = select(u.c.account_code, u.c.commodity, func.sum(u.c.amount)).group_by(
        u.c.account_code, u.c.commodity
    )
    totals = {(a, c): int(s) for a, c, s in session.execute(q)}
    accounts = {a.code: a for a in session.scalars(select(Account))}
    return [
        TrialBalanceRow(a, accounts[a].name, accounts[a].type, c, v)
        for (a, c), v in sorted(totals.items())
        if v != 0
    ]
