"""Dispensing use cases: dispense, return, read. Orchestrates pricing (contracts), lot
picking (stock) and the one posting function (ledger)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from contracts.pricing import LotTaken, PricedDispensing, PricedLine, price_return
from contracts.service import Quote
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
from ledger.bulk import allocate_ids, insert_rows
from ledger.db import Base, is_postgres
from ledger.errors import Conflict, InvalidRequest, NotFound, RdfError
from ledger.journal import check_event_date
from ledger.model import EntryDraft, PostingDraft, month_bounds, month_of
from ledger.money import format_amount, format_unit_price
from ledger.posting import post_entries, post_entry
from ledger.queries import exponents
from ledger.refcache import reference
from ledger.refdata import LedgerRef, ledger_ref
from stock.service import LotTake


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
    #: per item, the days of treatment it carries (care/), None: the medicine's default
    days_supply: tuple[int | None, ...] = ()


def _lock_patient(session: Session, patient: str | None) -> None:
    """Serialise dispensings of one patient (the monthly subsidy cap is read, then used)."""
    if patient and is_postgres(session):
        key = zlib.crc32(patient.encode("utf-8"))
        session.execute(text("SELECT pg_advisory_xact_lock(7, :k)"), {"k": key - 2**31})


_DISPENSINGS = Base.metadata.tables[Dispensing.__tablename__]
_LINES = Base.metadata.tables[DispensingLine.__tablename__]
_LOTS = Base.metadata.tables[DispensingLot.__tablename__]
_CLIENT_REFS_USED = select(_DISPENSINGS.c.client_ref).where(
    _DISPENSINGS.c.pharmacy == bindparam("pharmacy"),
    _DISPENSINGS.c.client_ref.in_(bindparam("refs", expanding=True)),
)
_RETURNED = Base.metadata.tables[DispensingReturn.__tablename__]
#: Each dispensing of the patients and schemes in the months' range, with its subsidy and
#: what its returns gave back (``subsidy_used_in_month``'s two sums, row by row).
_SUBSIDY_ROWS = select(
    _DISPENSINGS.c.patient,
    _DISPENSINGS.c.scheme,
    _DISPENSINGS.c.service_date,
    _DISPENSINGS.c.total_subsidy,
    select(func.sum(_RETURNED.c.total_subsidy))
    .where(_RETURNED.c.dispensing_id == _DISPENSINGS.c.id)
    .scalar_subquery(),
).where(
    _DISPENSINGS.c.patient.in_(bindparam("patients", expanding=True)),
    _DISPENSINGS.c.scheme.in_(bindparam("schemes", expanding=True)),
    _DISPENSINGS.c.service_date >= bindparam("first"),
    _DISPENSINGS.c.service_date <= bindparam("last"),
)


def _capped_usage(session: Session, patient: str, scheme: str, month: str) -> int:
    """The pricing hook: lock the patient, then read the subsidy used in the month. Only a
    scheme with a monthly cap asks, so only those dispensings queue per patient."""
    _lock_patient(session, patient)
    return subsidy_used_in_month(session, patient, scheme, month)


def subsidy_used_in_month(session: Session, patient: str, scheme: str, month: str) -> int:
    """Subsidy already given to ``patient`` under ``scheme`` in ``month`` (service dates),
    net of returns (a return counts in the month of the dispensing it returns)."""
    return _subsidy_used(session, [(patient, scheme, month)])[(patient, scheme, month)]


LineWithLots = tuple[DispensingLine, list[DispensingLot]]
#: A dispensing (or line, or lot) as ``_dispensing_dict`` reads it: an ORM row, or the
#: plain attribute bag of a row just written (``_written``).
RowLike = Any
WrittenLines = list[tuple[RowLike, list[RowLike]]]


def dispense(session: Session, req: DispenseRequest, *, by: str) -> int:
    """Price, pick lots, post one entry and record the dispensing. Returns its id."""
    return int(dispense_answer(session, req, by=by)["id"])


def dispense_answer(session: Session, req: DispenseRequest, *, by: str) -> dict[str, Any]:
    """``dispense``, answered as the API shows a dispensing, from what was just written: a
    batch of one (``dispense_many``), its refusal raised."""
    (answer,) = dispense_many(session, [req], by=by)
    if isinstance(answer, RdfError):
        raise answer
    return answer


@dataclass(frozen=True)
class Planned:
    """A dispensing priced and picked, not yet written: its row (without ids), its lines'
    lot takes and its postings."""

    req: DispenseRequest
    quote: Quote
    takes: list[list[LotTake]]
    postings: tuple[PostingDraft, ...]
    values: dict[str, Any]


def _check_request(ref: LedgerRef, req: DispenseRequest) -> None:
    """A known pharmacy and a plausible service date (before anything is read)."""
    if req.pharmacy == "CENTRAL" or f"1400-{req.pharmacy}" not in ref.accounts:
        raise UnknownPharmacy(
            f"no pharmacy {req.pharmacy!r}", errors={"pharmacy": ["unknown pharmacy"]}
        )
    check_event_date(req.service_date, "service_date")


def _client_ref_reused(req: DispenseRequest) -> ClientRefReused:
    return ClientRefReused(
        f"client_ref {req.client_ref!r} was already used for another dispensing at {req.pharmacy}"
    )


def _plan(req: DispenseRequest, quote: Quote, takes: list[list[LotTake]], by: str) -> Planned:
    """The postings (DESIGN.md) and the row of a priced and picked dispensing."""
    priced: PricedDispensing = quote.priced
    lines = [
        LineAmounts(
            pl.medicine,
            tuple(LotMove(t.lot_id, t.quantity, t.value) for t in tk),
            pl.price,
            pl.subsidy,
            pl.copayment,
        )
        for pl, tk in zip(priced.lines, takes, strict=True)
    ]
    scheme = quote.scheme
    parties = Parties(
        req.pharmacy,
        quote.model,
        scheme.payer if scheme else None,
        scheme.code if scheme else None,
        quote.currency,
    )
    values: dict[str, Any] = dict(
        pharmacy=req.pharmacy,
        patient=req.patient,
        service_date=req.service_date,
        accounting_date=req.service_date,
        client_ref=req.client_ref,
        currency=quote.currency,
        model=quote.model,
        contract_id=quote.contract_id,
        scheme=scheme.code if scheme and priced.total_subsidy >= 0 else None,
        payer=scheme.payer if scheme else None,
        fee_kind=quote.fee_rule.kind,
        total_price=priced.total_price,
        total_subsidy=priced.total_subsidy,
        total_copayment=priced.total_copayment,
        fee=priced.fee,
        created_at=clock.now(),
        created_by=by,
        entry_id=None,
    )
    return Planned(
        req, quote, takes, tuple(dispensing_postings(parties, lines, priced.fee)), values
    )


def _entry_draft(p: Planned, d_id: int) -> EntryDraft:
    req = p.req
    return EntryDraft(
        service_date=req.service_date,
        memo=f"Dispensing {d_id} at {req.pharmacy}"
        + (f" to {req.patient}" if req.patient else " (walk-in)"),
        postings=p.postings,
        source=f"dispensing:{d_id}",
        partition=req.pharmacy,
    )


def _line_rows(p: Planned, d_id: int, exp: int) -> list[dict[str, Any]]:
    return [
        dict(
            dispensing_id=d_id,
            line_no=i,
            medicine=pl.medicine,
            quantity=pl.quantity,
            unit_price=format_unit_price(pl.unit_price, exp),
            price=pl.price,
            subsidy=pl.subsidy,
            copayment=pl.copayment,
            cost=sum(t.value for t in takes),
            days_supply=p.req.days_supply[i] if i < len(p.req.days_supply) else None,
        )
        for i, (pl, takes) in enumerate(zip(p.quote.priced.lines, p.takes, strict=True))
    ]


def _lot_rows(p: Planned, line_ids: Sequence[int]) -> list[dict[str, Any]]:
    return [
        dict(
            line_id=line_id,
            seq=j,
            lot_id=t.lot_id,
            lot_code=t.lot_code,
            quantity=t.quantity,
            value=t.value,
        )
        for line_id, takes in zip(line_ids, p.takes, strict=True)
        for j, t in enumerate(takes)
    ]


def _written(
    values: dict[str, Any],
    line_ids: Sequence[int],
    line_rows: list[dict[str, Any]],
    lot_rows: list[dict[str, Any]],
) -> tuple[RowLike, WrittenLines]:
    """The answer is built from what was written (no read back): the rows as plain
    attribute bags (what ``_dispensing_dict`` reads), not ORM instances."""
    lots_by_line: dict[int, list[SimpleNamespace]] = {}
    for row in lot_rows:
        lots_by_line.setdefault(row["line_id"], []).append(SimpleNamespace(**row))
    return SimpleNamespace(**values), [
        (SimpleNamespace(**{**row, "id": line_id}), lots_by_line.get(line_id, []))
        for line_id, row in zip(line_ids, line_rows, strict=True)
    ]


# --------------------------------------------------------------------------- batches


def dispense_many(
    session: Session, reqs: Sequence[DispenseRequest], *, by: str
) -> list[dict[str, Any] | RdfError]:
    """Record many dispensings in the current transaction, set-based; each answered as
    ``dispense_answer`` would, in order, or with the error that refused it.

    Equivalent to ``dispense_answer`` for each request in turn (each sees the stock and the
    monthly subsidy the ones before it took), with the statements of a whole chunk shared:
    one reference snapshot, one read of the patients' enrolments, one client_ref check, the
    capped patients locked and their month's subsidy read once, every lot balance involved
    locked in one statement, each month locked once, the union of kept balances locked in
    one statement, and one INSERT per table. A refused request writes nothing. An error
    raised (not returned) means the chunk as a whole could not be written: the caller rolls
    back and records the requests one at a time.
    """
    from contracts.service import QuoteTerms, enrolments_of, quote_terms
    from stock.service import Pending, check_take_lines, lock_lot_positions, pick_lines

    snapshot = reference(session)
    ref = ledger_ref(snapshot)
    out: list[dict[str, Any] | RdfError | None] = [None] * len(reqs)
    for i, req in enumerate(reqs):
        try:
            _check_request(ref, req)
        except RdfError as exc:
            out[i] = exc
    refs: dict[str, list[str]] = {}
    for i, r in enumerate(reqs):
        if out[i] is None and r.client_ref is not None:
            refs.setdefault(r.pharmacy, []).append(r.client_ref)
    used_refs = {
        (pharmacy, cr)
        for pharmacy, wanted in sorted(refs.items())
        for cr in session.scalars(_CLIENT_REFS_USED, {"pharmacy": pharmacy, "refs": wanted})
    }
    lookup = enrolments_of(
        session,
        sorted({r.patient for i, r in enumerate(reqs) if out[i] is None and r.patient is not None}),
    )
    terms: dict[int, QuoteTerms] = {}
    accounts: dict[int, str] = {}
    for i, req in enumerate(reqs):
        if out[i] is not None:
            continue
        try:
            if (req.pharmacy, req.client_ref) in used_refs:
                raise _client_ref_reused(req)
            t = quote_terms(
                snapshot,
                pharmacy=req.pharmacy,
                patient=req.patient,
                service_date=req.service_date,
                items=list(req.items),
                enrolments=lookup,
            )
            accounts[i] = check_take_lines(
                session, ref, req.pharmacy, [(ln.medicine, ln.quantity) for ln in t.lines]
            )
            terms[i] = t
        except RdfError as exc:
            out[i] = exc
    used = _subsidy_used_many(
        session,
        sorted(
            {
                (t.patient, t.scheme.code, t.month)
                for t in terms.values()
                if t.capped and t.patient is not None and t.scheme is not None
            }
        ),
    )
    positions = {}
    for currency in sorted({t.currency for t in terms.values()}):
        positions.update(
            lock_lot_positions(
                session,
                ref,
                sorted(
                    {
                        (accounts[i], ln.medicine)
                        for i, t in terms.items()
                        if t.currency == currency
                        for ln in t.lines
                    }
                ),
                currency,
            )
        )
    pending: Pending = {}
    planned: dict[int, Planned] = {}
    for i, t in terms.items():
        req = reqs[i]
        cap = (t.patient, t.scheme.code, t.month) if t.capped and t.patient and t.scheme else None
        try:
            quote = t.priced(max(used.get(cap, 0), 0) if cap else 0)
            takes = pick_lines(
                positions,
                pending,
                location=req.pharmacy,
                lines=[(pl.medicine, pl.quantity) for pl in quote.priced.lines],
                on=req.service_date,
            )
        except RdfError as exc:
            out[i] = exc
            continue
        p = planned[i] = _plan(req, quote, takes, by)
        if cap is not None and p.values["scheme"] == cap[1]:
            used[cap] = used.get(cap, 0) + quote.priced.total_subsidy
    if planned:
        _write_many(session, ref, list(planned.values()), by, out, list(planned))
    assert all(o is not None for o in out)
    return [o for o in out if o is not None]


def _write_many(
    session: Session,
    ref: LedgerRef,
    planned: list[Planned],
    by: str,
    out: list[dict[str, Any] | RdfError | None],
    where: list[int],
) -> None:
    """Write planned dispensings: ids taken ahead (``ledger.bulk``), their entries by
    ``post_entries``, then one INSERT each for dispensings, lines and lots; their answers
    go to ``out`` at the positions ``where``."""
    d_ids = allocate_ids(session, _DISPENSINGS, len(planned))
    posted = post_entries(
        session,
        [_entry_draft(p, d) for p, d in zip(planned, d_ids, strict=True)],
        created_by=by,
        ref=ref,
    )
    rows = [
        dict(p.values, id=d, entry_id=e.id, accounting_date=e.accounting_date)
        for p, d, e in zip(planned, d_ids, posted, strict=True)
    ]
    insert_rows(session, _DISPENSINGS, rows)
    line_ids = iter(allocate_ids(session, _LINES, sum(len(p.takes) for p in planned)))
    per = []
    for p, d in zip(planned, d_ids, strict=True):
        lines = _line_rows(p, d, ref.exponents[p.quote.currency])
        for line in lines:
            line["id"] = next(line_ids)
        per.append((lines, _lot_rows(p, [line["id"] for line in lines])))
    insert_rows(session, _LINES, [line for lines, _lots in per for line in lines])
    insert_rows(session, _LOTS, [lot for _lines, lots in per for lot in lots])
    for values, (lines, lots), p, i in zip(rows, per, planned, where, strict=True):
        out[i] = _dispensing_dict(
            *_written(values, [ln["id"] for ln in lines], lines, lots),
            ref.exponents[p.quote.currency],
        )


def _subsidy_used_many(
    session: Session, capped: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], int]:
    """``subsidy_used_in_month`` for many (patient, scheme, month), each patient locked
    first (sorted, so two batches never wait on each other in a cycle)."""
    for patient in sorted({p for p, _s, _m in capped}, key=lambda p: zlib.crc32(p.encode("utf-8"))):
        _lock_patient(session, patient)
    return _subsidy_used(session, capped)


def _subsidy_used(
    session: Session, capped: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], int]:
    """Subsidy given per (patient, scheme, month), net of returns, in one query."""
    if not capped:
        return {}
    patients = sorted({p for p, _s, _m in capped})
    schemes = sorted({s for _p, s, _m in capped})
    first = month_bounds(min(m for _p, _s, m in capped))[0]
    last = month_bounds(max(m for _p, _s, m in capped))[1]
    params = {"patients": patients, "schemes": schemes, "first": first, "last": last}
    used = dict.fromkeys(capped, 0)
    for patient, scheme, on, given, returned in session.execute(_SUBSIDY_ROWS, params):
        key = (patient, scheme, month_of(on))
        if key in used:
            used[key] += int(given) - int(returned or 0)
    return used


def get_dispensing(
    session: Session, dispensing_id: str | int, pharmacy_scope: str | None = None
) -> Dispensing:
    """A dispensing; for a pharmacist, one of another pharmacy does not exist."""
    if isinstance(dispensing_id, str) and (
        not (dispensing_id.isascii() and dispensing_id.isdigit()) or len(dispensing_id) > 18
    ):
        raise NotFound(f"no dispensing {dispensing_id!r}")
    d = session.get(Dispensing, int(dispensing_id))
    if d is None or (pharmacy_scope is not None and d.pharmacy != pharmacy_scope):
        raise NotFound(f"no dispensing {dispensing_id!r}")
    return d


def _lines_by_dispensing(session: Session, ids: Sequence[int]) -> dict[int, list[LineWithLots]]:
    """The lines of several dispensings with their lots, in two queries."""
    lines = list(
        session.scalars(
            select(DispensingLine)
            .where(DispensingLine.dispensing_id.in_(ids))
            .order_by(DispensingLine.line_no)
        )
    )
    lots = list(
        session.scalars(
            select(DispensingLot)
            .where(DispensingLot.line_id.in_([ln.id for ln in lines]))
            .order_by(DispensingLot.seq)
        )
    )
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


def _dispensing_dict(
    d: RowLike, lines: Sequence[tuple[RowLike, Sequence[RowLike]]], exp: int
) -> dict[str, Any]:
    """The API's view of one dispensing."""

    def fmt(v: int) -> str:
        return format_amount(v, exp)

    return {
        "id": str(d.id),
        "pharmacy": d.pharmacy,
        "patient": d.patient,
        "service_date": d.service_date.isoformat(),
        "accounting_date": d.accounting_date.isoformat(),
        "currency": d.currency,
        "client_ref": d.client_ref,
        "model": d.model,
        "scheme": d.scheme,
        "lines": [
            {
                "medicine": ln.medicine,
                "quantity": ln.quantity,
                "unit_price": ln.unit_price,
                "price": fmt(ln.price),
                "subsidy": fmt(ln.subsidy),
                "copayment": fmt(ln.copayment),
                "cost": fmt(ln.cost),
                "days_supply": ln.days_supply,
                "lots": [
                    {"lot": lot.lot_code, "quantity": lot.quantity, "value": fmt(lot.value)}
                    for lot in lots
                ],
            }
            for ln, lots in lines
        ],
        "total_price": fmt(d.total_price),
        "total_subsidy": fmt(d.total_subsidy),
        "total_copayment": fmt(d.total_copayment),
        "fee": fmt(d.fee),
        "entry_id": str(d.entry_id),
    }


