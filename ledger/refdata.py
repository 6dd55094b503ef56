"""The ledger's part of the reference snapshot (``ledger.refcache``): chart of accounts,
commodities, lots and periods, as the transaction sees them. :func:`load` is wired as the
part named ``"ledger"`` by the application factory (``app.REFERENCE_PARTS``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import chart, refcache
from ledger.tables import Account, Commodity, FundSetting, Lot, Period


@dataclass(frozen=True)
class LedgerRef:
    accounts: Mapping[str, Account]
    commodities: Mapping[str, Commodity]
    exponents: Mapping[str, int]
    lots: Mapping[int, Lot]
    #: medicine -> its lots, by id
    lots_of: Mapping[str, tuple[Lot, ...]]
    #: period ("YYYY-MM") -> "open" | "closed", for the periods that have a row
    periods: Mapping[str, str]
    last_closed: str | None
    #: the fund's functional currency (``fund_settings``; KHR when the row is missing)
    functional_currency: str = chart.FUND_CURRENCY


def load(session: Session) -> LedgerRef:
    commodities = {c.code: c for c in session.scalars(select(Commodity))}
    lots = {lot.id: lot for lot in session.scalars(select(Lot).order_by(Lot.id))}
    lots_of: dict[str, list[Lot]] = {}
    for lot in lots.values():
        lots_of.setdefault(lot.commodity, []).append(lot)
    periods = {p.period: p.status for p in session.scalars(select(Period))}
    closed = [p for p, st in periods.items() if st == "closed"]
    return LedgerRef(
        accounts={a.code: a for a in session.scalars(select(Account))},
        commodities=commodities,
        exponents={c: m.exponent for c, m in commodities.items()},
        lots=lots,
        lots_of={m: tuple(ls) for m, ls in lots_of.items()},
        periods=periods,
        last_closed=max(closed) if closed else None,
        functional_currency=str(
            session.scalar(select(FundSetting.functional_currency).where(FundSetting.id == 1))
            or chart.FUND_CURRENCY
        ),
    )


def ledger_ref(snapshot: refcache.Snapshot) -> LedgerRef:
    part: LedgerRef = snapshot["ledger"]
    return part
