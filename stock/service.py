"""Use cases of stock: reference data (medicines, suppliers, pharmacies), receipts,
transfers, write-offs, counts, and reading stock from the books.

Every write goes through ``ledger.posting.post_entry``; the caller commits. Stock on hand
of a lot at a place is the kept balance of ``1400-{location}`` in the medicine (units) and
in the fund currency (value) for that lot. ``take_stock`` is the one way stock leaves a
place by FEFO (transfers here, dispensings in ``dispensing/``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import is_postgres
from ledger.errors import InvalidRequest
from ledger.model import PostingDraft
from ledger.money import format_amount
from ledger.tables import Account, Balance, Commodity, Lot
from stock.errors import InsufficientStock, LotExpired, UnknownLocation, UnknownReference
from stock.model import LotPosition, Shortage, after_pending, pick_lots

CENTRAL = "CENTRAL"
FUND_CURRENCY = "KHR"

#: Pharmacy and supplier codes: upper-case letters, digits, "-" and "_", 1 to 24 characters,
#: starting with a letter or a digit.
CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_\-]{0,23}")
CODE_RULE = (
    "a code is 1 to 24 characters: upper-case letters A-Z, digits 0-9, '-' and '_', "
    "starting with a letter or a digit"
)


def inventory_account(location: str) -> str:
    """The inventory account of a place: ``CENTRAL`` -> ``1400-CENTRAL``, ``P1`` -> ``1400-P1``.

    Checks the form of the code only; :func:`take_stock` (and the stock services) check the
    place exists and raise :class:`UnknownLocation` otherwise.
    """
    if not isinstance(location, str) or not CODE_RE.fullmatch(location):
        raise UnknownLocation(
            f"{location!r} is not a location: name CENTRAL or a pharmacy code",
            errors={"location": [CODE_RULE]},
        )
    return f"1400-{location}"


def require_location(session: Session, location: str, field: str = "location") -> str:
    """The inventory account of an existing place, or :class:`UnknownLocation` (422)."""
    try:
        code = inventory_account(location)
    except UnknownLocation as exc:
        raise UnknownLocation(exc.detail, errors={field: [CODE_RULE]}) from exc
    acc = session.get(Account, code)
    if acc is None or not acc.is_inventory or acc.is_header:
        raise UnknownLocation(
            f"no location {location!r}: name CENTRAL or a pharmacy code",
            errors={field: [f"no location {location!r}"]},
        )
    return code


def require_medicine(session: Session, medicine: str, field: str = "medicine") -> Commodity:
    com = session.get(Commodity, medicine) if isinstance(medicine, str) else None
    if com is None or com.kind != "medicine":
        raise UnknownReference(
            f"no medicine {medicine!r}", errors={field: [f"no medicine {medicine!r}"]}
        )
    return com


@dataclass(frozen=True)
class LotTake:
    """``quantity`` units taken from one lot at a place, worth ``value`` (minor units)."""

    lot_id: int
    lot_code: str
    expiry_on: date
    quantity: int
    value: int


def lot_positions(
    session: Session,
    account: str,
    medicine: str,
    currency: str = FUND_CURRENCY,
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
    q = (
        select(Balance.commodity, Balance.lot_key, Balance.amount)
        .where(
            Balance.account_code == account,
            Balance.commodity.in_([medicine, currency]),
            Balance.lot_key.in_(lots_of),
            Balance.stripe == 0,
        )
        .order_by(Balance.account_code, Balance.commodity, Balance.lot_key, Balance.stripe)
    )
    if lock and is_postgres(session):
        q = q.with_for_update(key_share=True)  # FOR NO KEY UPDATE
    units: dict[int, int] = {}
    value: dict[int, int] = {}
    for commodity, lot_key, amount in session.execute(q):
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
    currency: str = FUND_CURRENCY,
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
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidRequest(
            f"the quantity must be a positive whole number of units, not {quantity!r}",
            errors={"quantity": ["must be a positive integer"]},
        )
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
    positions = lot_positions(session, account, medicine, currency, lock=True, lot_ids=lot_ids)
    if pending is None:
        pending = {}
    left = after_pending(positions, pending)
    try:
        takes = pick_lots(left, quantity, on, lot_code=lot_code, allow_expired=allow_expired)
    except Shortage as short:
        if short.expired_lot is not None:
            lot = short.expired_lot
            raise LotExpired(
                f"lot {lot.lot_code} of {medicine} at {location} expired on "
                f"{lot.expiry_on.isoformat()}, before {on.isoformat()}: expired stock is "
                f"never moved or dispensed; write it off",
                medicine=medicine,
                location=location,
                lot=lot.lot_code,
                expiry=lot.expiry_on.isoformat(),
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
    currency: str = FUND_CURRENCY,
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


def transfer_kind(session: Session, to_location: str, on: date) -> str:
    """HOOK for contracts: what a transfer to ``to_location`` on ``on`` is.

    ``"move"`` (stock stays the fund's: units and value move between inventory accounts).
    When contracts/ knows the pharmacy is on the purchase model on ``on``, it should answer
    ``"sale"`` and the transfer will have to post DESIGN.md's sale (``1200-P +``, ``4000 −``,
    cost ``5000 +``, ``1400-CENTRAL −``). Not implemented yet: always ``"move"``.
    """
    return "move"


def describe_money(amount: int, exponent: int = 0) -> str:
    return format_amount(amount, exponent)