def dispensing_json(
    session: Session, dispensing_id: int, *, with_returns: bool = False
) -> dict[str, Any]:
    (out,) = dispensings_json(session, [dispensing_id])
    if with_returns:
        rets = list(
            session.scalars(
                select(DispensingReturn.id)
                .where(DispensingReturn.dispensing_id == dispensing_id)
                .order_by(DispensingReturn.id)
            )
        )
        out["returns"] = [return_json(session, r) for r in rets]
    return out


# --------------------------------------------------------------------------- returns


def _returned_so_far(session: Session, line_ids: list[int]) -> dict[int, int]:
    """Units already returned per line."""
    per_line: dict[int, int] = {}
    rows = session.execute(
        select(ReturnLine.line_id, func.sum(ReturnLine.quantity))
        .where(ReturnLine.line_id.in_(line_ids))
        .group_by(ReturnLine.line_id)
    )
    for lid, q in rows:
        per_line[int(lid)] = int(q)
    return per_line


def return_items(
    session: Session, d: Dispensing, items: Sequence[tuple[str, int]], on: date | None, *, by: str
) -> int:
    """Return all or part of a dispensing: units back into the lots they came from (latest
    picked first) at the value they left with; amounts reversed in proportion."""
    when = on or clock.today()
    check_event_date(when, "date")
    if when < d.service_date:
        raise InvalidRequest(
            "a return cannot be dated before the dispensing",
            errors={"date": [f"must be on or after {d.service_date}"]},
        )
    lines = _lines_of(session, d)
    # Lock the dispensing's own history: one return at a time per dispensing.
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(8, :k)"), {"k": d.id % 2**31})
    returned = _returned_so_far(session, [ln.id for ln, _ in lines])
    fee_before = int(
        session.scalar(
            select(func.coalesce(func.sum(DispensingReturn.fee), 0)).where(
                DispensingReturn.dispensing_id == d.id
            )
        )
        or 0
    )
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
    return ret.id


