"""Dispensing: the counter's one write path, for one request or a chunk of many.

The path of a chunk, each step once and downward only (``docs/architecture.md``):

1. gather the facts (``_gather``): the reference snapshot (``ledger.refcache``), the
   patients' enrolments and the terms in force (``contracts.patients.enrolments_of``,
   ``contracts.quote.quote_terms``), the medicines and quantities valid at the pharmacy
   (``stock.lots.check_take_lines``), the monthly subsidy the capped patients used
   (``dispensing.subsidy``), the lots with what is left of them, locked
   (``stock.lots.lock_lot_positions``);
2. price each request (``contracts.pricing.price_dispensing``, a pure function), pick its
   lots FEFO (``stock.lots.pick_lines``) and build its postings
   (``dispensing.model.dispensing_postings``) — ``_plan``;
3. post the entries (``ledger.posting.post_entries``) and write the rows (``_write``).

Transactions are the caller's (``ledger.uow``): this module only flushes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from contracts.patients import enrolments_of
from contracts.pricing import PricedDispensing, price_dispensing
from contracts.quote import QuoteTerms, quote_terms
from dispensing.budget import NO_BUDGETS, BudgetKey, Budgets, any_budget, locked_budgets
from dispensing.commands import Dispensed, DispenseRequest
from dispensing.errors import ClientRefReused, UnknownPharmacy
from dispensing.model import LineAmounts, LotMove, Parties, dispensing_postings
from dispensing.reads import dispensed
from dispensing.subsidy import Capped, locked_subsidy_used
from dispensing.tables import Dispensing, DispensingLine, DispensingLot
from ledger import chart, clock
from ledger.bulk import entry_ids, insert_rows, take_ids
from ledger.db import Base, is_postgres
from ledger.errors import RdfError, StaleWrite
from ledger.journal import check_event_date
from ledger.model import EntryDraft, PostingDraft
from ledger.money import format_unit_price
from ledger.posting import entry_rows, forget_known_balances, open_booking, post_entries
from ledger.refcache import reference
from ledger.refdata import LedgerRef, ledger_ref
from stock.lots import (
    LotTake,
    Pending,
    Positions,
    check_take_lines,
    lock_lot_positions,
    pick_lines,
)

_DISPENSINGS = Base.metadata.tables[Dispensing.__tablename__]
_LINES = Base.metadata.tables[DispensingLine.__tablename__]
_LOTS = Base.metadata.tables[DispensingLot.__tablename__]
_CLIENT_REFS_USED = select(_DISPENSINGS.c.client_ref).where(
    _DISPENSINGS.c.pharmacy == bindparam("pharmacy"),
    _DISPENSINGS.c.client_ref.in_(bindparam("refs", expanding=True)),
)

#: Each request's answer, in order: its result, or the refusal of the books.
Answers = list[Dispensed | RdfError | None]


def dispense(session: Session, req: DispenseRequest, *, by: str) -> Dispensed:
    """Price, pick lots, post one entry and record one dispensing: a chunk of one
    (``dispense_many``), its refusal raised."""
    (answer,) = dispense_many(session, [req], by=by)
    if isinstance(answer, RdfError):
        raise answer
    return answer


def quote(session: Session, req: DispenseRequest, *, by: str) -> Dispensed:
    """What ``dispense`` would record for ``req``, without writing anything: the same
    gathering, pricing (``contracts.pricing.price_dispensing``), lot picking and postings
    (steps 1 and 2 of ``dispense_many``), then the result built as ``_write`` would build
    it, with no id, entry or client_ref. The caller rolls back (step 1 may lock the lots
    and the capped patient's month, as a dispensing does)."""
    req = replace(req, client_ref=None)
    out: Answers = [None]
    facts = _gather(session, [req], out)
    assert facts is not None
    planned = _plan(facts, [req], out, by)
    if not planned:
        answer = out[0]
        assert isinstance(answer, RdfError)
        raise answer
    (p,) = planned.values()
    lines = _line_rows(p, 0, facts.ref.exponents[p.terms.currency])
    for n, line in enumerate(lines):
        line["id"] = n
    answer = _written(dict(p.values, id=0), lines, _lot_rows(p, [ln["id"] for ln in lines]))
    return replace(answer, budget_cuts=p.priced.budget_cuts)


def dispense_many(
    session: Session, reqs: Sequence[DispenseRequest], *, by: str
) -> list[Dispensed | RdfError]:
    """Record many dispensings in the current transaction, set-based; each answered as
    ``dispense`` would, in order, or with the error that refused it.

    Equivalent to ``dispense`` for each request in turn (each sees the stock and the
    monthly subsidy the ones before it took), with the statements of a whole chunk shared:
    one reference snapshot, one read of the patients' enrolments, one client_ref check, the
    capped patients locked and their month's subsidy read once, every lot balance involved
    locked in one statement, each month locked once, the union of kept balances locked in
    one statement, and one INSERT per table. A refused request writes nothing. An error
    raised (not returned) means the chunk as a whole could not be written: the caller rolls
    back and records the requests one at a time.
    """
    out: Answers = [None] * len(reqs)
    facts = _gather(session, reqs, out)
    assert facts is not None
    planned = _plan(facts, reqs, out, by)
    if planned:
        _write(session, facts.ref, planned, by, out)
    assert all(o is not None for o in out)
    return [o for o in out if o is not None]


# --------------------------------------------------------------------------- 1. facts


@dataclass(frozen=True)
class Facts:
    """What the requests of a chunk are priced and picked from, read once."""

    ref: LedgerRef
    terms: dict[int, QuoteTerms]  # request index -> contract, prices, scheme, fee in force
    used: dict[Capped, int]  # subsidy used so far this month, capped patients only
    positions: Positions  # lots at each (place, medicine), locked
    budgets: Budgets = NO_BUDGETS  # the schemes' budgets in force and what they used, locked


def _check_request(ref: LedgerRef, req: DispenseRequest) -> None:
    """A known pharmacy and a plausible service date (before anything is read)."""
    if req.pharmacy == chart.CENTRAL or chart.inventory(req.pharmacy) not in ref.accounts:
        raise UnknownPharmacy(
            f"no pharmacy {req.pharmacy!r}", errors={"pharmacy": ["unknown pharmacy"]}
        )
    check_event_date(req.service_date, "service_date")


def _client_ref_reused(req: DispenseRequest) -> ClientRefReused:
    return ClientRefReused(
        f"client_ref {req.client_ref!r} was already used for another dispensing at {req.pharmacy}"
    )


def _cap(t: QuoteTerms) -> Capped | None:
    """The (patient, scheme, month) whose used subsidy prices ``t``, if capped."""
    if t.capped and t.patient is not None and t.scheme is not None:
        return (t.patient, t.scheme.code, t.month)
    return None


def _budget_keys(facts: Facts, t: QuoteTerms) -> list[BudgetKey]:
    """The (scheme, period) budgets that bound the subsidy of ``t`` (functional currency
    only, as the reference snapshot holds it)."""
    if t.scheme is None or t.currency != facts.ref.functional_currency:
        return []
    return facts.budgets.keys_for(t.scheme.code, t.service_date)


def _gather(
    session: Session, reqs: Sequence[DispenseRequest], out: Answers, *, lock: bool = True
) -> Facts | None:
    """The facts of every request not refused yet; a refusal goes to ``out``.

    ``lock=False`` (the one round trip, PostgreSQL): the lots are read without locks, and
    None is returned when a request has a monthly cap or a budget in force (their used
    subsidy is read under a lock: such requests go the locking way)."""
    snapshot = reference(session)
    ref = ledger_ref(snapshot)
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
    caps = sorted({cap for t in terms.values() if (cap := _cap(t)) is not None})
    schemes = [
        (t.scheme.code, t.service_date)
        for t in terms.values()
        if t.scheme is not None and t.currency == ref.functional_currency
    ]
    if not lock and (caps or any_budget(session, schemes)):
        return None
    used = locked_subsidy_used(session, caps) if lock else {}
    budgets = locked_budgets(session, schemes, ref.functional_currency) if lock else NO_BUDGETS
    positions: Positions = {}
    for currency in sorted({t.currency for t in terms.values()}):
        wanted = {
            (accounts[i], ln.medicine)
            for i, t in terms.items()
            if t.currency == currency
            for ln in t.lines
        }
        positions.update(lock_lot_positions(session, ref, sorted(wanted), currency, lock=lock))
    return Facts(ref, terms, used, positions, budgets)


# --------------------------------------------------------------------------- 2. plan


@dataclass(frozen=True)
class Planned:
    """A dispensing priced and picked, not yet written: its row (without ids), its lines'
    lot takes and its postings."""

    req: DispenseRequest
    terms: QuoteTerms
    priced: PricedDispensing
    takes: list[list[LotTake]]
    postings: tuple[PostingDraft, ...]
    values: dict[str, Any]


def _plan(
    facts: Facts, reqs: Sequence[DispenseRequest], out: Answers, by: str
) -> dict[int, Planned]:
    """Price, pick and build the postings of each request in turn (each sees the stock
    and the subsidy the ones before it took); a refusal goes to ``out``."""
    used = dict(facts.used)
    budget_used = dict(facts.budgets.used)
    pending: Pending = {}
    planned: dict[int, Planned] = {}
    for i, t in facts.terms.items():
        req = reqs[i]
        cap = _cap(t)
        keys = _budget_keys(facts, t)
        left = (
            max(min(facts.budgets.amounts[k] - budget_used[k] for k in keys), 0) if keys else None
        )
        try:
            priced = price_dispensing(
                list(t.lines),
                t.scheme,
                t.fee_rule,
                max(used.get(cap, 0), 0) if cap else 0,
                budget_left=left,
            )
            takes = pick_lines(
                facts.positions,
                pending,
                location=req.pharmacy,
                lines=[(pl.medicine, pl.quantity) for pl in priced.lines],
                on=req.service_date,
            )
        except RdfError as exc:
            out[i] = exc
            continue
        p = planned[i] = _planned(req, t, priced, takes, by)
        if cap is not None and p.values["scheme"] == cap[1]:
            used[cap] = used.get(cap, 0) + priced.total_subsidy
        for k in keys:
            budget_used[k] += priced.total_subsidy
    return planned


def _planned(
    req: DispenseRequest,
    t: QuoteTerms,
    priced: PricedDispensing,
    takes: list[list[LotTake]],
    by: str,
) -> Planned:
    """The postings (DESIGN.md) and the row of a priced and picked dispensing."""
    lines = [
        LineAmounts(
            pl.medicine,
            tuple(LotMove(tk.lot_id, tk.quantity, tk.value) for tk in line_takes),
            pl.price,
            pl.subsidy,
            pl.copayment,
        )
        for pl, line_takes in zip(priced.lines, takes, strict=True)
    ]
    scheme = t.scheme
    model = t.contract.model
    parties = Parties(
        req.pharmacy,
        model,
        scheme.payer if scheme else None,
        scheme.code if scheme else None,
        t.currency,
    )
    values: dict[str, Any] = dict(
        pharmacy=req.pharmacy,
        patient=req.patient,
        service_date=req.service_date,
        accounting_date=req.service_date,
        client_ref=req.client_ref,
        currency=t.currency,
        model=model,
        contract_id=t.contract.id,
        scheme=scheme.code if scheme and priced.total_subsidy >= 0 else None,
        payer=scheme.payer if scheme else None,
        fee_kind=t.fee_rule.kind,
        total_price=priced.total_price,
        total_subsidy=priced.total_subsidy,
        total_copayment=priced.total_copayment,
        fee=priced.fee,
        created_at=clock.now(),
        created_by=by,
        entry_id=None,
    )
    postings = tuple(dispensing_postings(parties, lines, priced.fee))
    return Planned(req, t, priced, takes, postings, values)


# --------------------------------------------------------------------------- 3. post


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
            days_supply=p.req.days_of(i),
        )
        for i, (pl, takes) in enumerate(zip(p.priced.lines, p.takes, strict=True))
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
    values: dict[str, Any], lines: list[dict[str, Any]], lots: list[dict[str, Any]]
) -> Dispensed:
    """The result, from the rows just written (no read back)."""
    lots_by_line: dict[int, list[SimpleNamespace]] = {}
    for row in lots:
        lots_by_line.setdefault(row["line_id"], []).append(SimpleNamespace(**row))
    return dispensed(
        SimpleNamespace(**values),
        [(SimpleNamespace(**ln), lots_by_line.get(ln["id"], [])) for ln in lines],
    )


