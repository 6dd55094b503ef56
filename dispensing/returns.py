"""Returns: units back into the lots they came from, amounts reversed in proportion."""

from __future__ import annotations

from fractions import Fraction

from sqlalchemy import text
from sqlalchemy.orm import Session

from contracts.pricing import LotTaken, PricedDispensing, PricedLine, price_return
from dispensing.commands import Returned, ReturnRequest
from dispensing.errors import ReturnTooLarge
from dispensing.model import LineAmounts, LotMove, Parties, dispensing_postings
from dispensing.reads import (
    fees_returned,
    get_dispensing,
    lines_by_dispensing,
    read_return,
    returned_so_far,
)
from dispensing.tables import DispensingReturn, ReturnLine, ReturnLot
from ledger import clock
from ledger.db import is_postgres
from ledger.errors import InvalidRequest
from ledger.journal import check_event_date
from ledger.model import EntryDraft
from ledger.posting import post_entry


def return_items(session: Session, cmd: ReturnRequest, *, by: str) -> Returned:
    """Return all or part of a dispensing: units back into the lots they came from (latest
    picked first) at the value they left with; amounts reversed in proportion."""
    d = get_dispensing(session, cmd.dispensing_id, cmd.pharmacy_scope)
    items = cmd.items
    when = cmd.on or clock.today()
    check_event_date(when, "date")
    if when < d.service_date:
        raise InvalidRequest(
            "a return cannot be dated before the dispensing",
            errors={"date": [f"must be on or after {d.service_date}"]},
        )
    lines = lines_by_dispensing(session, [d.id])[d.id]
    # Lock the dispensing's own history: one return at a time per dispensing.
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(8, :k)"), {"k": d.id % 2**31})
    returned = returned_so_far(session, [ln.id for ln, _ in lines])
    fee_before = fees_returned(session, d.id)
    # Allocate requested units to lines of that medicine, last line first.
    returning = [0] * len(lines)
    errors: dict[str, list[str]] = {}
    for i, (med, qty) in enumerate(items):
        left = qty
        for idx in range(len(lines) - 1, -1, -1):
            ln = lines[idx][0]
            if ln.medicine != med:
                continue
            room = ln.quantity - returned.get(ln.id, 0) - returning[idx]
            take = min(room, left)
            if take > 0:
                returning[idx] += take
                left -= take
        if not any(ln.medicine == med for ln, _ in lines):
            errors[f"items.{i}.medicine"] = [f"{med} is not on dispensing {d.id}"]
        elif left > 0:
            raise ReturnTooLarge(
                f"cannot return {qty} {med}: only {qty - left} remain on dispensing {d.id}"
            )
    if errors:
        raise InvalidRequest(
            "some items are not on the dispensing: " + next(iter(errors.values()))[0], errors=errors
        )
    original = PricedDispensing(
        # The unit price only matters to pricing; price/quantity reproduces the line exactly.
        lines=tuple(
            PricedLine(
                ln.medicine,
                ln.quantity,
                Fraction(ln.price, ln.quantity),
                ln.price,
                ln.subsidy,
                ln.copayment,
            )
            for ln, _ in lines
        ),
        total_price=d.total_price,
        total_subsidy=d.total_subsidy,
        total_copayment=d.total_copayment,
        fee=d.fee,
    )
    lots_per_line = [
        [LotTaken(str(lot.id), lot.quantity, lot.value) for lot in lots] for _, lots in lines
    ]
    priced = price_return(
        original,
        lots_per_line,
        [returned.get(ln.id, 0) for ln, _ in lines],
        returning,
        None,
        d.fee_kind,
        fee_before,
    )
    lot_by_key = {str(lot.id): lot for _, lots in lines for lot in lots}
    amounts = []
    for lr in priced.lines:
        ln, _ = lines[lr.line_index]
        amounts.append(
            LineAmounts(
                ln.medicine,
                tuple(
                    LotMove(lot_by_key[t.lot].lot_id, t.quantity, t.value)
                    for t in lr.lots
                    if t.quantity
                ),
                lr.price,
                lr.subsidy,
                lr.copayment,
            )
        )
    parties = Parties(d.pharmacy, d.model, d.payer if d.scheme else None, d.scheme, d.currency)
    ret = DispensingReturn(
        dispensing_id=d.id,
        return_date=when,
        accounting_date=when,
        total_price=priced.total_price,
        total_subsidy=priced.total_subsidy,
        total_copayment=priced.total_copayment,
        total_cost=priced.total_cost,
        fee=priced.fee,
        created_at=clock.now(),
        created_by=by,
    )
    session.add(ret)
    session.flush()
    postings = dispensing_postings(parties, amounts, priced.fee, sign=-1)
    posted = post_entry(
        session,
        EntryDraft(
            service_date=when,
            memo=f"Return {ret.id} of dispensing {d.id} at {d.pharmacy}",
            postings=tuple(postings),
            source=f"return:{ret.id}",
            partition=d.pharmacy,
        ),
        created_by=by,
    )
    ret.entry_id = posted.id
    ret.accounting_date = posted.accounting_date
    for lr in priced.lines:
        ln, _ = lines[lr.line_index]
        rl = ReturnLine(
            return_id=ret.id,
            line_id=ln.id,
            quantity=lr.quantity,
            price=lr.price,
            subsidy=lr.subsidy,
            copayment=lr.copayment,
            cost=lr.cost,
        )
        session.add(rl)
        session.flush()
        session.add_all(
            [
                ReturnLot(
                    return_line_id=rl.id,
                    lot_id=lot_by_key[t.lot].lot_id,
                    lot_code=lot_by_key[t.lot].lot_code,
                    quantity=t.quantity,
                    value=t.value,
                )
                for t in lr.lots
                if t.quantity
            ]
        )
    session.flush()
    return read_return(session, ret.id)
