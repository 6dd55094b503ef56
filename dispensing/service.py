"""Dispensing use cases: dispense, return, read. Orchestrates pricing (contracts), lot
picking (stock) and the one posting function (ledger)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from contracts.pricing import LotTaken, PricedDispensing, PricedLine, price_return
from dispensing.model import LineAmounts, LotMove, Parties, dispensing_postings
from dispensing.tables import (
    Dispensing,
    DispensingLine,
    DispensingLot,
    DispensingReturn,
    ReturnLine,
    ReturnLot,
)
from ledger import clock
from ledger.db import Base, is_postgres
from ledger.errors import Conflict, InvalidRequest, NotFound
from ledger.journal import check_event_date
from ledger.model import EntryDraft, month_bounds, month_of
from ledger.money import format_amount, format_unit_price
from ledger.posting import post_entry
from ledger.queries import exponents
from ledger.refcache import reference
from ledger.refdata import ledger_ref


class UnknownPharmacy(NotFound):
    """The pharmacy code names no pharmacy."""

    slug = "unknown-pharmacy"


class ClientRefReused(Conflict):
    """A pharmacy's client_ref was already used for another dispensing."""

    slug = "client-ref-reused"
    title = "client_ref already used"


class ReturnTooLarge(Conflict):
    """More units are returned than remain on the dispensing."""

    slug = "return-exceeds-dispensed"
    title = "Return exceeds what was dispensed"


@dataclass(frozen=True)
class DispenseRequest:
    pharmacy: str
    patient: str | None
    service_date: date
    client_ref: str | None
    items: tuple[tuple[str, int], ...]


def _lock_patient(session: Session, patient: str | None) -> None:
    """Serialise dispensings of one patient (the monthly subsidy cap is read, then used)."""
    if patient and is_postgres(session):
        key = zlib.crc32(patient.encode("utf-8"))
        session.execute(text("SELECT pg_advisory_xact_lock(7, :k)"), {"k": key - 2**31})


_DISPENSINGS = Base.metadata.tables[Dispensing.__tablename__]
_LINES = Base.metadata.tables[DispensingLine.__tablename__]
_INSERT_DISPENSING = insert(_DISPENSINGS).returning(_DISPENSINGS.c.id)
_SET_ENTRY = (
    update(_DISPENSINGS)
    .where(_DISPENSINGS.c.id == bindparam("d_id"))
    .values(entry_id=bindparam("e_id"), accounting_date=bindparam("acc"))
)
_INSERT_LINES = insert(_LINES).returning(_LINES.c.id, sort_by_parameter_order=True)
_INSERT_LOTS = insert(Base.metadata.tables[DispensingLot.__tablename__])
_CLIENT_REF_USED = select(_DISPENSINGS.c.id).where(
    _DISPENSINGS.c.pharmacy == bindparam("pharmacy"),
    _DISPENSINGS.c.client_ref == bindparam("client_ref"),
)


def _capped_usage(session: Session, patient: str, scheme: str, month: str) -> int:
    """The pricing hook: lock the patient, then read the subsidy used in the month. Only a
    scheme with a monthly cap asks, so only those dispensings queue per patient."""
    _lock_patient(session, patient)
    return subsidy_used_in_month(session, patient, scheme, month)


def subsidy_used_in_month(session: Session, patient: str, scheme: str, month: str) -> int:
    """Subsidy already given to ``patient`` under ``scheme`` in ``month`` (service dates),
    net of returns (a return counts in the month of the dispensing it returns)."""
    start, end = month_bounds(month)
    given = session.scalar(
        select(func.coalesce(func.sum(Dispensing.total_subsidy), 0)).where(
            Dispensing.patient == patient, Dispensing.scheme == scheme,
            Dispensing.service_date >= start, Dispensing.service_date <= end)
    )
    returned = session.scalar(
        select(func.coalesce(func.sum(DispensingReturn.total_subsidy), 0))
        .join(Dispensing, Dispensing.id == DispensingReturn.dispensing_id)
        .where(Dispensing.patient == patient, Dispensing.scheme == scheme,
               Dispensing.service_date >= start, Dispensing.service_date <= end)
    )
    return int(given or 0) - int(returned or 0)