def _write(
    session: Session, ref: LedgerRef, planned: dict[int, Planned], by: str, out: Answers
) -> None:
    """Write planned dispensings: ids taken ahead (``ledger.bulk``), their entries by
    ``post_entries``, then one INSERT each for dispensings, lines and lots; their results
    go to ``out`` at their requests' positions."""
    plans = list(planned.values())
    d_ids = take_ids(session, _DISPENSINGS, len(plans))
    posted = post_entries(
        session,
        [_entry_draft(p, d) for p, d in zip(plans, d_ids, strict=True)],
        created_by=by,
        ref=ref,
    )
    rows = [
        dict(p.values, id=d, entry_id=e.id, accounting_date=e.accounting_date)
        for p, d, e in zip(plans, d_ids, posted, strict=True)
    ]
    insert_rows(session, _DISPENSINGS, rows)
    line_ids = iter(take_ids(session, _LINES, sum(len(p.takes) for p in plans)))
    per = []
    for p, d in zip(plans, d_ids, strict=True):
        lines = _line_rows(p, d, ref.exponents[p.terms.currency])
        for line in lines:
            line["id"] = next(line_ids)
        per.append((lines, _lot_rows(p, [line["id"] for line in lines])))
    insert_rows(session, _LINES, [line for lines, _lots in per for line in lines])
    insert_rows(session, _LOTS, [lot for _lines, lots in per for lot in lots])
    for values, (lines, lots), i, p in zip(rows, per, planned, plans, strict=True):
        out[i] = replace(_written(values, lines, lots), budget_cuts=p.priced.budget_cuts)


