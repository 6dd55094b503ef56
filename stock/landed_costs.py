"""Landed cost of a receipt: freight, port, customs or bank fees added to the value of its
lots (DESIGN.md "Two currencies").

A landed cost is added only while every unit of the receipt is still where it was received
and untouched: no posting other than the receipt's own entry and its earlier landed costs
names any of its lots (else 409 naming the lot). The amount, converted once into the
functional currency when it is invoiced in the other one, is allocated to the receipt's lines
in proportion to their value, each share ``round_half_up``, the last line taking the
remainder: ``1400 +share KHR[lot]`` per lot, the counterparty (a supplier or a forwarder,
kept as a supplier) credited in the currency invoiced; across currencies through ``9100``.

Lines are the receipt's lots in the order the lots were made (lot id), which is the order of
the receipt's lines for lots it made itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import chart, clock
from ledger.errors import Conflict, InvalidRequest, NotFound
from ledger.fx import Conversion, convert
from ledger.fx_rates import RateInForce, kept_currency, rate_for, record_conversion
from ledger.fx_tables import LandedCost
from ledger.journal import check_event_date
from ledger.model import EntryDraft, PostingDraft
from ledger.money import AmountError, parse_amount, round_half_up
from ledger.posting import post_entry
from ledger.settings import functional_currency
from ledger.tables import Entry, Lot, Posting
from stock.commands import AddLandedCost
from stock.refdata import require_supplier
from stock.tables import StockMovement


class ReceiptMoved(Conflict):
    """A unit of the receipt has moved or its lot was touched: its cost is settled."""

    slug = "receipt-moved"
    title = "The receipt's stock has moved"


# --------------------------------------------------------------------------- pure rule


def allocate(total: int, values: Sequence[int]) -> list[int]:
    """Shares of ``total`` in proportion to ``values``: each ``round_half_up``, the last the
    remainder, so the shares always sum to ``total``."""
    whole = sum(values)
    if not values or whole <= 0:
        raise ValueError("cannot allocate over lines worth nothing")
    shares = [round_half_up(Fraction(total * v, whole)) for v in values[:-1]]
    shares.append(total - sum(shares))
    return shares


# --------------------------------------------------------------------------- service


@dataclass(frozen=True)
class ReceiptLot:
    lot_id: int
    medicine: str
    lot: str
    quantity: int
    value: int


@dataclass(frozen=True)
class LandedShare:
    medicine: str
    lot: str
    quantity: int
    share: int
    value_after: int


@dataclass(frozen=True)
class LandedCostResult:
    id: int
    receipt_id: int
    entry_id: int
    on: date
    accounting_date: date
    counterparty: str
    description: str
    currency: str
    amount: int
    rate: RateInForce | None
    functional_currency: str
    functional_amount: int
    shares: list[LandedShare]


def _receipt(session: Session, receipt_id: object) -> StockMovement:
    text = str(receipt_id)
    mv = (
        session.get(StockMovement, int(text))
        if text.isascii() and text.isdigit() and len(text) < 18
        else None
    )
    if mv is None or mv.kind != "receipt" or mv.entry_id is None:
        raise NotFound(f"no stock receipt {text!r}")
    return mv


def _receipt_lots(session: Session, mv: StockMovement, functional: str) -> list[ReceiptLot]:
    assert mv.entry_id is not None
    account = chart.inventory(mv.location)
    rows = session.execute(
        select(Posting.lot_id, Posting.commodity, Lot.commodity, Lot.lot_code, Posting.amount)
        .join(Lot, Lot.id == Posting.lot_id)
        .where(Posting.entry_id == mv.entry_id, Posting.account_code == account)
    ).all()
    per: dict[int, list[Any]] = {}
    for lot_id, commodity, medicine, code, amount in rows:
        slot = per.setdefault(int(lot_id or 0), [medicine, code, 0, 0])
        if commodity == medicine:
            slot[2] += int(amount)
        elif commodity == functional:
            slot[3] += int(amount)
    return [ReceiptLot(i, m, c, q, v) for i, (m, c, q, v) in sorted(per.items())]


def _check_untouched(
    session: Session, mv: StockMovement, lots: Sequence[ReceiptLot], allowed: set[int]
) -> None:
    """409 naming the first lot that a posting outside ``allowed`` entries touched."""
    touched = session.execute(
        select(Posting.lot_id, Posting.entry_id)
        .where(
            Posting.lot_id.in_([lot.lot_id for lot in lots]),
            Posting.entry_id.not_in(allowed),
        )
        .order_by(Posting.lot_id, Posting.entry_id)
        .limit(1)
    ).first()
    if touched is None:
        return
    lot = next(x for x in lots if x.lot_id == touched[0])
    raise ReceiptMoved(
        f"lot {lot.lot} of {lot.medicine} from receipt {mv.id} has moved or been touched "
        f"since it was received (entry {touched[1]}): a landed cost is added only while all "
        f"of a receipt's units are where they were received; post it as an expense instead",
        errors={"receipt": [f"lot {lot.lot} of {lot.medicine} has moved"]},
        lot=lot.lot,
        medicine=lot.medicine,
    )


def _landed_entries(session: Session, receipt_id: int) -> set[int]:
    ids = [
        f"landed-cost:{i}"
        for i in session.scalars(select(LandedCost.id).where(LandedCost.receipt_id == receipt_id))
    ]
    if not ids:
        return set()
    return {int(e) for e in session.scalars(select(Entry.id).where(Entry.source.in_(ids)))}


def add_landed_cost(
    session: Session,
    cmd: AddLandedCost,
    *,
    by: str,
    functional: str | None = None,
) -> LandedCostResult:
    """Add a landed cost to a receipt (``functional``: the fund's functional currency,
    read from its settings when None). The caller commits."""
    mv = _receipt(session, cmd.receipt_id)
    on = cmd.on
    check_event_date(on)
    functional = functional or functional_currency(session)
    if on < mv.event_on:
        raise InvalidRequest(
            f"a landed cost cannot be dated before its receipt ({mv.event_on.isoformat()})",
            errors={"date": [f"on or after {mv.event_on.isoformat()}"]},
        )
    counterparty = require_supplier(session, cmd.counterparty, "counterparty").code
    currency = kept_currency(cmd.currency)
    try:
        amount = parse_amount(cmd.amount, chart.exponent(currency), allow_negative=False)
    except AmountError as exc:
        raise InvalidRequest(f"amount: {exc}", errors={"amount": [str(exc)]}) from exc
    if amount == 0:
        raise InvalidRequest("amount must be more than zero", errors={"amount": ["must be > 0"]})
    fx_rate: RateInForce | None = None
    functional_amount = amount
    if currency != functional:
        fx_rate = rate_for(session, on, cmd.rate)
        functional_amount = convert(amount, currency, functional, fx_rate.rate)
        if functional_amount == 0:
            raise InvalidRequest(
                f"the amount is less than one unit of {functional} at {fx_rate.rate.text}",
                errors={"amount": ["too small to convert"]},
            )
    elif cmd.rate is not None:
        raise InvalidRequest(
            f"a rate is only for a landed cost invoiced in another currency than {functional}",
            errors={"rate": [f"only with a currency other than {functional}"]},
        )
    lots = _receipt_lots(session, mv, functional)
    if not lots:
        raise Conflict(f"receipt {mv.id} has no lots to add a cost to")
    assert mv.entry_id is not None
    allowed = {mv.entry_id} | _landed_entries(session, mv.id)
    _check_untouched(session, mv, lots, allowed)
    shares = allocate(functional_amount, [lot.value for lot in lots])
    if any(s < 0 for s in shares):
        raise InvalidRequest(
            "the amount is too small to share over the receipt's lines (the last line's "
            "remainder would be negative)",
            errors={"amount": ["too small to allocate over the receipt's lines"]},
        )

    doc = LandedCost(
        receipt_id=mv.id,
        on_date=on,
        counterparty=counterparty,
        description=cmd.description.strip(),
        currency=currency,
        amount=amount,
        rate=fx_rate.rate.text if fx_rate else None,
        rate_micro=fx_rate.rate.micro if fx_rate else None,
        functional_amount=functional_amount,
        created_at=clock.now(),
        created_by=by,
    )
    session.add(doc)
    session.flush()
    account = chart.inventory(mv.location)
    postings = [
        PostingDraft(account, functional, share, lot.lot_id)
        for lot, share in zip(lots, shares, strict=True)
        if share != 0
    ]
    if fx_rate is None:
        postings.append(PostingDraft(chart.due_to_supplier(counterparty), currency, -amount))
    else:
        postings += [
            PostingDraft(chart.CURRENCY_EXCHANGE, functional, -functional_amount),
            PostingDraft(chart.CURRENCY_EXCHANGE, currency, amount),
            PostingDraft(chart.due_to_supplier(counterparty), currency, -amount),
        ]
    source = f"landed-cost:{doc.id}"
    posted = post_entry(
        session,
        EntryDraft(
            service_date=on,
            memo=f"Landed cost of receipt {mv.id} ({doc.description}) from {counterparty}",
            postings=tuple(postings),
            source=source,
            partition=mv.location if mv.location != chart.CENTRAL else None,
        ),
        created_by=by,
    )
    # Checked again now that the lots' balances are locked by the posting: a transfer that
    # committed in between is seen here, and this landed cost is refused (rolled back).
    _check_untouched(session, mv, lots, allowed | {posted.id})
    if fx_rate is not None:
        record_conversion(
            session,
            entry_id=posted.id,
            source=source,
            on=on,
            rate=fx_rate,
            conversion=Conversion(currency, amount, functional, functional_amount, fx_rate.rate),
        )
    after = dict(
        session.execute(
            select(Posting.lot_id, func.sum(Posting.amount))
            .where(
                Posting.account_code == account,
                Posting.commodity == functional,
                Posting.lot_id.in_([lot.lot_id for lot in lots]),
            )
            .group_by(Posting.lot_id)
        ).all()
    )
    return LandedCostResult(
        doc.id,
        mv.id,
        posted.id,
        on,
        posted.accounting_date,
        counterparty,
        doc.description,
        currency,
        amount,
        fx_rate,
        functional,
        functional_amount,
        [
            LandedShare(lot.medicine, lot.lot, lot.quantity, share, int(after.get(lot.lot_id, 0)))
            for lot, share in zip(lots, shares, strict=True)
        ],
    )
