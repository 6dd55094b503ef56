"""Reading the books: balances, statements and the trial balance.

Balances are answered from the kept balances (a few rows per account), never by summing
all history: a balance as of a past date is the kept balance less what was booked after
that date, read through the ``(account, commodity, accounting_date)`` index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from ledger.errors import NotFound
from ledger.tables import Account, Balance, Commodity, Entry, Lot, Posting


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


def _after(
    session: Session, codes: list[str], as_of: date, by_lot: bool
) -> dict[tuple[str, int], int]:
    # One expression object, its 0 a literal: PostgreSQL must see the same expression in
    # SELECT and GROUP BY (two bound parameters would be two different expressions).
    lot_key = func.coalesce(Posting.lot_id, literal_column("0"))
    cols = [Posting.commodity, lot_key if by_lot else None]
    q = (
        select(
            Posting.commodity,
            lot_key if by_lot else func.min(literal_column("0")),
            func.sum(Posting.amount),
        )
        .where(Posting.account_code.in_(codes), Posting.accounting_date > as_of)
        .group_by(*[c for c in cols if c is not None])
    )
    return {(c, int(lk)): int(s) for c, lk, s in session.execute(q)}


def balances(
    session: Session, codes: list[str], as_of: date | None = None, *, by_lot: bool = True
) -> list[BalanceLine]:
    """Balances of ``codes`` (summed) per commodity and lot, as of a date (default: now)."""
    q = select(
        Balance.commodity, Balance.lot_key if by_lot else func.min(0), func.sum(Balance.amount)
    ).where(Balance.account_code.in_(codes))
    q = q.group_by(Balance.commodity, Balance.lot_key) if by_lot else q.group_by(Balance.commodity)
    totals = {(c, int(lk)): int(s) for c, lk, s in session.execute(q)}
    if as_of is not None:
        for k, s in _after(session, codes, as_of, by_lot).items():
            totals[k] = totals.get(k, 0) - s
    lot_ids = {lk for (_c, lk), v in totals.items() if lk and v}
    codes_by_id = dict(
        session.execute(select(Lot.id, Lot.lot_code).where(Lot.id.in_(lot_ids))).all()
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
        b.amount for b in balances(session, codes, as_of, by_lot=False) if b.commodity == commodity
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
    """Every account's balance per commodity from the kept balances (lots summed)."""
    q = select(Balance.account_code, Balance.commodity, func.sum(Balance.amount)).group_by(
        Balance.account_code, Balance.commodity
    )
    if commodity:
        q = q.where(Balance.commodity == commodity)
    totals = {(a, c): int(s) for a, c, s in session.execute(q)}
    if as_of is not None:
        qa = (
            select(Posting.account_code, Posting.commodity, func.sum(Posting.amount))
            .where(Posting.accounting_date > as_of)
            .group_by(Posting.account_code, Posting.commodity)
        )
        if commodity:
            qa = qa.where(Posting.commodity == commodity)
        for a, c, s in session.execute(qa):
            totals[(a, c)] = totals.get((a, c), 0) - int(s)
    accounts = {a.code: a for a in session.scalars(select(Account))}
    return [
        TrialBalanceRow(a, accounts[a].name, accounts[a].type, c, v)
        for (a, c), v in sorted(totals.items())
        if v != 0
    ]
