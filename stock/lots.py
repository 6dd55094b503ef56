"""Lots at a place: reading and locking what is left of each lot (the kept balances of the
place's inventory account, units and value), and picking lots first-expiry-first-out.

``take_stock`` is the one way stock leaves a place one line at a time (transfers, write-offs,
counts); ``lock_lot_positions`` + ``pick_lines`` do the same for a whole batch of entries at
once (the dispensing batch). Both lock the balance rows in the global lock order of
``ledger.posting`` before reading them. Nothing here posts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, bindparam, select, tuple_
from sqlalchemy.orm import Session

from ledger import chart
from ledger.db import is_postgres
from ledger.errors import InvalidRequest
from ledger.model import PostingDraft
from ledger.refdata import LedgerRef
from ledger.settings import functional_currency
from ledger.tables import Balance, Lot
from stock.errors import InsufficientStock, LotExpired, UnknownReference
from stock.model import LotPosition, Shortage, after_pending, pick_lots
from stock.refdata import inventory_account, require_location, require_medicine


def check_quantity(quantity: object) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidRequest(
            f"the quantity must be a positive whole number of units, not {quantity!r}",
            errors={"quantity": ["must be a positive integer"]},
        )


@dataclass(frozen=True)
class LotTake:
    """``quantity`` units taken from one lot at a place, worth ``value`` (minor units)."""

    lot_id: int
    lot_code: str
    expiry_on: date
    quantity: int
    value: int


def _lot_balances(lots: ColumnElement[bool]) -> Select[str, int, int]:
    """The kept balances (units and value, stripe 0) of the lots ``lots`` selects at the
    place ``:account``, in ``:commodities``, in the global lock order of ``ledger.posting``."""
    return (
        select(Balance.commodity, Balance.lot_key, Balance.amount)
        .where(
            Balance.account_code == bindparam("account"),
            Balance.commodity.in_(bindparam("commodities", expanding=True)),
            lots,
            Balance.stripe == 0,
        )
        .order_by(Balance.account_code, Balance.commodity, Balance.lot_key, Balance.stripe)
    )


def lot_positions(
    session: Session,
    account: str,
    medicine: str,
    currency: str = chart.FUND_CURRENCY,
    *,
    lock: bool = False,
    lot_ids: Sequence[int] | None = None,
) -> list[LotPosition]:
    """What is left of each lot of ``medicine`` at the place of ``account`` (units, value).

    With ``lock``, on PostgreSQL the kept balance rows (units and value, sorted in the global
    order of ``ledger.posting``) are locked ``FOR NO KEY UPDATE`` before they are read, so
    two takes from one lot queue instead of both seeing the same stock.
    """
    lots_of = select(Lot.id).where(Lot.commodity == medicine)
    if lot_ids is not None:
        lots_of = lots_of.where(Lot.id.in_(list(lot_ids)))
    q = _lot_balances(Balance.lot_key.in_(lots_of))
    if lock and is_postgres(session):
        q = q.with_for_update(key_share=True)  # FOR NO KEY UPDATE
    units: dict[int, int] = {}
    value: dict[int, int] = {}
    params = {"account": account, "commodities": [medicine, currency]}
    for commodity, lot_key, amount in session.execute(q, params):
        (units if commodity == medicine else value)[int(lot_key)] = int(amount)
    ids = [lk for lk, u in units.items() if u != 0 or value.get(lk, 0) != 0]
    if not ids:
        return []
    lots = {lot.id: lot for lot in session.scalars(select(Lot).where(Lot.id.in_(ids)))}
    return [
        LotPosition(
            lk,
            lots[lk].lot_code,
            lots[lk].expiry_on,
            lots[lk].received_on,
            units.get(lk, 0),
            value.get(lk, 0),
        )
        for lk in ids
    ]


def take_stock(
    session: Session,
    *,
    location: str,
    medicine: str,
    quantity: int,
    on: date,
    lot_code: str | None = None,
    currency: str | None = None,
    pending: dict[int, tuple[int, int]] | None = None,
    allow_expired: bool = False,
) -> list[LotTake]:
    """Choose the lots ``quantity`` units of ``medicine`` leave ``location`` from on ``on``.

    Locks the place's kept balances of that medicine's lots (units and value; PostgreSQL
    ``FOR NO KEY UPDATE``, sorted) before reading them, then picks first-expiry-first-out
    (ties: earliest received, then lot id), skipping lots that expired before ``on``, or
    takes from the named lot only. Each take is valued by the lot value rule on what is left
    after ``pending`` (lot id -> (units, value) already taken by earlier lines of the same
    entry); the takes are added to ``pending``. Posts nothing.

    Raises ``UnknownLocation`` / ``UnknownReference`` (422) for an unknown place, medicine or
    lot, and ``InsufficientStock`` (409) naming the medicine, the place and the quantity
    available (unexpired) when there is not enough.
    """
    check_quantity(quantity)
    account = require_location(session, location)
    require_medicine(session, medicine)
    lot_ids = None
    if lot_code is not None:
        lot = session.scalars(
            select(Lot).where(Lot.commodity == medicine, Lot.lot_code == lot_code)
        ).first()
        if lot is None:
            raise UnknownReference(
                f"no lot {lot_code!r} of {medicine}",
                errors={"lot": [f"no lot {lot_code!r} of {medicine}"]},
            )
        lot_ids = [lot.id]
    positions = lot_positions(
        session,
        account,
        medicine,
        currency or functional_currency(session),
        lock=True,
        lot_ids=lot_ids,
    )
    return _take(
        positions,
        pending if pending is not None else {},
        location=location,
        medicine=medicine,
        quantity=quantity,
        on=on,
        lot_code=lot_code,
        allow_expired=allow_expired,
    )


#: The lot balances (units and value, stripe 0) of several places at once: ``places_lots``
#: holds (account, lot) pairs, in the global lock order of ``ledger.posting``.
_PLACES_LOT_BALANCES = (
    select(Balance.account_code, Balance.commodity, Balance.lot_key, Balance.amount)
    .where(
        tuple_(Balance.account_code, Balance.lot_key).in_(bindparam("places_lots", expanding=True)),
        Balance.commodity.in_(bindparam("commodities", expanding=True)),
        Balance.stripe == 0,
    )
    .order_by(Balance.account_code, Balance.commodity, Balance.lot_key, Balance.stripe)
)
_PLACES_LOT_BALANCES_LOCKED = _PLACES_LOT_BALANCES.with_for_update(key_share=True)

#: Lot positions per (place account, medicine), FEFO picking input.
Positions = dict[tuple[str, str], list[LotPosition]]
#: What earlier takes of the same transaction took, per place account: lot -> (units, value).
Pending = dict[str, dict[int, tuple[int, int]]]


def lock_lot_positions(
    session: Session,
    ref: LedgerRef,
    wanted: Sequence[tuple[str, str]],
    currency: str,
    *,
    lock: bool = True,
) -> Positions:
    """The lots of each (place account, medicine) of ``wanted`` with what is left of them,
    every kept balance row involved locked ``FOR NO KEY UPDATE`` (PostgreSQL) in one
    statement, in the global lock order; lots come from the reference snapshot ``ref``.
    ``lock=False``: read only (a write planned from it checks them under its locks)."""
    positions: Positions = {w: [] for w in wanted}
    pairs = sorted(
        {
            (account, lot.id)
            for account, medicine in positions
            for lot in ref.lots_of.get(medicine, ())
        }
    )
    if not pairs:
        return positions
    commodities = sorted({m for _a, m in positions} | {currency})
    q = _PLACES_LOT_BALANCES_LOCKED if lock and is_postgres(session) else _PLACES_LOT_BALANCES
    units: dict[tuple[str, int], int] = {}
    value: dict[tuple[str, int], int] = {}
    for account, commodity, lot_key, amount in session.execute(
        q, {"places_lots": pairs, "commodities": commodities}
    ):
        (value if commodity == currency else units)[(account, int(lot_key))] = int(amount)
    for account, lk in sorted(units):
        u, v = units[(account, lk)], value.get((account, lk), 0)
        if u == 0 and v == 0:
            continue
        lot = ref.lots[lk]
        if (account, lot.commodity) in positions:
            positions[(account, lot.commodity)].append(
                LotPosition(lk, lot.lot_code, lot.expiry_on, lot.received_on, u, v)
            )
    return positions


def check_take_lines(
    session: Session, ref: LedgerRef, location: str, lines: Sequence[tuple[str, int]]
) -> str:
    """The place's inventory account, once its medicines and quantities are valid (422s of
    ``take_stock``)."""
    account = require_location(session, location, accounts=ref.accounts)
    for medicine, quantity in lines:
        require_medicine(session, medicine, commodities=ref.commodities)
        check_quantity(quantity)
    return account


def pick_lines(
    positions: Positions,
    pending: Pending,
    *,
    location: str,
    lines: Sequence[tuple[str, int]],
    on: date,
) -> list[list[LotTake]]:
    """FEFO takes for every (medicine, quantity) line of one entry at ``location`` from
    locked ``positions``, after what ``pending`` says earlier takes took. ``pending`` is
    updated only if every line can be taken (else the shortage is raised)."""
    account = inventory_account(location)
    mine = dict(pending.get(account, {}))
    takes = [
        _take(
            positions[(account, medicine)],
            mine,
            location=location,
            medicine=medicine,
            quantity=quantity,
            on=on,
        )
        for medicine, quantity in lines
    ]
    pending[account] = mine
    return takes


def _take(
    positions: list[LotPosition],
    pending: dict[int, tuple[int, int]],
    *,
    location: str,
    medicine: str,
    quantity: int,
    on: date,
    lot_code: str | None = None,
    allow_expired: bool = False,
) -> list[LotTake]:
    """Pick ``quantity`` units from ``positions`` after what ``pending`` took already, and
    add the takes to ``pending``; the shortage errors of ``take_stock``."""
    left = after_pending(positions, pending)
    try:
        takes = pick_lots(left, quantity, on, lot_code=lot_code, allow_expired=allow_expired)
    except Shortage as short:
        if short.expired_lot is not None:
            expired = short.expired_lot
            raise LotExpired(
                f"lot {expired.lot_code} of {medicine} at {location} expired on "
                f"{expired.expiry_on.isoformat()}, before {on.isoformat()}: expired stock is "
                f"never moved or dispensed; write it off",
                medicine=medicine,
                location=location,
                lot=expired.lot_code,
                expiry=expired.expiry_on.isoformat(),
                requested=quantity,
                available=0,
            ) from None
        where = f" in lot {lot_code}" if lot_code is not None else ""
        kind = "" if allow_expired else "unexpired "
        raise InsufficientStock(
            f"not enough {medicine} at {location}{where}: {short.available} {kind}units "
            f"available on {on.isoformat()}, {quantity} requested",
            medicine=medicine,
            location=location,
            lot=lot_code,
            requested=quantity,
            available=short.available,
        ) from None
    out = []
    for t in takes:
        u, v = pending.get(t.lot_id, (0, 0))
        pending[t.lot_id] = (u + t.units, v + t.value)
        out.append(LotTake(t.lot_id, t.lot_code, t.expiry_on, t.units, t.value))
    return out


def take_postings(
    location_account: str,
    medicine: str,
    takes: Sequence[LotTake],
    currency: str = chart.FUND_CURRENCY,
) -> list[PostingDraft]:
    """The credits of a take: ``-units`` of the medicine and ``-value`` of the currency per
    lot, on ``location_account``. (A zero value is never posted; with receipts costing at
    least one minor unit per unit it cannot happen.)"""
    out: list[PostingDraft] = []
    for t in takes:
        out.append(PostingDraft(location_account, medicine, -t.quantity, t.lot_id))
        if t.value:
            out.append(PostingDraft(location_account, currency, -t.value, t.lot_id))
    return out
