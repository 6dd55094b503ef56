"""The fund's settings (DESIGN.md "Two currencies"): its functional currency.

Lots are valued in the functional currency, kept balances and budgets are in it, reports
default to it. It is chosen once, at set-up (``flask set-functional-currency USD``, or
:func:`set_functional_currency`), while nothing is posted; after the first entry it is a 409.
KHR is the default (migration 0017 seeds the row).

Reading it costs nothing extra: it is part of the reference snapshot (``ledger.refdata``),
cached per process and checked against ``ref_version`` like the chart, so the hot path reads
it from the snapshot it already holds (:func:`functional_of`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import chart, clock, refcache
from ledger.errors import Conflict
from ledger.fx_rates import kept_currency
from ledger.refdata import ledger_ref
from ledger.tables import Entry, FundSetting, Lot


class FunctionalCurrencyLocked(Conflict):
    """The functional currency cannot change once anything is posted."""

    slug = "functional-currency-locked"
    title = "The functional currency is fixed once anything is posted"


def functional_of(snapshot: refcache.Snapshot) -> str:
    """The functional currency held by a reference snapshot the caller already has."""
    return ledger_ref(snapshot).functional_currency


def functional_currency(session: Session) -> str:
    """The fund's functional currency, as ``session``'s transaction sees it: from the
    process's reference snapshot when it is current, else read from its row (a transaction
    that has just changed reference data, a lot made by a receipt, reads one row rather
    than a whole new snapshot)."""
    snap = refcache.fresh_snapshot(session)
    if snap is not None:
        return functional_of(snap)
    return read_functional_currency(session)


def read_functional_currency(session: Session) -> str:
    """The functional currency from its row (KHR when the row is missing)."""
    found = session.scalar(select(FundSetting.functional_currency).where(FundSetting.id == 1))
    return str(found) if found else chart.FUND_CURRENCY


@dataclass(frozen=True)
class FunctionalCurrencySet:
    currency: str
    #: False when it already was that currency (nothing changed)
    changed: bool


def set_functional_currency(session: Session, code: str, *, by: str) -> FunctionalCurrencySet:
    """Choose the functional currency (KHR or USD) while the books are empty. The same
    currency again changes nothing; another one after any entry or lot is a 409."""
    currency = kept_currency(code, "functional_currency")
    row = session.scalars(select(FundSetting).where(FundSetting.id == 1).with_for_update()).first()
    current = row.functional_currency if row is not None else chart.FUND_CURRENCY
    if currency == current:
        return FunctionalCurrencySet(currency, False)
    posted = session.scalar(select(Entry.id).limit(1)) or session.scalar(select(Lot.id).limit(1))
    if posted is not None:
        raise FunctionalCurrencyLocked(
            f"the functional currency is {current} and cannot become {currency}: the books "
            f"already hold entries, and lot values and kept balances are in {current}. It is "
            "chosen once, before anything is posted (a new fund's database).",
            errors={"functional_currency": [f"fixed at {current} once anything is posted"]},
        )
    if row is None:
        row = FundSetting(id=1, functional_currency=currency)
        session.add(row)
    row.functional_currency = currency
    row.set_at = clock.now()
    row.set_by = by
    session.flush()
    return FunctionalCurrencySet(currency, True)