LineWithLots = tuple[DispensingLine, list[DispensingLot]]


def dispense(session: Session, req: DispenseRequest, *, by: str) -> int:
    """Price, pick lots, post one entry and record the dispensing. Returns its id."""
    return _record(session, req, by=by)[0].id


def dispense_answer(session: Session, req: DispenseRequest, *, by: str) -> dict[str, Any]:
    """``dispense``, answered as the API shows a dispensing, from what was just written."""
    d, lines, exp = _record(session, req, by=by)
    return _dispensing_dict(d, lines, exp)


def _record(
    session: Session, req: DispenseRequest, *, by: str
) -> tuple[Dispensing, list[LineWithLots], int]:
    """Price, pick lots, post one entry and record the dispensing, its lines and lots (and
    the currency's exponent, for the answer).

    Reference data (accounts, lots, periods, contracts, price lists, schemes) comes from one
    snapshot (``ledger.refcache``): the statements left are the client_ref check, the
    patient's enrolments (and, under a monthly cap, the patient lock and the subsidy used),
    the lot balance lock, the period lock, and the inserts.
    """
    from contracts.service import quote_dispensing
    from stock.service import take_stock_lines

    snapshot = reference(session)
    ref = ledger_ref(snapshot)
    if req.pharmacy == "CENTRAL" or f"1400-{req.pharmacy}" not in ref.accounts:
        raise UnknownPharmacy(f"no pharmacy {req.pharmacy!r}",
                              errors={"pharmacy": ["unknown pharmacy"]})
    check_event_date(req.service_date, "service_date")
    if req.client_ref is not None and session.execute(
        _CLIENT_REF_USED, {"pharmacy": req.pharmacy, "client_ref": req.client_ref}
    ).first() is not None:
        raise ClientRefReused(
            f"client_ref {req.client_ref!r} was already used for another dispensing at "
            f"{req.pharmacy}")
    quote = quote_dispensing(session, pharmacy=req.pharmacy, patient=req.patient,
                             service_date=req.service_date, items=list(req.items),
                             ref=snapshot)
    priced: PricedDispensing = quote.priced
    takes_per_line = take_stock_lines(
        session, ref, location=req.pharmacy,
        lines=[(pl.medicine, pl.quantity) for pl in priced.lines], on=req.service_date,
        currency=quote.currency)
    lines = [
        LineAmounts(pl.medicine, tuple(LotMove(t.lot_id, t.quantity, t.value) for t in takes),
                    pl.price, pl.subsidy, pl.copayment)
        for pl, takes in zip(priced.lines, takes_per_line, strict=True)
    ]
    scheme = quote.scheme
    parties = Parties(req.pharmacy, quote.model, scheme.payer if scheme else None,
                      scheme.code if scheme else None, quote.currency)
    values: dict[str, Any] = dict(
        pharmacy=req.pharmacy, patient=req.patient, service_date=req.service_date,
        accounting_date=req.service_date, client_ref=req.client_ref, currency=quote.currency,
        model=quote.model, contract_id=quote.contract_id,
        scheme=scheme.code if scheme and priced.total_subsidy >= 0 else None,
        payer=scheme.payer if scheme else None, fee_kind=quote.fee_rule.kind,
        total_price=priced.total_price, total_subsidy=priced.total_subsidy,
        total_copayment=priced.total_copayment, fee=priced.fee, created_at=clock.now(),
        created_by=by, entry_id=None,
    )
    d_id = session.execute(_INSERT_DISPENSING, values).scalar_one()
    postings = dispensing_postings(parties, lines, priced.fee)
    posted = post_entry(session, EntryDraft(
        service_date=req.service_date,
        memo=f"Dispensing {d_id} at {req.pharmacy}"
             + (f" to {req.patient}" if req.patient else " (walk-in)"),
        postings=tuple(postings), source=f"dispensing:{d_id}", partition=req.pharmacy,
    ), created_by=by, ref=ref)
    session.execute(_SET_ENTRY, {"d_id": d_id, "e_id": posted.id,
                                 "acc": posted.accounting_date})
    values.update(id=d_id, entry_id=posted.id, accounting_date=posted.accounting_date)
    exp = ref.exponents[quote.currency]
    line_rows = [
        dict(dispensing_id=d_id, line_no=i, medicine=pl.medicine, quantity=pl.quantity,
             unit_price=format_unit_price(pl.unit_price, exp),
             price=pl.price, subsidy=pl.subsidy, copayment=pl.copayment,
             cost=sum(t.value for t in takes))
        for i, (pl, takes) in enumerate(zip(priced.lines, takes_per_line, strict=True))
    ]
    line_ids = list(session.execute(_INSERT_LINES, line_rows).scalars())
    lot_rows = [
        dict(line_id=line_id, seq=j, lot_id=t.lot_id, lot_code=t.lot_code,
             quantity=t.quantity, value=t.value)
        for line_id, takes in zip(line_ids, takes_per_line, strict=True)
        for j, t in enumerate(takes)
    ]
    session.execute(_INSERT_LOTS, lot_rows)
    # The answer is built from what was written (no read back): transient rows.
    d = Dispensing(**values)
    lots_by_line: dict[int, list[DispensingLot]] = {}
    for row in lot_rows:
        lots_by_line.setdefault(row["line_id"], []).append(DispensingLot(**row))
    written = [(DispensingLine(id=line_id, **row), lots_by_line.get(line_id, []))
               for line_id, row in zip(line_ids, line_rows, strict=True)]
    return d, written, exp


