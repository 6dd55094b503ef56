"""Use cases of stock: reference data (medicines, suppliers, pharmacies), receipts,
transfers, write-offs, counts, and reading stock from the books.

Every write goes through ``ledger.posting.post_entry``; the caller commits. Stock on hand
of a lot at a place is the kept balance of ``1400-{location}`` in the medicine (units) and
in the fund currency (value) for that lot. ``take_stock`` is the one way stock leaves a
place by FEFO (transfers here, dispensings in ``dispensing/``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from ledger import clock
from ledger.beancount import COMMODITY_RULE, is_valid_commodity
from ledger.db import is_postgres
from ledger.errors import Conflict, InvalidRequest
from ledger.journal import check_event_date
from ledger.model import EntryDraft, PostingDraft
from ledger.money import AmountError, format_amount, parse_amount
from ledger.posting import PostedEntry, post_entry
from ledger.queries import balances
from ledger.refdata import LedgerRef
from ledger.tables import Account, Balance, Commodity, Entry, Lot, Posting
from stock.errors import (
    DuplicateReference,
    InsufficientStock,
    LotExpired,
    LotExpiryMismatch,
    ReferenceNotFound,
    UnknownLocation,
    UnknownReference,
)
from stock.model import LotPosition, Shortage, after_pending, count_gain_value, pick_lots
from stock.tables import Medicine, Pharmacy, StockMovement, Supplier

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


def require_location(
    session: Session,
    location: str,
    field: str = "location",
    accounts: Mapping[str, Account] | None = None,
) -> str:
    """The inventory account of an existing place, or :class:`UnknownLocation` (422).
    ``accounts``: the chart of a reference snapshot, instead of reading the account."""
    try:
        code = inventory_account(location)
    except UnknownLocation as exc:
        raise UnknownLocation(exc.detail, errors={field: [CODE_RULE]}) from exc
    acc = accounts.get(code) if accounts is not None else session.get(Account, code)
    if acc is None or not acc.is_inventory or acc.is_header:
        raise UnknownLocation(
            f"no location {location!r}: name CENTRAL or a pharmacy code",
            errors={field: [f"no location {location!r}"]},
        )
    return code


def require_medicine(
    session: Session,
    medicine: str,
    field: str = "medicine",
    commodities: Mapping[str, Commodity] | None = None,
) -> Commodity:
    """The medicine, or :class:`UnknownReference` (422). ``commodities``: those of a
    reference snapshot, instead of reading it."""
    com = None
    if isinstance(medicine, str):
        com = (
            commodities.get(medicine)
            if commodities is not None
            else session.get(Commodity, medicine)
        )
    if com is None or com.kind != "medicine":
        raise UnknownReference(
            f"no medicine {medicine!r}", errors={field: [f"no medicine {medicine!r}"]}
        )
    return com


def _check_quantity(quantity: object) -> None:
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
    _check_quantity(quantity)
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
    session: Session, ref: LedgerRef, wanted: Sequence[tuple[str, str]], currency: str
) -> Positions:
    """The lots of each (place account, medicine) of ``wanted`` with what is left of them,
    every kept balance row involved locked ``FOR NO KEY UPDATE`` (PostgreSQL) in one
    statement, in the global lock order; lots come from the reference snapshot ``ref``."""
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
    q = _PLACES_LOT_BALANCES_LOCKED if is_postgres(session) else _PLACES_LOT_BALANCES
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
        _check_quantity(quantity)
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
    """What a transfer to ``to_location`` on ``on`` is.

    ``"move"``: the stock stays the fund's (units and value move between inventory
    accounts). ``"sale"``: the pharmacy is on the purchase model that day, so the transfer
    is a sale at the wholesale price list (DESIGN.md): ``1200-P +``, ``4000 −``, cost
    ``5000 +``, ``1400-CENTRAL −``, and the units become a memo of the pharmacy's own stock
    (``1400-P +units``, ``9000 −units``, without value).
    """
    if to_location == CENTRAL:
        return "move"
    from contracts.service import contract_on

    contract = contract_on(session, to_location, on)
    return "sale" if contract is not None and contract.model == "purchase" else "move"


def _sale_postings(
    session: Session,
    to_location: str,
    medicine: str,
    quantity: int,
    takes: Sequence[LotTake],
    on: date,
    currency: str,
) -> list[PostingDraft]:
    """The postings of a sale to a purchase-model pharmacy, besides the inventory credits."""
    from contracts.service import wholesale_price
    from ledger.money import round_half_up

    unit = wholesale_price(session, to_location, medicine, on)
    if unit is None:
        raise Conflict(
            f"{to_location} buys on the purchase model, but its wholesale price list has no "
            f"price for {medicine} in force on {on.isoformat()}"
        )
    amount = round_half_up(unit * quantity)
    out: list[PostingDraft] = []
    for t in takes:
        out.append(PostingDraft("5000", medicine, t.quantity, t.lot_id))
        out.append(PostingDraft(inventory_account(to_location), medicine, t.quantity, t.lot_id))
        out.append(PostingDraft("9000", medicine, -t.quantity, t.lot_id))
    cost = sum(t.value for t in takes)
    if cost:
        out.append(PostingDraft("5000", currency, cost))
    if amount:
        out.append(PostingDraft(f"1200-{to_location}", currency, amount))
        out.append(PostingDraft("4000", currency, -amount))
    return out


# --------------------------------------------------------------------------- reference data

#: A lot (batch) number as printed on the pack: letters, digits and . _ / - (no ':' — lots
#: are written MEDICINE:LOT elsewhere), 1 to 40 characters.
LOT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/\-]{0,39}")
LOT_RULE = "a lot number is 1 to 40 characters: letters, digits and . _ / -"


def _check_code(code: object, field: str = "code") -> str:
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise InvalidRequest(
            f"{code!r} is not a valid code: {CODE_RULE}", errors={field: [CODE_RULE]}
        )
    return code


def _new_account(
    session: Session,
    code: str,
    parent: str,
    name: str,
    type_: str,
    carries: str,
    *,
    pharmacy: str | None = None,
    is_inventory: bool = False,
) -> None:
    if session.get(Account, code) is not None:
        raise DuplicateReference(f"the account {code} already exists")
    session.add(
        Account(
            code=code,
            parent=parent,
            name=name,
            type=type_,
            carries=carries,
            is_header=False,
            is_inventory=is_inventory,
            currency=None,
            pharmacy=pharmacy,
            created_at=clock.now(),
        )
    )


def create_medicine(session: Session, data: Mapping[str, Any]) -> Medicine:
    """A medicine and its commodity (kind "medicine", exponent 0: counted in base units)."""
    code = data["code"]
    if not is_valid_commodity(code):
        raise InvalidRequest(
            f"{code!r} is not a valid medicine code: {COMMODITY_RULE}",
            errors={"code": [COMMODITY_RULE]},
        )
    if session.get(Commodity, code) is not None:
        raise DuplicateReference(f"a medicine or currency with code {code} already exists")
    session.add(Commodity(code=code, kind="medicine", exponent=0, name=data["name"]))
    session.flush()
    med = Medicine(
        code=code,
        name=data["name"],
        strength=data["strength"],
        form=data["form"],
        unit=data["unit"],
        therapeutic_class=data.get("therapeutic_class"),
        default_days_supply=data.get("default_days_supply"),
        created_at=clock.now(),
    )
    session.add(med)
    session.flush()
    return med


def create_supplier(session: Session, data: Mapping[str, Any]) -> Supplier:
    """A supplier and its sub-account ``2000-{code}`` (what the fund owes it)."""
    code = _check_code(data["code"])
    if session.get(Supplier, code) is not None:
        raise DuplicateReference(f"a supplier with code {code} already exists")
    _new_account(
        session, f"2000-{code}", "2000", f"Due to supplier {data['name']}", "liability", "money"
    )
    sup = Supplier(code=code, name=data["name"], created_at=clock.now())
    session.add(sup)
    session.flush()
    return sup


def create_pharmacy(session: Session, data: Mapping[str, Any]) -> Pharmacy:
    """A pharmacy and its sub-accounts ``1200-``, ``1400-`` (inventory) and ``2100-{code}``."""
    code = _check_code(data["code"])
    if code == CENTRAL:
        raise InvalidRequest(
            "CENTRAL is the central store, not a pharmacy code",
            errors={"code": ["CENTRAL is reserved for the central store"]},
        )
    if session.get(Pharmacy, code) is not None:
        raise DuplicateReference(f"a pharmacy with code {code} already exists")
    name = data["name"]
    _new_account(
        session, f"1200-{code}", "1200", f"Due from {name}", "asset", "money", pharmacy=code
    )
    _new_account(
        session,
        f"1400-{code}",
        "1400",
        f"Medicine inventory at {name}",
        "asset",
        "money+units",
        pharmacy=code,
        is_inventory=True,
    )
    _new_account(
        session, f"2100-{code}", "2100", f"Due to {name}", "liability", "money", pharmacy=code
    )
    ph = Pharmacy(
        code=code,
        name=name,
        province=data["province"],
        district=data["district"],
        created_at=clock.now(),
    )
    session.add(ph)
    session.flush()
    return ph


def list_reference(
    session: Session,
    table: type[Medicine] | type[Supplier] | type[Pharmacy],
    *,
    after: str | None,
    limit: int,
    only: str | None = None,
) -> tuple[list[Any], str | None]:
    """A page of reference rows in code order, and the last code when more follow."""
    q = select(table).order_by(table.code).limit(limit + 1)
    if after:
        q = q.where(table.code > after)
    if only is not None:
        q = q.where(table.code == only)
    rows: list[Any] = list(session.scalars(q))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].code if more and rows else None)


_LABELS = {"medicines": "medicine", "suppliers": "supplier", "pharmacies": "pharmacy"}


def get_reference(
    session: Session, table: type[Medicine] | type[Supplier] | type[Pharmacy], code: str
) -> Any:
    row = session.get(table, code)
    if row is None:
        raise ReferenceNotFound(f"no {_LABELS[table.__tablename__]} {code!r}")
    return row


def require_supplier(session: Session, code: object, field: str = "supplier") -> Supplier:
    sup = session.get(Supplier, code) if isinstance(code, str) else None
    if sup is None:
        raise UnknownReference(f"no supplier {code!r}", errors={field: [f"no supplier {code!r}"]})
    return sup


# --------------------------------------------------------------------------- documents


def _partition(*locations: str) -> str | None:
    for loc in locations:
        if loc != CENTRAL:
            return loc
    return None


def _new_movement(
    session: Session,
    kind: str,
    location: str,
    on: date,
    by: str,
    *,
    to_location: str | None = None,
    supplier: str | None = None,
    reason: str | None = None,
) -> StockMovement:
    mv = StockMovement(
        kind=kind,
        location=location,
        to_location=to_location,
        supplier=supplier,
        event_on=on,
        reason=reason,
        created_at=clock.now(),
        created_by=by,
    )
    session.add(mv)
    session.flush()
    return mv


def _post(
    session: Session,
    mv: StockMovement,
    memo: str,
    postings: list[PostingDraft],
    by: str,
    partition: str | None,
) -> PostedEntry:
    posted = post_entry(
        session,
        EntryDraft(
            service_date=mv.event_on,
            memo=memo,
            postings=tuple(postings),
            source=f"stock-{mv.kind.replace('_', '-')}:{mv.id}",
            partition=partition,
        ),
        created_by=by,
    )
    mv.entry_id = posted.id
    session.flush()
    return posted


def fund_exponent(session: Session, currency: str = FUND_CURRENCY) -> int:
    """Decimal exponent of the fund currency (KHR: 0)."""
    return _fund_exponent(session, currency)


def _fund_exponent(session: Session, currency: str) -> int:
    com = session.get(Commodity, currency)
    assert com is not None and com.kind == "currency", currency
    return int(com.exponent)


def _raise_if(errors: dict[str, list[str]], cls: type[InvalidRequest] = InvalidRequest) -> None:
    if errors:
        field, msgs = next(iter(errors.items()))
        raise cls(f"{field}: {msgs[0]}", errors=errors)


@dataclass(frozen=True)
class ReceiptLine:
    medicine: str
    lot: str
    expiry_on: date
    quantity: int
    cost: int


@dataclass(frozen=True)
class ReceiptResult:
    id: int
    entry_id: int
    supplier: str
    location: str
    on: date
    accounting_date: date
    currency: str
    exponent: int
    lines: list[ReceiptLine]

    @property
    def total_cost(self) -> int:
        return sum(line.cost for line in self.lines)


def receive(
    session: Session, data: Mapping[str, Any], *, by: str, currency: str = FUND_CURRENCY
) -> ReceiptResult:
    """Post a receipt: ``1400-X +units[lot]``, ``9000 -units[lot]``, ``1400-X +cost[lot]``,
    ``2000-S -cost``, per line. A lot number already known for the medicine adds to that lot
    when the expiry matches (else 409); a new one makes the lot."""
    on: date = data["date"]
    check_event_date(on)
    errors: dict[str, list[str]] = {}
    try:
        require_supplier(session, data["supplier"])
    except UnknownReference as exc:
        errors.update(exc.errors or {})
    try:
        account = require_location(session, data["location"])
    except UnknownLocation as exc:
        errors.update(exc.errors or {})
    exp = _fund_exponent(session, currency)
    parsed: list[tuple[str, str, date, int, int]] = []
    for i, line in enumerate(data["lines"]):
        f = f"lines.{i}"
        med = line["medicine"]
        try:
            require_medicine(session, med, f"{f}.medicine")
        except UnknownReference as exc:
            errors.update(exc.errors or {})
        if not LOT_RE.fullmatch(line["lot"]):
            errors.setdefault(f"{f}.lot", []).append(LOT_RULE)
        if line["expiry"] < on:
            errors.setdefault(f"{f}.expiry", []).append(
                f"the lot expired on {line['expiry'].isoformat()}, before the receipt date "
                f"{on.isoformat()}"
            )
        q = line["quantity"]
        try:
            cost = parse_amount(line["total_cost"], exp, allow_negative=False)
        except AmountError as exc:
            errors.setdefault(f"{f}.total_cost", []).append(str(exc))
            continue
        if cost < q:
            errors.setdefault(f"{f}.total_cost", []).append(
                f"must be at least {format_amount(q, exp)} {currency}: one "
                f"{format_amount(1, exp)} per unit at least, so a lot's value is zero only "
                f"when its units are"
            )
        parsed.append((med, line["lot"], line["expiry"], q, cost))
    _raise_if(errors)
    mv = _new_movement(session, "receipt", data["location"], on, by, supplier=data["supplier"])
    postings: list[PostingDraft] = []
    lines: list[ReceiptLine] = []
    for i, (med, lot_code, expiry, q, cost) in enumerate(parsed):
        lot = session.scalars(
            select(Lot).where(Lot.commodity == med, Lot.lot_code == lot_code)
        ).first()
        if lot is None:
            lot = Lot(
                commodity=med,
                lot_code=lot_code,
                expiry_on=expiry,
                received_on=on,
                supplier=data["supplier"],
            )
            session.add(lot)
            session.flush()
        elif lot.expiry_on != expiry:
            raise LotExpiryMismatch(
                f"lot {lot_code} of {med} is already known with expiry "
                f"{lot.expiry_on.isoformat()}, not {expiry.isoformat()}: check the pack, or "
                f"receive it under another lot number",
                errors={f"lines.{i}.expiry": [f"lot {lot_code} expires {lot.expiry_on}"]},
            )
        postings += [
            PostingDraft(account, med, q, lot.id),
            PostingDraft("9000", med, -q, lot.id),
            PostingDraft(account, currency, cost, lot.id),
            PostingDraft(f"2000-{data['supplier']}", currency, -cost),
        ]
        lines.append(ReceiptLine(med, lot_code, expiry, q, cost))
    memo = data.get("memo") or f"Receipt from {data['supplier']} into {data['location']}"
    posted = _post(session, mv, memo, postings, by, _partition(data["location"]))
    return ReceiptResult(
        mv.id,
        posted.id,
        data["supplier"],
        data["location"],
        on,
        posted.accounting_date,
        currency,
        exp,
        lines,
    )


@dataclass(frozen=True)
class TakenLine:
    medicine: str
    quantity: int
    lots: list[LotTake]

    @property
    def value(self) -> int:
        return sum(t.value for t in self.lots)


@dataclass(frozen=True)
class MoveResult:
    id: int
    entry_id: int
    kind: str
    location: str
    to_location: str | None
    on: date
    accounting_date: date
    reason: str | None
    currency: str
    exponent: int
    lines: list[TakenLine]


def _check_lines(
    session: Session, lines: Sequence[Mapping[str, Any]], qty_field: str = "quantity"
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for i, line in enumerate(lines):
        f = f"lines.{i}"
        try:
            require_medicine(session, line["medicine"], f"{f}.medicine")
        except UnknownReference as exc:
            errors.update(exc.errors or {})
            continue
        lot_code = line.get("lot")
        if lot_code is not None:
            exists = session.scalar(
                select(Lot.id).where(Lot.commodity == line["medicine"], Lot.lot_code == lot_code)
            )
            if exists is None:
                errors[f"{f}.lot"] = [f"no lot {lot_code!r} of {line['medicine']}"]
    return errors


def _locations(session: Session, fields: Mapping[str, str]) -> dict[str, str]:
    errors: dict[str, list[str]] = {}
    accounts = {}
    for field, loc in fields.items():
        try:
            accounts[field] = require_location(session, loc, field)
        except UnknownLocation as exc:
            errors.update(exc.errors or {})
    _raise_if(errors, UnknownLocation)
    return accounts


def transfer(
    session: Session, data: Mapping[str, Any], *, by: str, currency: str = FUND_CURRENCY
) -> MoveResult:
    """Move stock between places: FEFO unless a line names its lot; units and value leave
    ``1400-{from}`` by the lot value rule and arrive in ``1400-{to}`` in the same lots."""
    on: date = data["date"]
    check_event_date(on)
    src, dst = data["from"], data["to"]
    accounts = _locations(session, {"from": src, "to": dst})
    if src == dst:
        raise InvalidRequest(
            "a transfer needs two different places", errors={"to": ["must differ from 'from'"]}
        )
    _raise_if(_check_lines(session, data["lines"]), UnknownReference)
    kind = transfer_kind(session, dst, on)
    mv = _new_movement(session, "transfer", src, on, by, to_location=dst)
    pending: dict[int, tuple[int, int]] = {}
    postings: list[PostingDraft] = []
    out: list[TakenLine] = []
    for line in data["lines"]:
        takes = take_stock(
            session,
            location=src,
            medicine=line["medicine"],
            quantity=line["quantity"],
            on=on,
            lot_code=line.get("lot"),
            currency=currency,
            pending=pending,
        )
        postings += take_postings(accounts["from"], line["medicine"], takes, currency)
        if kind == "sale":
            postings += _sale_postings(
                session, dst, line["medicine"], line["quantity"], takes, on, currency
            )
        else:
            for t in takes:
                postings.append(
                    PostingDraft(accounts["to"], line["medicine"], t.quantity, t.lot_id)
                )
                if t.value:
                    postings.append(PostingDraft(accounts["to"], currency, t.value, t.lot_id))
        out.append(TakenLine(line["medicine"], line["quantity"], takes))
    memo = data.get("memo") or (
        f"Sale to {dst} (purchase model) from {src}"
        if kind == "sale"
        else f"Transfer from {src} to {dst}"
    )
    posted = _post(session, mv, memo, postings, by, _partition(dst, src))
    return MoveResult(
        mv.id,
        posted.id,
        "transfer",
        src,
        dst,
        on,
        posted.accounting_date,
        None,
        currency,
        _fund_exponent(session, currency),
        out,
    )


WRITE_OFF_REASONS = ("expired", "damaged", "lost")


def write_off(
    session: Session, data: Mapping[str, Any], *, by: str, currency: str = FUND_CURRENCY
) -> MoveResult:
    """Write named lots off to ``5200`` (units with their lot, value by the lot value rule).
    Expired lots may be written off; that is what this is for."""
    on: date = data["date"]
    check_event_date(on)
    loc = data["location"]
    accounts = _locations(session, {"location": loc})
    reason = data["reason"]
    if reason not in WRITE_OFF_REASONS:
        raise InvalidRequest(
            f"reason must be one of {', '.join(WRITE_OFF_REASONS)}",
            errors={"reason": [f"must be one of {', '.join(WRITE_OFF_REASONS)}"]},
        )
    _raise_if(_check_lines(session, data["lines"]), UnknownReference)
    mv = _new_movement(session, "write_off", loc, on, by, reason=reason)
    pending: dict[int, tuple[int, int]] = {}
    postings: list[PostingDraft] = []
    out: list[TakenLine] = []
    for line in data["lines"]:
        takes = take_stock(
            session,
            location=loc,
            medicine=line["medicine"],
            quantity=line["quantity"],
            on=on,
            lot_code=line["lot"],
            currency=currency,
            pending=pending,
            allow_expired=True,
        )
        postings += take_postings(accounts["location"], line["medicine"], takes, currency)
        for t in takes:
            postings.append(PostingDraft("5200", line["medicine"], t.quantity, t.lot_id))
            if t.value:
                postings.append(PostingDraft("5200", currency, t.value))
        out.append(TakenLine(line["medicine"], line["quantity"], takes))
    note = f": {data['memo']}" if data.get("memo") else ""
    memo = f"Write-off ({reason}) at {loc}{note}"
    posted = _post(session, mv, memo, postings, by, _partition(loc))
    return MoveResult(
        mv.id,
        posted.id,
        "write_off",
        loc,
        None,
        on,
        posted.accounting_date,
        reason,
        currency,
        _fund_exponent(session, currency),
        out,
    )


@dataclass(frozen=True)
class CountLine:
    medicine: str
    lot: str
    expiry_on: date
    book: int
    counted: int
    value: int  # signed: + value found (debit 1400), - value lost (credit 1400)

    @property
    def difference(self) -> int:
        return self.counted - self.book


@dataclass(frozen=True)
class CountResult:
    id: int
    entry_id: int | None
    location: str
    on: date
    accounting_date: date | None
    currency: str
    exponent: int
    lines: list[CountLine]


def _received(session: Session, lot_id: int, medicine: str, currency: str) -> tuple[int, int]:
    """Units and value ever received into a lot by stock receipts (any place)."""
    rows = session.execute(
        select(Posting.commodity, func.sum(Posting.amount))
        .join(Entry, Entry.id == Posting.entry_id)
        .where(
            Posting.lot_id == lot_id,
            Posting.account_code.like("1400-%"),
            Posting.commodity.in_([medicine, currency]),
            Entry.source.like("stock-receipt:%"),
        )
        .group_by(Posting.commodity)
    ).all()
    got = {c: int(s) for c, s in rows}
    return got.get(medicine, 0), got.get(currency, 0)


def count(
    session: Session, data: Mapping[str, Any], *, by: str, currency: str = FUND_CURRENCY
) -> CountResult:
    """Post a physical count: each lot's difference with the book goes to ``5400``.

    Fewer units than the book: the difference leaves by the lot value rule. More: the units
    are added at the lot's current average value at that place (``round_half_up(V*d/Q)``),
    or, when the book shows none of the lot there, at the lot's receipt cost per unit.
    The book is the kept balance when the count is posted.
    """
    on: date = data["date"]
    check_event_date(on)
    loc = data["location"]
    accounts = _locations(session, {"location": loc})
    account = accounts["location"]
    errors = _check_lines(session, data["lines"])
    seen: dict[tuple[str, str], int] = {}
    for i, line in enumerate(data["lines"]):
        k = (line["medicine"], line["lot"])
        if k in seen:
            errors.setdefault(f"lines.{i}.lot", []).append(
                f"lot {k[1]} of {k[0]} is counted twice (also line {seen[k]})"
            )
        seen.setdefault(k, i)
    _raise_if(errors, UnknownReference)
    mv = _new_movement(session, "count", loc, on, by)
    pending: dict[int, tuple[int, int]] = {}
    postings: list[PostingDraft] = []
    out: list[CountLine] = []
    for line in data["lines"]:
        med, lot_code, counted = line["medicine"], line["lot"], line["counted"]
        lot = session.scalars(
            select(Lot).where(Lot.commodity == med, Lot.lot_code == lot_code)
        ).one()
        pos = lot_positions(session, account, med, currency, lock=True, lot_ids=[lot.id])
        units, value = (pos[0].units, pos[0].value) if pos else (0, 0)
        if counted < units:
            takes = take_stock(
                session,
                location=loc,
                medicine=med,
                quantity=units - counted,
                on=on,
                lot_code=lot_code,
                currency=currency,
                pending=pending,
                allow_expired=True,
            )
            postings += take_postings(account, med, takes, currency)
            for t in takes:
                postings.append(PostingDraft("5400", med, t.quantity, t.lot_id))
                if t.value:
                    postings.append(PostingDraft("5400", currency, t.value))
            moved = -sum(t.value for t in takes)
        elif counted > units:
            d = counted - units
            r_units, r_value = _received(session, lot.id, med, currency)
            moved = count_gain_value(
                units, value, d, received_units=r_units, received_value=r_value
            )
            postings += [
                PostingDraft(account, med, d, lot.id),
                PostingDraft("5400", med, -d, lot.id),
                PostingDraft(account, currency, moved, lot.id),
                PostingDraft("5400", currency, -moved),
            ]
        else:
            moved = 0
        out.append(CountLine(med, lot_code, lot.expiry_on, units, counted, moved))
    exp = _fund_exponent(session, currency)
    if not postings:
        return CountResult(mv.id, None, loc, on, None, currency, exp, out)
    note = f": {data['memo']}" if data.get("memo") else ""
    posted = _post(session, mv, f"Stock count at {loc}{note}", postings, by, _partition(loc))
    return CountResult(mv.id, posted.id, loc, on, posted.accounting_date, currency, exp, out)


# --------------------------------------------------------------------------- reading


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
    locs = [c.removeprefix("1400-") for c in codes]
    return sorted(locs, key=lambda c: (c != CENTRAL, c))


def on_hand(
    session: Session,
    *,
    location: str | None = None,
    medicine: str | None = None,
    as_of: date | None = None,
    currency: str = FUND_CURRENCY,
) -> list[OnHandRow]:
    """Stock per place and lot from the books (kept balances; as of a date: kept balances
    less what was booked after it)."""
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
        for b in balances(session, [f"1400-{place}"], as_of, by_lot=True):
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
    rows.sort(key=lambda r: (r.location != CENTRAL, r.location, r.medicine, r.expiry_on, r.lot))
    return rows


def expiring(
    session: Session,
    *,
    within_days: int,
    today: date,
    location: str | None = None,
    currency: str = FUND_CURRENCY,
) -> list[OnHandRow]:
    """Lots on hand expiring on or before ``today + within_days`` (already expired ones too:
    they wait for a write-off), earliest expiry first."""
    limit = today + timedelta(days=within_days)
    rows = [
        r
        for r in on_hand(session, location=location, currency=currency)
        if r.expiry_on <= limit and r.quantity > 0
    ]
    rows.sort(key=lambda r: (r.expiry_on, r.location != CENTRAL, r.location, r.medicine, r.lot))
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
    currency: str = FUND_CURRENCY,
) -> StockCard:
    """A stock card: opening units and value of ``medicine`` at ``location``, each movement
    (an entry's effect on one lot) with the running quantity and value, and the closing."""
    if location not in locations(session):
        raise ReferenceNotFound(f"no location {location!r}")
    require_medicine(session, medicine)
    account = f"1400-{location}"
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