# --------------------------------------------------------------------------- one round trip


@dataclass(frozen=True)
class OneTrip:
    """Dispensings planned from unlocked reads (PostgreSQL): each request's answer, in
    order (its result, or the refusal of the books), and the rows to write in one call of
    ``rdf_write_dispensings`` (revision 0019) with :func:`write_one_trip`."""

    answers: list[Dispensed | RdfError]
    payload: dict[str, Any]


def plan_one_trip(session: Session, reqs: Sequence[DispenseRequest], *, by: str) -> OneTrip | None:
    """``dispense_many`` without its locks and writes: the same facts (read, not locked),
    the same pricing and FEFO picking, the same rows, and the lot balances each take was
    priced on, for the write to compare under its locks. None when the requests are not for
    this path (SQLite; a monthly cap or a budget; a month the snapshot does not know
    open): the caller uses ``dispense_many``."""
    if not is_postgres(session):
        return None
    out: Answers = [None] * len(reqs)
    facts = _gather(session, reqs, out, lock=False)
    if facts is None:
        return None
    if any(isinstance(o, ClientRefReused) for o in out):
        # A client_ref already in the books may be a duplicate that committed since its
        # key was looked up: the locking path claims the key first, waits on the winner's
        # unique index and replays its answer (the race tests send one client_ref at once).
        return None
    planned = _plan(facts, reqs, out, by)
    plans = list(planned.values())
    booked = [open_booking(facts.ref, p.req.service_date) for p in plans]
    if any(on is None for on in booked):
        return None
    ref = facts.ref
    d_ids = take_ids(session, _DISPENSINGS, len(plans))
    rows = entry_rows(
        session,
        [_entry_draft(p, d) for p, d in zip(plans, d_ids, strict=True)],
        entry_ids(session, len(plans)),
        [on for on in booked if on is not None],
        created_by=by,
        ref=ref,
    )
    expected: dict[tuple[str, str, int, int], int] = {}
    for p in plans:
        place = chart.inventory(p.req.pharmacy)
        for pl, takes in zip(p.priced.lines, p.takes, strict=True):
            read = {pos.lot_id: pos for pos in facts.positions.get((place, pl.medicine), ())}
            for tk in takes:
                pos = read.get(tk.lot_id)
                expected[(place, pl.medicine, tk.lot_id, 0)] = pos.units if pos else 0
                expected[(place, p.terms.currency, tk.lot_id, 0)] = pos.value if pos else 0
    keys = sorted(set(rows.keys) | set(expected))
    dispensings = [
        dict(p.values, id=d, entry_id=e["id"], accounting_date=on)
        for p, d, e, on in zip(plans, d_ids, rows.entries, rows.booked, strict=True)
    ]
    line_ids = iter(take_ids(session, _LINES, sum(len(p.takes) for p in plans)))
    all_lines: list[dict[str, Any]] = []
    all_lots: list[dict[str, Any]] = []
    for values, i, p in zip(dispensings, planned, plans, strict=True):
        lines = _line_rows(p, values["id"], ref.exponents[p.terms.currency])
        for line in lines:
            line["id"] = next(line_ids)
        lots = _lot_rows(p, [line["id"] for line in lines])
        all_lines.extend(lines)
        all_lots.extend(lots)
        out[i] = replace(_written(values, lines, lots), budget_cuts=p.priced.budget_cuts)
    payload: dict[str, Any] = dict(
        months=rows.months,
        keys=[dict(a=a, c=c, l=lk, s=st, e=expected.get((a, c, lk, st))) for a, c, lk, st in keys],
        entries=rows.entries,
        postings=rows.postings,
        dispensings=dispensings,
        lines=all_lines,
        lots=all_lots,
    )
    assert all(o is not None for o in out)
    return OneTrip([o for o in out if o is not None], payload)