def get_dispensing(session: Session, dispensing_id: str | int,
                   pharmacy_scope: str | None = None) -> Dispensing:
    """A dispensing; for a pharmacist, one of another pharmacy does not exist."""
    if isinstance(dispensing_id, str) and (
            not (dispensing_id.isascii() and dispensing_id.isdigit()) or len(dispensing_id) > 18):
        raise NotFound(f"no dispensing {dispensing_id!r}")
    d = session.get(Dispensing, int(dispensing_id))
    if d is None or (pharmacy_scope is not None and d.pharmacy != pharmacy_scope):
        raise NotFound(f"no dispensing {dispensing_id!r}")
    return d


def _lines_by_dispensing(session: Session, ids: Sequence[int]) -> dict[int, list[LineWithLots]]:
    """The lines of several dispensings with their lots, in two queries."""
    lines = list(session.scalars(select(DispensingLine).where(
        DispensingLine.dispensing_id.in_(ids)).order_by(DispensingLine.line_no)))
    lots = list(session.scalars(select(DispensingLot).where(
        DispensingLot.line_id.in_([ln.id for ln in lines])).order_by(DispensingLot.seq)))
    by_line: dict[int, list[DispensingLot]] = {}
    for lot in lots:
        by_line.setdefault(lot.line_id, []).append(lot)
    out: dict[int, list[LineWithLots]] = {i: [] for i in ids}
    for ln in lines:
        out[ln.dispensing_id].append((ln, by_line.get(ln.id, [])))
    return out


def _lines_of(session: Session, d: Dispensing) -> list[LineWithLots]:
    return _lines_by_dispensing(session, [d.id])[d.id]