def return_json(session: Session, return_id: int) -> dict[str, Any]:
    r = session.get(DispensingReturn, return_id)
    assert r is not None
    d = session.get(Dispensing, r.dispensing_id)
    assert d is not None
    exp = exponents(session)[d.currency]
    fmt = lambda v: format_amount(v, exp)  # noqa: E731
    rls = list(
        session.scalars(
            select(ReturnLine).where(ReturnLine.return_id == r.id).order_by(ReturnLine.id)
        )
    )
    lots = list(
        session.scalars(
            select(ReturnLot)
            .where(ReturnLot.return_line_id.in_([x.id for x in rls]))
            .order_by(ReturnLot.id)
        )
    )
    meds = {
        ln.id: ln.medicine
        for ln in session.scalars(
            select(DispensingLine).where(DispensingLine.id.in_([x.line_id for x in rls]))
        )
    }
    return {
        "id": str(r.id),
        "dispensing_id": str(d.id),
        "pharmacy": d.pharmacy,
        "date": r.return_date.isoformat(),
        "accounting_date": r.accounting_date.isoformat(),
        "currency": d.currency,
        "lines": [
            {
                "medicine": meds[rl.line_id],
                "quantity": rl.quantity,
                "price": fmt(rl.price),
                "subsidy": fmt(rl.subsidy),
                "copayment": fmt(rl.copayment),
                "cost": fmt(rl.cost),
                "lots": [
                    {"lot": lt.lot_code, "quantity": lt.quantity, "value": fmt(lt.value)}
                    for lt in lots
                    if lt.return_line_id == rl.id
                ],
            }
            for rl in rls
        ],
        "total_price": fmt(r.total_price),
        "total_subsidy": fmt(r.total_subsidy),
        "total_copayment": fmt(r.total_copayment),
        "total_cost": fmt(r.total_cost),
        "fee": fmt(r.fee),
        "entry_id": str(r.entry_id),
    }


def month_key(d: date) -> str:
    return month_of(d)


def _register() -> None:
    from contracts.service import register_subsidy_usage

    register_subsidy_usage(_capped_usage)


_register()
