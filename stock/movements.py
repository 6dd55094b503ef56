"""Movements of stock, each posted as one journal entry with its source document (a
``StockMovement`` row): receipts from suppliers, transfers between places (a sale when the
receiving pharmacy buys on the purchase model), write-offs and physical counts.

Every use case takes a typed command (``stock.commands``) and returns a result dataclass;
the edge serialises it. Every write goes through ``ledger.posting.post_entry``; the caller
commits. Stock never asks contracts: a sale's wholesale prices come in as ``SaleTerms``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import chart, clock
from ledger.errors import Conflict, InvalidRequest
from ledger.fx import Conversion
from ledger.fx import convert as fx_convert
from ledger.fx_rates import RateInForce, kept_currency, rate_for, record_conversion
from ledger.journal import check_event_date
from ledger.model import EntryDraft, PostingDraft
from ledger.money import AmountError, format_amount, parse_amount, round_half_up
from ledger.posting import PostedEntry, post_entry
from ledger.settings import functional_currency
from ledger.tables import Entry, Lot, Posting
from stock import donations
from stock.commands import Count, MoveLineIn, Receive, SaleTerms, Transfer, WriteOff
from stock.errors import LotExpiryMismatch, UnknownLocation, UnknownReference
from stock.lots import LotTake, lot_positions, take_postings, take_stock
from stock.model import count_gain_value
from stock.refdata import (
    LOT_RE,
    LOT_RULE,
    fund_exponent_of,
    require_location,
    require_medicine,
    require_supplier,
)
from stock.tables import StockMovement

WRITE_OFF_REASONS = ("expired", "damaged", "lost")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ReceiptLine:
    medicine: str
    lot: str
    expiry_on: date
    quantity: int
    cost: int
    #: the lot's value in the functional currency when the receipt is invoiced in another
    #: currency (``cost`` is then in the invoice's currency); None: the same as ``cost``
    value: int | None = None


@dataclass(frozen=True)
class ReceiptResult:
    id: int
    entry_id: int
    supplier: str | None
    location: str
    on: date
    accounting_date: date
    currency: str
    exponent: int
    lines: list[ReceiptLine]
    #: a receipt invoiced in another currency than the functional one: the rate it
    #: converted at and the functional currency its lots are valued in
    rate: RateInForce | None = None
    value_currency: str | None = None
    #: DESIGN.md "Funders": "purchased" | "donated" (a donation names its donor)
    funding: str = "purchased"
    donor: str | None = None

    @property
    def total_cost(self) -> int:
        return sum(line.cost for line in self.lines)

    @property
    def total_value(self) -> int:
        return sum(line.cost if line.value is None else line.value for line in self.lines)


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


@dataclass(frozen=True)
class CountLine:
    medicine: str
    lot: str
    expiry_on: date
    book: int
    counted: int
    value: int  # signed: + value found (debit the inventory), - value lost (credit it)

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


# --------------------------------------------------------------------------- documents


def _partition(*locations: str) -> str | None:
    for loc in locations:
        if loc != chart.CENTRAL:
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


def _raise_if(errors: dict[str, list[str]], cls: type[InvalidRequest] = InvalidRequest) -> None:
    if errors:
        field, msgs = next(iter(errors.items()))
        raise cls(f"{field}: {msgs[0]}", errors=errors)


def _check_lines(session: Session, lines: Sequence[MoveLineIn]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for i, line in enumerate(lines):
        f = f"lines.{i}"
        try:
            require_medicine(session, line.medicine, f"{f}.medicine")
        except UnknownReference as exc:
            errors.update(exc.errors or {})
            continue
        if line.lot is not None:
            exists = session.scalar(
                select(Lot.id).where(Lot.commodity == line.medicine, Lot.lot_code == line.lot)
            )
            if exists is None:
                errors[f"{f}.lot"] = [f"no lot {line.lot!r} of {line.medicine}"]
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


# --------------------------------------------------------------------------- receipts


def receive(
    session: Session, cmd: Receive, *, by: str, currency: str | None = None
) -> ReceiptResult:
    """Post a receipt, per line: the place's inventory ``+units[lot]``, units received
    ``-units[lot]``, the inventory ``+cost[lot]``, due to the supplier ``-cost``. A lot number
    already known for the medicine adds to that lot when the expiry matches (else 409); a new
    one makes the lot."""
    on = cmd.on
    check_event_date(on)
    currency = currency or functional_currency(session)
    errors: dict[str, list[str]] = {}
    donations.check_funding(session, cmd, errors)
    try:
        if cmd.supplier is not None or not donations.is_donated(cmd):
            require_supplier(session, cmd.supplier)
    except UnknownReference as exc:
        errors.update(exc.errors or {})
    try:
        account = require_location(session, cmd.location)
    except UnknownLocation as exc:
        errors.update(exc.errors or {})
    # Two currencies: a receipt invoiced in USD values its lots in the functional currency,
    # converted per line at one rate (stated, or the one in force on the receipt's date).
    invoice_currency = kept_currency(cmd.currency or currency)
    fx_rate: RateInForce | None = None
    if invoice_currency != currency and donations.is_donated(cmd):
        errors.setdefault("currency", []).append(
            f"a donated receipt is valued at its fair value in {currency}"
        )
    elif invoice_currency != currency:
        fx_rate = rate_for(session, on, cmd.rate)
    elif cmd.rate is not None:
        raise InvalidRequest(
            f"a rate is only for a receipt invoiced in another currency than {currency}",
            errors={"rate": [f"only with a currency other than {currency}"]},
        )
    value_exp = fund_exponent_of(session, currency)
    exp = fund_exponent_of(session, invoice_currency)
    parsed: list[tuple[str, str, date, int, int]] = []
    values: list[int] = []
    for i, line in enumerate(cmd.lines):
        f = f"lines.{i}"
        med = line.medicine
        try:
            require_medicine(session, med, f"{f}.medicine")
        except UnknownReference as exc:
            errors.update(exc.errors or {})
        if not LOT_RE.fullmatch(line.lot):
            errors.setdefault(f"{f}.lot", []).append(LOT_RULE)
        if line.expiry < on:
            errors.setdefault(f"{f}.expiry", []).append(
                f"the lot expired on {line.expiry.isoformat()}, before the receipt date "
                f"{on.isoformat()}"
            )
        q = line.quantity
        if donations.is_donated(cmd):
            value = donations.line_value(cmd, line, exp, f, errors)
            if value is not None:
                parsed.append((med, line.lot, line.expiry, q, value))
            continue
        if line.total_cost is None:
            continue
        try:
            cost = parse_amount(line.total_cost, exp, allow_negative=False)
        except AmountError as exc:
            errors.setdefault(f"{f}.total_cost", []).append(str(exc))
            continue
        value = (
            cost if fx_rate is None else fx_convert(cost, invoice_currency, currency, fx_rate.rate)
        )
        if value < q:
            errors.setdefault(f"{f}.total_cost", []).append(
                f"must be worth at least {format_amount(q, value_exp)} {currency}: one "
                f"{format_amount(1, value_exp)} per unit at least, so a lot's value is zero "
                f"only when its units are"
            )
        parsed.append((med, line.lot, line.expiry, q, cost))
        values.append(value)
    _raise_if(errors)
    mv = _new_movement(session, "receipt", cmd.location, on, by, supplier=cmd.supplier)
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
                supplier=cmd.supplier,
                **donations.new_lot_funding(cmd),
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
        else:
            donations.check_lot_funding(lot, cmd, f"lines.{i}.lot")
        postings += [
            PostingDraft(account, med, q, lot.id),
            PostingDraft(chart.UNITS_RECEIVED, med, -q, lot.id),
        ]
        if fx_rate is None:
            if cost:  # a donation at a fair value of 0 moves units only
                postings += [
                    PostingDraft(account, currency, cost, lot.id),
                    PostingDraft(donations.counter_account(cmd), currency, -cost),
                ]
            lines.append(ReceiptLine(med, lot_code, expiry, q, cost))
            continue
        value = values[i]
        postings += [
            PostingDraft(account, currency, value, lot.id),
            PostingDraft(chart.CURRENCY_EXCHANGE, currency, -value),
            PostingDraft(chart.CURRENCY_EXCHANGE, invoice_currency, cost),
            PostingDraft(donations.counter_account(cmd), invoice_currency, -cost),
        ]
        lines.append(ReceiptLine(med, lot_code, expiry, q, cost, value))
    memo = cmd.memo or f"Receipt from {cmd.supplier or cmd.donor} into {cmd.location}"
    posted = _post(session, mv, memo, postings, by, _partition(cmd.location))
    if fx_rate is not None:
        record_conversion(
            session,
            entry_id=posted.id,
            source=f"stock-receipt:{mv.id}",
            on=on,
            rate=fx_rate,
            conversion=Conversion(
                invoice_currency,
                sum(line.cost for line in lines),
                currency,
                sum(values),
                fx_rate.rate,
            ),
        )
    return ReceiptResult(
        mv.id,
        posted.id,
        cmd.supplier,
        cmd.location,
        on,
        posted.accounting_date,
        invoice_currency,
        exp,
        lines,
        fx_rate,
        currency if fx_rate is not None else None,
        funding=cmd.funding,
        donor=cmd.donor,
    )


# --------------------------------------------------------------------------- transfers


def _sale_postings(
    sale: SaleTerms,
    medicine: str,
    quantity: int,
    takes: Sequence[LotTake],
    on: date,
    currency: str,
) -> list[PostingDraft]:
    """The postings of a sale to a purchase-model pharmacy, besides the inventory credits:
    cost of medicines ``+units`` and ``+cost``, the pharmacy's inventory ``+units`` against
    units received ``-units`` (a memo of its own stock, without value), due from the pharmacy
    ``+amount`` against medicine revenue ``-amount`` at the wholesale price."""
    to_location = sale.pharmacy
    unit = sale.unit_prices.get(medicine)
    if unit is None:
        raise Conflict(
            f"{to_location} buys on the purchase model, but its wholesale price list has no "
            f"price for {medicine} in force on {on.isoformat()}"
        )
    amount = round_half_up(unit * quantity)
    out: list[PostingDraft] = []
    for t in takes:
        out.append(PostingDraft(chart.COST_OF_MEDICINES, medicine, t.quantity, t.lot_id))
        out.append(PostingDraft(chart.inventory(to_location), medicine, t.quantity, t.lot_id))
        out.append(PostingDraft(chart.UNITS_RECEIVED, medicine, -t.quantity, t.lot_id))
    cost = sum(t.value for t in takes)
    if cost:
        out.append(PostingDraft(chart.COST_OF_MEDICINES, currency, cost))
    if amount:
        out.append(PostingDraft(chart.due_from_pharmacy(to_location), currency, amount))
        out.append(PostingDraft(chart.MEDICINE_REVENUE, currency, -amount))
    return out


def _take_lines(
    session: Session,
    lines: Sequence[MoveLineIn],
    location: str,
    account: str,
    on: date,
    currency: str,
    *,
    then: Callable[[str, int, list[LotTake]], list[PostingDraft]],
    allow_expired: bool = False,
) -> tuple[list[PostingDraft], list[TakenLine]]:
    """Take each line's units out of ``location`` (FEFO unless the line names its lot): per
    line, the postings that leave ``account``, then those ``then`` makes of the lots taken
    (where they go). The postings in that order, and the lines taken."""
    pending: dict[int, tuple[int, int]] = {}
    postings: list[PostingDraft] = []
    out: list[TakenLine] = []
    for line in lines:
        takes = take_stock(
            session,
            location=location,
            medicine=line.medicine,
            quantity=line.quantity,
            on=on,
            lot_code=line.lot,
            currency=currency,
            pending=pending,
            allow_expired=allow_expired,
        )
        postings += take_postings(account, line.medicine, takes, currency)
        postings += then(line.medicine, line.quantity, takes)
        out.append(TakenLine(line.medicine, line.quantity, takes))
    return postings, out


def transfer(
    session: Session,
    cmd: Transfer,
    *,
    by: str,
    sale: SaleTerms | None = None,
    currency: str | None = None,
) -> MoveResult:
    """Move stock between places: FEFO unless a line names its lot; units and value leave
    the inventory of ``from`` by the lot value rule and arrive in that of ``to`` in the same
    lots.

    With ``sale`` (the receiving pharmacy is on the purchase model that day; the caller asks
    ``contracts.terms.sale_terms``), the transfer is a sale at the wholesale prices instead:
    the stock leaves the fund's books (cost of medicines), the pharmacy owes the price.
    """
    on = cmd.on
    check_event_date(on)
    currency = currency or functional_currency(session)
    src, dst = cmd.from_location, cmd.to_location
    accounts = _locations(session, {"from": src, "to": dst})
    if src == dst:
        raise InvalidRequest(
            "a transfer needs two different places", errors={"to": ["must differ from 'from'"]}
        )
    _raise_if(_check_lines(session, cmd.lines), UnknownReference)
    if sale is not None and sale.pharmacy != dst:
        raise ValueError(f"sale terms of {sale.pharmacy} for a transfer to {dst}")
    mv = _new_movement(session, "transfer", src, on, by, to_location=dst)

    def arrive(medicine: str, quantity: int, takes: list[LotTake]) -> list[PostingDraft]:
        if sale is not None:
            return _sale_postings(sale, medicine, quantity, takes, on, currency)
        here: list[PostingDraft] = []
        for t in takes:
            here.append(PostingDraft(accounts["to"], medicine, t.quantity, t.lot_id))
            if t.value:
                here.append(PostingDraft(accounts["to"], currency, t.value, t.lot_id))
        return here

    postings, out = _take_lines(
        session, cmd.lines, src, accounts["from"], on, currency, then=arrive
    )
    memo = cmd.memo or (
        f"Sale to {dst} (purchase model) from {src}"
        if sale is not None
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
        fund_exponent_of(session, currency),
        out,
    )


# --------------------------------------------------------------------------- write-offs


def write_off(
    session: Session, cmd: WriteOff, *, by: str, currency: str | None = None
) -> MoveResult:
    """Write named lots off to expiry and damage losses (units with their lot, value by the
    lot value rule). Expired lots may be written off; that is what this is for."""
    on = cmd.on
    check_event_date(on)
    currency = currency or functional_currency(session)
    loc = cmd.location
    accounts = _locations(session, {"location": loc})
    reason = cmd.reason
    if reason not in WRITE_OFF_REASONS:
        raise InvalidRequest(
            f"reason must be one of {', '.join(WRITE_OFF_REASONS)}",
            errors={"reason": [f"must be one of {', '.join(WRITE_OFF_REASONS)}"]},
        )
    _raise_if(_check_lines(session, cmd.lines), UnknownReference)
    mv = _new_movement(session, "write_off", loc, on, by, reason=reason)

    def lose(medicine: str, _quantity: int, takes: list[LotTake]) -> list[PostingDraft]:
        here: list[PostingDraft] = []
        for t in takes:
            here.append(PostingDraft(chart.EXPIRY_LOSSES, medicine, t.quantity, t.lot_id))
            if t.value:
                here.append(PostingDraft(chart.EXPIRY_LOSSES, currency, t.value))
        return here

    postings, out = _take_lines(
        session, cmd.lines, loc, accounts["location"], on, currency, then=lose, allow_expired=True
    )
    note = f": {cmd.memo}" if cmd.memo else ""
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
        fund_exponent_of(session, currency),
        out,
    )


# --------------------------------------------------------------------------- counts


def _received(session: Session, lot_id: int, medicine: str, currency: str) -> tuple[int, int]:
    """Units and value ever received into a lot by stock receipts (any place)."""
    rows = session.execute(
        select(Posting.commodity, func.sum(Posting.amount))
        .join(Entry, Entry.id == Posting.entry_id)
        .where(
            Posting.lot_id == lot_id,
            Posting.account_code.like(chart.inventory("%")),
            Posting.commodity.in_([medicine, currency]),
            Entry.source.like("stock-receipt:%"),
        )
        .group_by(Posting.commodity)
    ).all()
    got = {c: int(s) for c, s in rows}
    return got.get(medicine, 0), got.get(currency, 0)


def count(session: Session, cmd: Count, *, by: str, currency: str | None = None) -> CountResult:
    """Post a physical count: each lot's difference with the book goes to count differences.

    Fewer units than the book: the difference leaves by the lot value rule. More: the units
    are added at the lot's current average value at that place (``round_half_up(V*d/Q)``),
    or, when the book shows none of the lot there, at the lot's receipt cost per unit.
    The book is the kept balance when the count is posted.
    """
    on = cmd.on
    check_event_date(on)
    currency = currency or functional_currency(session)
    loc = cmd.location
    accounts = _locations(session, {"location": loc})
    account = accounts["location"]
    errors = _check_lines(session, [MoveLineIn(c.medicine, c.counted, c.lot) for c in cmd.lines])
    seen: dict[tuple[str, str], int] = {}
    for i, line in enumerate(cmd.lines):
        k = (line.medicine, line.lot)
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
    diff = chart.COUNT_DIFFERENCES
    for line in cmd.lines:
        med, lot_code, counted = line.medicine, line.lot, line.counted
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
                postings.append(PostingDraft(diff, med, t.quantity, t.lot_id))
                if t.value:
                    postings.append(PostingDraft(diff, currency, t.value))
            moved = -sum(t.value for t in takes)
        elif counted > units:
            d = counted - units
            r_units, r_value = _received(session, lot.id, med, currency)
            moved = count_gain_value(
                units, value, d, received_units=r_units, received_value=r_value
            )
            postings += [
                PostingDraft(account, med, d, lot.id),
                PostingDraft(diff, med, -d, lot.id),
                PostingDraft(account, currency, moved, lot.id),
                PostingDraft(diff, currency, -moved),
            ]
        else:
            moved = 0
        out.append(CountLine(med, lot_code, lot.expiry_on, units, counted, moved))
    exp = fund_exponent_of(session, currency)
    if not postings:
        return CountResult(mv.id, None, loc, on, None, currency, exp, out)
    note = f": {cmd.memo}" if cmd.memo else ""
    posted = _post(session, mv, f"Stock count at {loc}{note}", postings, by, _partition(loc))
    return CountResult(mv.id, posted.id, loc, on, posted.accounting_date, currency, exp, out)