def dispensings_json(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The API's view of several dispensings, in the order of ``ids`` (no query per row)."""
    found = {d.id: d for d in session.scalars(select(Dispensing).where(Dispensing.id.in_(ids)))}
    lines = _lines_by_dispensing(session, ids)
    exps = exponents(session)
    return [_dispensing_dict(found[i], lines[i], exps[found[i].currency]) for i in ids]


def _dispensing_dict(d: Dispensing, lines: list[LineWithLots], exp: int) -> dict[str, Any]:
    """The API's view of one dispensing."""
    def fmt(v: int) -> str:
        return format_amount(v, exp)

    return {
        "id": str(d.id), "pharmacy": d.pharmacy, "patient": d.patient,
        "service_date": d.service_date.isoformat(),
        "accounting_date": d.accounting_date.isoformat(), "currency": d.currency,
        "client_ref": d.client_ref, "model": d.model, "scheme": d.scheme,
        "lines": [
            {"medicine": ln.medicine, "quantity": ln.quantity, "unit_price": ln.unit_price,
             "price": fmt(ln.price), "subsidy": fmt(ln.subsidy),
             "copayment": fmt(ln.copayment), "cost": fmt(ln.cost),
             "lots": [{"lot": lot.lot_code, "quantity": lot.quantity,
                       "value": fmt(lot.value)} for lot in lots]}
            for ln, lots in lines
        ],
        "total_price": fmt(d.total_price), "total_subsidy": fmt(d.total_subsidy),
        "total_copayment": fmt(d.total_copayment), "fee": fmt(d.fee),
        "entry_id": str(d.entry_id),
    }


def dispensing_json(session: Session, dispensing_id: int, *, with_returns: bool = False
                    ) -> dict[str, Any]:
    (out,) = dispensings_json(session, [dispensing_id])
    if with_returns:
        rets = list(session.scalars(select(DispensingReturn.id).where(
            DispensingReturn.dispensing_id == dispensing_id).order_by(DispensingReturn.id)))
        out["returns"] = [return_json(session, r) for r in rets]
    return out


# --------------------------------------------------------------------------- returns


def _returned_so_far(session: Session, line_ids: list[int]) -> dict[int, int]:
    """Units already returned per line."""
    per_line: dict[int, int] = {}
    rows = session.execute(select(ReturnLine.line_id, func.sum(ReturnLine.quantity)).where(
        ReturnLine.line_id.in_(line_ids)).group_by(ReturnLine.line_id))
    for lid, q in rows:
        per_line[int(lid)] = int(q)
    return per_line


def return_items(session: Session, d: Dispensing, items: Sequence[tuple[str, int]],
                 on: date | None, *, by: str) -> int:
    """Return all or part of a dispensing: units back into the lots they came from (latest
    picked first) at the value they left with; amounts reversed in proportion."""
    when = on or clock.today()
    check_event_date(when, "date")
    if when < d.service_date:
        raise InvalidRequest("a return cannot be dated before the dispensing",
                             errors={"date": [f"must be on or after {d.service_date}"]})
    lines = _lines_of(session, d)
    # Lock the dispensing's own history: one return at a time per dispensing.
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(8, :k)"),
                        {"k": d.id % 2**31})
    returned = _returned_so_far(session, [ln.id for ln, _ in lines])
    fee_before = int(session.scalar(select(func.coalesce(func.sum(DispensingReturn.fee), 0))
                                    .where(DispensingReturn.dispensing_id == d.id)) or 0)
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
                f"cannot return {qty} {med}: only {qty - left} remain on dispensing {d.id}")
    if errors:
        raise InvalidRequest("some items are not on the dispensing: "
                             + next(iter(errors.values()))[0], errors=errors)
    original = PricedDispensing(
        # The unit price only matters to pricing; price/quantity reproduces the line exactly.
        lines=tuple(PricedLine(ln.medicine, ln.quantity, Fraction(ln.price, ln.quantity),
                               ln.price, ln.subsidy, ln.copayment) for ln, _ in lines),
        total_price=d.total_price, total_subsidy=d.total_subsidy,
        total_copayment=d.total_copayment, fee=d.fee)
    lots_per_line = [[LotTaken(str(lot.id), lot.quantity, lot.value) for lot in lots]
                     for _, lots in lines]
    priced = price_return(original, lots_per_line, [returned.get(ln.id, 0) for ln, _ in lines],
                          returning, None, d.fee_kind, fee_before)
    lot_by_key = {str(lot.id): lot for _, lots in lines for lot in lots}
    amounts = []
    for lr in priced.lines:
        ln, _ = lines[lr.line_index]
        amounts.append(LineAmounts(
            ln.medicine,
            tuple(LotMove(lot_by_key[t.lot].lot_id, t.quantity, t.value) for t in lr.lots
                  if t.quantity),
            lr.price, lr.subsidy, lr.copayment))
    parties = Parties(d.pharmacy, d.model, d.payer if d.scheme else None, d.scheme, d.currency)
    ret = DispensingReturn(
        dispensing_id=d.id, return_date=when, accounting_date=when,
        total_price=priced.total_price, total_subsidy=priced.total_subsidy,
        total_copayment=priced.total_copayment, total_cost=priced.total_cost, fee=priced.fee,
        created_at=clock.now(), created_by=by)
    session.add(ret)
    session.flush()
    postings = dispensing_postings(parties, amounts, priced.fee, sign=-1)
    posted = post_entry(session, EntryDraft(
        service_date=when, memo=f"Return {ret.id} of dispensing {d.id} at {d.pharmacy}",
        postings=tuple(postings), source=f"return:{ret.id}", partition=d.pharmacy,
    ), created_by=by)
    ret.entry_id = posted.id
    ret.accounting_date = posted.accounting_date
    for lr in priced.lines:
        ln, _ = lines[lr.line_index]
        rl = ReturnLine(return_id=ret.id, line_id=ln.id, quantity=lr.quantity, price=lr.price,
                        subsidy=lr.subsidy, copayment=lr.copayment, cost=lr.cost)
        session.add(rl)
        session.flush()
        session.add_all([
            ReturnLot(return_line_id=rl.id, lot_id=lot_by_key[t.lot].lot_id,
                      lot_code=lot_by_key[t.lot].lot_code, quantity=t.quantity, value=t.value)
            for t in lr.lots if t.quantity
        ])
    session.flush()
    return ret.id


