"""What a scheme's budgets have used (DESIGN.md "Funders"): a fact the counter gathers
before pricing, under a lock per (scheme, period), like the monthly cap's used subsidy.

Used = the subsidy of the scheme's dispensings whose service date falls in the period, net
of what their returns gave back (a return gives the budget back to the period of the
dispensing it returns, whatever its own date). Only dispensings in the fund currency count
(a budget is in the fund currency).

Locking: ``locked_budgets`` takes ``pg_advisory_xact_lock`` per (scheme, period) that HAS a
budget, in sorted key order, before reading what it used, so twenty counters dispensing
against one budget queue on it and never pass it by one riel, while dispensings of schemes
without a budget never wait on it. SQLite writers are serialised by ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from contracts.budgets import budget_history, budgets_in_force, period_bounds, periods_of
from dispensing.tables import Dispensing, DispensingReturn
from ledger.db import Base, is_postgres
from ledger.settings import functional_currency

#: (scheme code, period "YYYY-MM" or "YYYY")
BudgetKey = tuple[str, str]

_DISPENSINGS = Base.metadata.tables[Dispensing.__tablename__]
_RETURNED = Base.metadata.tables[DispensingReturn.__tablename__]
_USED_ROWS = select(
    _DISPENSINGS.c.scheme,
    _DISPENSINGS.c.service_date,
    _DISPENSINGS.c.total_subsidy,
    select(func.sum(_RETURNED.c.total_subsidy))
    .where(_RETURNED.c.dispensing_id == _DISPENSINGS.c.id)
    .scalar_subquery(),
).where(
    _DISPENSINGS.c.scheme.in_(bindparam("schemes", expanding=True)),
    _DISPENSINGS.c.service_date >= bindparam("first"),
    _DISPENSINGS.c.service_date <= bindparam("last"),
    _DISPENSINGS.c.currency == bindparam("currency"),
)


@dataclass(frozen=True)
class Budgets:
    """The budgets in force for the (scheme, period)s of a chunk, and what each used."""

    amounts: dict[BudgetKey, int]
    used: dict[BudgetKey, int]

    def keys_for(self, scheme: str, on: date) -> list[BudgetKey]:
        return [(scheme, p) for p in periods_of(on) if (scheme, p) in self.amounts]


NO_BUDGETS = Budgets({}, {})


def _lock_key(key: BudgetKey) -> int:
    return zlib.crc32(f"{key[0]}|{key[1]}".encode()) - 2**31


def lock_budget(session: Session, key: BudgetKey) -> None:
    """Serialise the dispensings that draw on one budget (read used, then use it)."""
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(8, :k)"), {"k": _lock_key(key)})


def budget_used(session: Session, keys: Sequence[BudgetKey], currency: str) -> dict[BudgetKey, int]:
    """Subsidy used per (scheme, period), net of returns, in one query (dispensings priced
    in ``currency``, the functional one: budgets are kept in it)."""
    if not keys:
        return {}
    bounds = {k: period_bounds(k[1]) for k in keys}
    params = {
        "schemes": sorted({s for s, _p in keys}),
        "first": min(b[0] for b in bounds.values()),
        "last": max(b[1] for b in bounds.values()),
        "currency": currency,
    }
    used = dict.fromkeys(keys, 0)
    for scheme, on, given, returned in session.execute(_USED_ROWS, params):
        for period in periods_of(on):
            if (scheme, period) in used:
                used[(scheme, period)] += int(given) - int(returned or 0)
    return used


def any_budget(session: Session, wanted: Iterable[tuple[str, date]]) -> bool:
    """True if a budget is in force for one of the (scheme, service date)s (read without
    a lock: a write that finds none takes no budget lock)."""
    pairs = sorted(set(wanted))
    if not pairs:
        return False
    periods = sorted({p for _s, on in pairs for p in periods_of(on)})
    keys = {(s, p) for s, on in pairs for p in periods_of(on)}
    found = budgets_in_force(session, sorted({s for s, _on in pairs}), periods)
    return any(k in found for k in keys)


def locked_budgets(session: Session, wanted: Iterable[tuple[str, date]], currency: str) -> Budgets:
    """The budgets in force for the (scheme, service date)s of a chunk, each locked (sorted
    order) before what it used is read. Schemes without a budget: nothing locked."""
    pairs = sorted(set(wanted))
    if not pairs:
        return NO_BUDGETS
    periods = sorted({p for _s, on in pairs for p in periods_of(on)})
    keys = {(s, p) for s, on in pairs for p in periods_of(on)}
    found = budgets_in_force(session, sorted({s for s, _on in pairs}), periods)
    budgeted = sorted(k for k in keys if k in found)
    if not budgeted:
        return NO_BUDGETS
    for key in sorted(budgeted, key=_lock_key):
        lock_budget(session, key)
    # read again under the locks: a version added meanwhile is in force now
    amounts = budgets_in_force(session, sorted({s for s, _p in budgeted}), periods)
    amounts = {k: v for k, v in amounts.items() if k in keys}
    return Budgets(amounts, budget_used(session, sorted(amounts), currency))


@dataclass(frozen=True)
class BudgetStatus:
    period: str
    amount: int
    used: int

    @property
    def remaining(self) -> int:
        return max(self.amount - self.used, 0)


def budget_status(session: Session, scheme: str) -> list[BudgetStatus]:
    """Each period the scheme has a budget for (its latest version), what it used and what
    is left, periods in order (404: no such scheme)."""
    latest: dict[str, int] = {}
    for row in budget_history(session, scheme):
        latest[row.period] = row.amount
    keys = [(scheme, p) for p in sorted(latest)]
    used = budget_used(session, keys, functional_currency(session))
    return [BudgetStatus(p, latest[p], used[(scheme, p)]) for p in sorted(latest)]
