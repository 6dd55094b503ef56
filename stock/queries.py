"""Reading stock from the books: the places, stock on hand per place and lot (as of a date),
lots expiring soon, and a stock card (each movement of a medicine at a place with running
quantity and value). Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import chart
from ledger.queries import balances
from ledger.settings import functional_currency
from ledger.tables import Account, Entry, Lot, Posting
from stock.errors import ReferenceNotFound
from stock.refdata import require_medicine


@dataclass(frozen=True)
class OnHandRow:
    location: str
    medicine: str
    lot: str
    lot_id: int
    expiry_on: date
    quantity: int
    value: int


def locations(session: Session) -> list[str]:
    """Every place that holds stock: CENTRAL first, then the pharmacies in code order."""
    codes = session.scalars(
        select(Account.code)
        .where(Account.is_inventory.is_(True), Account.is_header.is_(False))
        .order_by(Account.code)
    )
    locs = [chart.party_of(c) or c for c in codes]
    return sorted(locs, key=lambda c: (c != chart.CENTRAL, c))


def on_hand(
    session: Session,
    *,
    location: str | None = None,
    medicine: str | None = None,
    as_of: date | None = None,
    currency: str | None = None,
) -> list[OnHandRow]:
    """Stock per place and lot from the books (kept balances; as of a date: kept balances
    less what was booked after it); values in ``currency`` (the functional one)."""
    currency = currency or functional_currency(session)
    places = locations(session)
    if location is not None:
        if location not in places:
            raise ReferenceNotFound(f"no location {location!r}")
        places = [location]
    if medicine is not None:
        require_medicine(session, medicine)
    rows: list[OnHandRow] = []
    lots: dict[int, Lot] = {}
    for place in places:
        per_lot: dict[int, list[int]] = {}
        for b in balances(session, [chart.inventory(place)], as_of, by_lot=True):
            if b.lot_id is None:
                continue
            if b.commodity != currency and (medicine is not None and b.commodity != medicine):
                continue
            slot = per_lot.setdefault(b.lot_id, [0, 0])
            if b.commodity == currency:
                slot[1] += b.amount
            else:
                slot[0] += b.amount
        missing = [lid for lid in per_lot if lid not in lots]
        if missing:
            for lot in session.scalars(select(Lot).where(Lot.id.in_(missing))):
                lots[lot.id] = lot
        for lot_id, (units, value) in per_lot.items():
            lot = lots[lot_id]
            if medicine is not None and lot.commodity != medicine:
                continue
            if units == 0 and value == 0:
                continue
            rows.append(
                OnHandRow(place, lot.commodity, lot.lot_code, lot.id, lot.expiry_on, units, value)
            )
    rows.sort(
        key=lambda r: (r.location != chart.CENTRAL, r.location, r.medicine, r.expiry_on, r.lot)
    )
    return rows


def expiring(
    session: Session,
    *,
    within_days: int,
    today: date,
    location: str | None = None,
    currency: str | None = None,
) -> list[OnHandRow]:
    """Lots on hand expiring on or before ``today + within_days`` (already expired ones too:
    they wait for a write-off), earliest expiry first."""
    limit = today + timedelta(days=within_days)
    currency = currency or functional_currency(session)
    rows = [
        r
        for r in on_hand(session, location=location, currency=currency)
        if r.expiry_on <= limit and r.quantity > 0
    ]
    rows.sort(
        key=lambda r: (r.expiry_on, r.location != chart.CENTRAL, r.location, r.medicine, r.lot)
    )
    return rows


@dataclass(frozen=True)
class CardLine:
    accounting_date: date
    service_date: date
    entry_id: int
    source: str | None
    memo: str
    lot: str
    lot_id: int
    quantity: int
    value: int
    running_quantity: int
    running_value: int


@dataclass(frozen=True)
class StockCard:
    location: str
    medicine: str
    start: date
    end: date
    opening_quantity: int
    opening_value: int
    closing_quantity: int
    closing_value: int
    lines: list[CardLine]
    more: bool


def _totals(
    session: Session, account: str, medicine: str, currency: str, as_of: date
) -> tuple[int, int]:
    units = value = 0
    lot_ids = set(session.scalars(select(Lot.id).where(Lot.commodity == medicine)))
    for b in balances(session, [account], as_of, by_lot=True):
        if b.lot_id is None or b.lot_id not in lot_ids:
            continue
        if b.commodity == medicine:
            units += b.amount
        elif b.commodity == currency:
            value += b.amount
    return units, value


def stock_card(
    session: Session,
    *,
    location: str,
    medicine: str,
    start: date,
    end: date,
    after: tuple[str, int, int] | None = None,
    running: tuple[int, int] | None = None,
    limit: int = 500,
    currency: str | None = None,
) -> StockCard:
    """A stock card: opening units and value of ``medicine`` at ``location``, each movement
    (an entry's effect on one lot) with the running quantity and value, and the closing."""
    currency = currency or functional_currency(session)
    if location not in locations(session):
        raise ReferenceNotFound(f"no location {location!r}")
    require_medicine(session, medicine)
    account = chart.inventory(location)
    opening = _totals(session, account, medicine, currency, start - timedelta(days=1))
    closing = _totals(session, account, medicine, currency, end)
    lots_of = select(Lot.id).where(Lot.commodity == medicine)
    q = (
        select(
            Posting.accounting_date,
            Posting.entry_id,
            Posting.lot_id,
            Posting.commodity,
            func.sum(Posting.amount),
        )
        .where(
            Posting.account_code == account,
            Posting.commodity.in_([medicine, currency]),
            Posting.lot_id.in_(lots_of),
            Posting.accounting_date >= start,
            Posting.accounting_date <= end,
        )
        .group_by(Posting.accounting_date, Posting.entry_id, Posting.lot_id, Posting.commodity)
        .order_by(Posting.accounting_date, Posting.entry_id, Posting.lot_id)
    )
    if after is not None:
        d, after_entry, after_lot = date.fromisoformat(after[0]), after[1], after[2]
        q = q.where(
            (Posting.accounting_date > d)
            | ((Posting.accounting_date == d) & (Posting.entry_id > after_entry))
            | (
                (Posting.accounting_date == d)
                & (Posting.entry_id == after_entry)
                & (Posting.lot_id > after_lot)
            )
        )
    # Group units and value of one (entry, lot) together; fetch one group more than asked.
    groups: dict[tuple[date, int, int], list[int]] = {}
    for ad, eid, lid, commodity, amount in session.execute(q):
        key = (ad, int(eid), int(lid or 0))  # lot_id is never NULL here (filtered)
        if key not in groups and len(groups) > limit:
            break
        slot = groups.setdefault(key, [0, 0])
        slot[0 if commodity == medicine else 1] += int(amount)
    keys = list(groups)
    more = len(keys) > limit
    keys = keys[:limit]
    entry_ids = {k[1] for k in keys}
    entries = {e.id: e for e in session.scalars(select(Entry).where(Entry.id.in_(entry_ids)))}
    codes = dict(
        session.execute(select(Lot.id, Lot.lot_code).where(Lot.id.in_({k[2] for k in keys}))).all()
    )
    run_q, run_v = running if running is not None else opening
    lines = []
    for k in keys:
        u, v = groups[k]
        run_q += u
        run_v += v
        e = entries[k[1]]
        lines.append(
            CardLine(
                k[0], e.service_date, k[1], e.source, e.memo, codes[k[2]], k[2], u, v, run_q, run_v
            )
        )
    return StockCard(
        location, medicine, start, end, opening[0], opening[1], closing[0], closing[1], lines, more
    )