def return_json(session: Session, return_id: int) -> dict[str, Any]:
    r = session.get(DispensingReturn, return_id)
    assert r is not None
    d = session.get(Dispensing, r.dispensing_id)
    assert d is not None
    exp = exponents(session)[d.currency]
    fmt = lambda v: format_amount(v, exp)  # noqa: E731
    rls = list(session.scalars(select(ReturnLine).where(ReturnLine.return_id == r.id)
                               .order_by(ReturnLine.id)))
    lots = list(session.scalars(select(ReturnLot).where(
        ReturnLot.return_line_id.in_([x.id for x in rls])).order_by(ReturnLot.id)))
    meds = {ln.id: ln.medicine for ln in session.scalars(select(DispensingLine).where(
        DispensingLine.id.in_([x.line_id for x in rls])))}
    return {
        "id": str(r.id), "dispensing_id": str(d.id), "pharmacy": d.pharmacy,
        "date": r.return_date.isoformat(), "accounting_date": r.accounting_date.isoformat(),
        "currency": d.currency,
        "lines": [
            {"medicine": meds[rl.line_id], "quantity": rl.quantity, "price": fmt(rl.price),
             "subsidy": fmt(rl.subsidy), "copayment": fmt(rl.copayment), "cost": fmt(rl.cost),
             "lots": [{"lot": lt.lot_code, "quantity": lt.quantity, "value": fmt(lt.value)}
                      for lt in lots if lt.return_line_id == rl.id]}
            for rl in rls
        ],
        "total_price": fmt(r.total_price), "total_subsidy": fmt(r.total_subsidy),
        "total_copayment": fmt(r.total_copayment), "total_cost": fmt(r.total_cost),
        "fee": fmt(r.fee), "entry_id": str(r.entry_id),
    }


def month_key(d: date) -> str:
    return month_of(d)


def _register() -> None:
    from contracts.service import register_subsidy_usage

    register_subsidy_usage(_capped_usage)


_register()