_WRITE = text("SELECT rdf_write_dispensings(CAST(:p AS jsonb))")
#: SQLSTATEs of a write whose plan went stale: RDF01 (raised by the function: a lot changed
#: since it was read, a month closed), 23514 (a lot balance CHECK: stock taken meanwhile).
_STALE = {"RDF01", "23514"}


def _json_value(v: object) -> str:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    raise TypeError(f"not JSON: {type(v).__name__}")


def write_one_trip(
    session: Session,
    trip: OneTrip,
    *,
    claims: Sequence[dict[str, Any]] = (),
    audit: Sequence[dict[str, Any]] = (),
) -> None:
    """Write a planned trip in one statement, with the idempotency answers (rows of
    ``idempotency_keys`` without id) and audit events (rows of ``audit_events`` without id)
    that go with it. Raises :class:`StaleWrite` when the plan went stale: the transaction
    is then to be rolled back and the requests recorded by ``dispense_many``."""
    if not trip.payload["dispensings"] and not claims and not audit:
        return
    body = json.dumps(
        dict(trip.payload, claims=list(claims), audit=list(audit)), default=_json_value
    )
    try:
        session.execute(_WRITE, {"p": body})
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlstate", None)
        if code in _STALE:
            forget_known_balances(session)
            raise StaleWrite(str(exc.orig)) from exc
        raise
