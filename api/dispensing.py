"""HTTP layer of dispensing: one dispensing, a batch from an offline phone, returns, reads.

A pharmacist dispenses and reads only for its own pharmacy; finance for any; auditors read.
``client_ref`` is unique per pharmacy and is the idempotency key when no
``Idempotency-Key`` header is sent; a batch stores each record's answer under its
``client_ref`` too, so a replayed batch (or a single replay of one of its records) posts
nothing new and gets the first answer back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from api.access import access, principal, visible_pharmacy
from api.cursors import id_page
from api.problems import flatten_messages
from api.schemas.dispensing import (
    BatchIn,
    BatchOut,
    DispensingIn,
    DispensingOut,
    DispensingPage,
    ListArgs,
    ReturnIn,
    ReturnOut,
)
from api.session import db_session
from api.writes import OneTripWrite, owner_scope, replay_or_conflict, run_write
from dispensing.commands import Dispensed, DispenseRequest, LotShare, Returned, ReturnRequest
from dispensing.reads import dispensings, get_dispensing, returns_of
from dispensing.returns import return_items
from dispensing.service import dispense, dispense_many, plan_one_trip, quote, write_one_trip
from dispensing.tables import Dispensing
from ledger import chart, clock
from ledger.db import is_retryable
from ledger.errors import Forbidden, IdempotencyConflict, NotFound, RdfError, StaleWrite
from ledger.idempotency import (
    answer_claims,
    answer_key,
    claim_key,
    claim_keys,
    drop_claims,
    store_answer,
    stored_answer,
    stored_answers,
)
from ledger.money import format_amount
from ledger.posting import request_hash
from ledger.uow import UnitOfWork
from ledger.uow import run as uow_run

blp = Blueprint(
    "dispensings",
    __name__,
    url_prefix="/api/v1",
    description="Dispensing (pharmacists for their own pharmacy; finance for any)",
)


def _scope(pharmacy: str) -> str:
    return f"dispensings:{pharmacy}"


def _hash(raw: Any) -> str:
    return request_hash({"kind": "dispensing", "body": raw})


def _check_own(pharmacy: str) -> None:
    p = principal()
    if p.is_pharmacist and p.pharmacy != pharmacy:
        raise Forbidden(f"a pharmacist of {p.pharmacy} may not record dispensings of {pharmacy}")


def _lots(lots: tuple[LotShare, ...], exp: int) -> list[dict[str, Any]]:
    return [
        {"lot": lot.lot_code, "quantity": lot.quantity, "value": format_amount(lot.value, exp)}
        for lot in lots
    ]


def dispensing_body(d: Dispensed) -> dict[str, Any]:
    """The API's view of one dispensing (API.md), keys in the order of the answer."""
    exp = chart.exponent(d.currency)

    def fmt(v: int) -> str:
        return format_amount(v, exp)

    body: dict[str, Any] = {
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
                # echoed only when the line carries it (care/): answers without it unchanged
                **({} if ln.days_supply is None else {"days_supply": ln.days_supply}),
                "lots": _lots(ln.lots, exp),
            }
            for ln in d.lines
        ],
        "total_price": fmt(d.total_price),
        "total_subsidy": fmt(d.total_subsidy),
        "total_copayment": fmt(d.total_copayment),
        "fee": fmt(d.fee),
        "entry_id": str(d.entry_id),
    }
    if d.budget_cuts is not None:  # a scheme's budget cut the subsidy (DESIGN.md "Funders")
        body["budget_exhausted"] = True
        for line, cut in zip(body["lines"], d.budget_cuts, strict=True):
            line["budget_cut"] = fmt(cut)
    return body


def return_body(r: Returned) -> dict[str, Any]:
    """The API's view of one return (API.md)."""
    exp = chart.exponent(r.currency)

    def fmt(v: int) -> str:
        return format_amount(v, exp)

    return {
        "id": str(r.id),
        "dispensing_id": str(r.dispensing_id),
        "pharmacy": r.pharmacy,
        "date": r.date.isoformat(),
        "accounting_date": r.accounting_date.isoformat(),
        "currency": r.currency,
        "lines": [
            {
                "medicine": ln.medicine,
                "quantity": ln.quantity,
                "price": fmt(ln.price),
                "subsidy": fmt(ln.subsidy),
                "copayment": fmt(ln.copayment),
                "cost": fmt(ln.cost),
                "lots": _lots(ln.lots, exp),
            }
            for ln in r.lines
        ],
        "total_price": fmt(r.total_price),
        "total_subsidy": fmt(r.total_subsidy),
        "total_copayment": fmt(r.total_copayment),
        "total_cost": fmt(r.total_cost),
        "fee": fmt(r.fee),
        "entry_id": str(r.entry_id),
    }


def _request(data: dict[str, Any]) -> DispenseRequest:
    return DispenseRequest(
        pharmacy=data["pharmacy"],
        patient=data["patient"],
        service_date=data["service_date"],
        client_ref=data["client_ref"],
        items=tuple((i["medicine"], i["quantity"]) for i in data["items"]),
        days_supply=tuple(i.get("days_supply") for i in data["items"]),
    )


@blp.route("/dispensings")
class Dispensings(MethodView):
    @access("finance", pharmacist="own")
    @blp.arguments(DispensingIn)
    @blp.response(201, DispensingOut)
    def post(self, data: dict[str, Any]) -> Response:
        """Record a dispensing: priced, lots picked FEFO, one journal entry."""
        _check_own(data["pharmacy"])
        key = data["client_ref"] or request.headers.get("Idempotency-Key")
        by = principal().name

        def work() -> Dispensed:
            return dispense(db_session(), _request(data), by=by)

        def one_trip() -> tuple[Dispensed, OneTripWrite] | None:
            s = db_session()
            trip = plan_one_trip(s, [_request(data)], by=by)
            if trip is None:
                return None
            (answer,) = trip.answers
            if isinstance(answer, RdfError):
                raise answer
            return answer, lambda claims, audit: write_one_trip(s, trip, claims=claims, audit=audit)

        try:
            return run_write(
                work,
                dispensing_body,
                status=201,
                key=key,
                scope=_scope(data["pharmacy"]),
                body_hash=_hash(request.get_json(silent=True)),
                one_trip=one_trip,
            )
        except IdempotencyConflict:
            if data["client_ref"] is None:  # the key came from the Idempotency-Key header
                raise
            raise _conflict(data["client_ref"]) from None

    @access("finance", "auditor", pharmacist="own")
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, DispensingPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Dispensings filtered by pharmacy, patient and service date (paginated)."""
        s = db_session()
        own = visible_pharmacy()
        pharmacy = args["pharmacy"]
        if own is not None:
            if pharmacy is not None and pharmacy != own:
                raise NotFound(f"no pharmacy {pharmacy!r}")
            pharmacy = own
        q = select(Dispensing.id)
        if pharmacy:
            q = q.where(Dispensing.pharmacy == pharmacy)
        if args["patient"]:
            q = q.where(Dispensing.patient == args["patient"])
        if args["from_"]:
            q = q.where(Dispensing.service_date >= args["from_"])
        if args["to"]:
            q = q.where(Dispensing.service_date <= args["to"])
        ids, next_cursor = id_page(s, q, Dispensing.id, args["limit"], args["cursor"])
        return {
            "items": [dispensing_body(d) for d in dispensings(s, ids)],
            "next_cursor": next_cursor,
        }


#: Fields of a recorded dispensing a quote does not have.
NOT_QUOTED = ("id", "entry_id", "accounting_date", "client_ref")


@blp.route("/dispensings/quote")
class Quote(MethodView):
    @access("finance", pharmacist="own")
    @blp.arguments(DispensingIn)
    @blp.response(200, DispensingOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Price a dispensing without posting it: lines, totals, fee, the lots it would take."""
        _check_own(data["pharmacy"])
        s = db_session()
        try:
            quoted = quote(s, _request(data), by=principal().name)
        finally:
            s.rollback()
        return {k: v for k, v in dispensing_body(quoted).items() if k not in NOT_QUOTED}


@blp.route("/dispensings/<string:dispensing_id>")
class OneDispensing(MethodView):
    @access("finance", "auditor", pharmacist="own")
    @blp.response(200, DispensingOut)
    def get(self, dispensing_id: str) -> dict[str, Any]:
        """A dispensing with its lines, lots and returns."""
        s = db_session()
        d = get_dispensing(s, dispensing_id, visible_pharmacy())
        (found,) = dispensings(s, [d.id])
        body = dispensing_body(found)
        body["returns"] = [return_body(r) for r in returns_of(s, d.id)]
        return body


@blp.route("/dispensings/<string:dispensing_id>/returns")
class Returns(MethodView):
    @access("finance", pharmacist="own")
    @blp.arguments(ReturnIn)
    @blp.response(201, ReturnOut)
    def post(self, data: dict[str, Any], dispensing_id: str) -> Response:
        """Return all or part of a dispensing (a reversing entry, on its own date)."""
        by = principal().name
        cmd = ReturnRequest(
            dispensing_id=dispensing_id,
            items=tuple((i["medicine"], i["quantity"]) for i in data["items"]),
            on=data["date"],
            pharmacy_scope=visible_pharmacy(),
        )
        return run_write(
            lambda: return_items(db_session(), cmd, by=by),
            return_body,
            status=201,
            key=request.headers.get("Idempotency-Key"),
        )


def _problem_body(exc: RdfError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{exc.slug}",
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
    }
    if exc.errors:
        body["errors"] = exc.errors
    body.update({k: v for k, v in exc.extra.items() if v is not None})
    return body


@dataclass
class _Record:
    """One record of a batch, parsed: its answer so far (``result``), and when it is valid
    and allowed, what to dispense under which idempotency key."""

    index: int
    raw: Any
    result: dict[str, Any]
    request: DispenseRequest | None = None
    key: str | None = None
    scope: str = ""
    body_hash: str = ""
    #: Answered "send it again" (the database busy or down past the retries): not final.
    again: bool = False


#: One schema for every record (building a marshmallow schema costs more than a load).
_RECORD = DispensingIn()


def _parse(index: int, raw: Any) -> _Record:
    """Validate one record (422 / 403 answers are final here)."""
    result: dict[str, Any] = {
        "index": index,
        "client_ref": None,
        "dispensing": None,
        "problem": None,
    }
    rec = _Record(index, raw, result)
    try:
        data = _RECORD.load(raw if isinstance(raw, dict) else {"_": raw})
    except ValidationError as exc:
        errors = flatten_messages(exc.messages)
        first = next(iter(errors.items()))
        result.update(
            status=422,
            problem={
                "type": "/problems/invalid-request",
                "title": "The record has invalid fields",
                "status": 422,
                "detail": f"{first[0]}: {first[1][0]}",
                "errors": errors,
            },
        )
        return rec
    result["client_ref"] = data["client_ref"]
    try:
        _check_own(data["pharmacy"])
    except RdfError as exc:
        result.update(status=exc.status, problem=_problem_body(exc))
        return rec
    rec.request, rec.key = _request(data), data["client_ref"]
    rec.scope, rec.body_hash = _scope(data["pharmacy"]), _hash(raw)
    return rec


class _ClientRefConflict(IdempotencyConflict):
    """The idempotency conflict of a dispensing whose key is its ``client_ref``: the same
    problem type, named after what the client sent."""

    title = "client_ref reused with a different dispensing"


def _conflict(key: str) -> IdempotencyConflict:
    """The conflict of a ``client_ref`` sent again with another dispensing (the key the
    client chose is named as the client sent it, not as an "idempotency key")."""
    return _ClientRefConflict(
        f"client_ref {key!r} was already used with a different dispensing: send the same "
        "record again to get its first answer, or a new client_ref for a new dispensing",
        errors={"client_ref": ["already used with a different dispensing"]},
    )


_BUSY = {
    "type": "/problems/conflict",
    "title": "Conflict",
    "status": 409,
    "detail": "the record could not be stored because of concurrent changes; send it again",
}


def _one_record(rec: _Record, by: str) -> None:
    """Process one record in a unit of work of its own; never raises an RdfError.

    One transaction per record: a record the books refuse sinks nothing else, and a batch
    cut off half-way has kept what it committed — the phone sends it again and the
    client_refs replay. (``_chunk`` does many records per transaction and comes here when
    a chunk cannot be written whole.) The same claim-then-work as a single POST
    (``run_write``); a key taken concurrently is looked up again and replayed.
    """
    s = db_session()
    key, req = rec.key, rec.request
    assert req is not None

    def attempt(uow: UnitOfWork) -> dict[str, Any]:
        if key is not None:
            row = stored_answer(s, rec.scope, key, rec.body_hash, conflict=_conflict(key).detail)
            if row is not None:
                # Read before the rollback: it expires the row, and reading it again
                # would open a transaction (on SQLite, the write lock) nobody closes.
                uow.discard()
                return dict(
                    status=row.status_code,
                    replayed=True,
                    dispensing=json.loads(row.response_body),
                )
            claim_key(s, rec.scope, key, rec.body_hash)
        text = json.dumps(dispensing_body(dispense(s, req, by=by)), default=str)
        if key is not None:
            answer_key(s, rec.scope, key, 201, text)
        return dict(status=201, dispensing=json.loads(text))

    try:
        rec.result.update(uow_run(s, attempt, attempts=8, retry_integrity=key is not None))
    except IdempotencyConflict as exc:  # answered as the chunked way answers it
        conflict = _conflict(key) if key is not None else exc
        rec.result.update(status=conflict.status, problem=_problem_body(conflict))
    except RdfError as exc:
        rec.result.update(status=exc.status, problem=_problem_body(exc))
    except IntegrityError:
        rec.result.update(status=409, problem=dict(_BUSY))
        rec.again = True
    except DBAPIError as exc:
        if not is_retryable(exc):
            raise
        rec.result.update(status=409, problem=dict(_BUSY))
        rec.again = True


def _chunk(recs: list[_Record], by: str) -> None:
    """Many records in one unit of work (``dispense_many``), with the single path's
    idempotency: stored answers replayed, then every key claimed before the work (a
    concurrent sender of one of them queues on its claim), a refused record's claim
    dropped. If the chunk cannot be written whole (a key claimed concurrently, a deadlock
    retried out, a refusal only the books see), each record goes the one-at-a-time way."""
    s = db_session()

    def attempt(_uow: UnitOfWork) -> list[tuple[_Record, dict[str, Any] | RdfError]]:
        keyed = [r for r in recs if r.key is not None]
        stored = stored_answers(s, [(r.scope, r.key) for r in keyed if r.key is not None])
        work: list[_Record] = []
        for r in recs:
            row = stored.get((r.scope, r.key)) if r.key is not None else None
            if row is None:
                work.append(r)
            elif row.request_hash != r.body_hash:
                assert r.key is not None
                r.result.update(status=409, problem=_problem_body(_conflict(r.key)))
            else:
                r.result.update(
                    status=row.status_code,
                    replayed=True,
                    dispensing=json.loads(row.response_body),
                )
        reqs = [r.request for r in work if r.request is not None]
        trip = plan_one_trip(s, reqs, by=by)
        if trip is not None:
            done = [
                (r, a if isinstance(a, RdfError) else dispensing_body(a))
                for r, a in zip(work, trip.answers, strict=True)
            ]
            now = clock.now()
            rows = [
                dict(
                    scope=r.scope,
                    key=r.key,
                    request_hash=r.body_hash,
                    status_code=201,
                    response_body=json.dumps(answer, default=str),
                    created_at=now,
                )
                for r, answer in done
                if r.key is not None and not isinstance(answer, RdfError)
            ]
            try:
                write_one_trip(s, trip, claims=rows)
            except StaleWrite:
                s.rollback()
            else:
                return done
        keyed = [r for r in work if r.key is not None]
        claims = dict(
            zip(
                (r.index for r in keyed),
                claim_keys(s, [(r.scope, r.key, r.body_hash) for r in keyed if r.key is not None]),
                strict=True,
            )
        )
        answers = dispense_many(s, reqs, by=by)
        done = [
            (r, a if isinstance(a, RdfError) else dispensing_body(a))
            for r, a in zip(work, answers, strict=True)
        ]
        texts: dict[int, str] = {}
        refused: list[int] = []
        for r, answer in done:
            if isinstance(answer, RdfError):
                if r.index in claims:
                    refused.append(claims[r.index])
            elif r.index in claims:
                texts[r.index] = json.dumps(answer, default=str)
        drop_claims(s, refused)
        answer_claims(s, 201, [(claims[i], t) for i, t in texts.items()])
        return done

    try:
        done = uow_run(s, attempt, attempts=3)
    except (IntegrityError, RdfError):
        pass
    except DBAPIError as exc:
        if not is_retryable(exc):
            raise
    else:
        for r, answer in done:
            if isinstance(answer, RdfError):
                r.result.update(status=answer.status, problem=_problem_body(answer))
            else:  # JSON types only (strings, integers, None): as stored, as replayed
                r.result.update(status=201, dispensing=answer)
        return
    for r in recs:
        r.result.pop("status", None)
        r.result.pop("replayed", None)
        r.result["problem"] = r.result["dispensing"] = None
        _one_record(r, by)


def _chunks(recs: list[_Record], size: int) -> list[list[_Record]]:
    """Consecutive valid records, ``size`` at most per chunk, and a key at most once per
    chunk (a record re-using an earlier record's key starts a new chunk, so it replays it)."""
    out: list[list[_Record]] = []
    current: list[_Record] = []
    keys: set[tuple[str, str]] = set()
    for r in recs:
        k = (r.scope, r.key) if r.key is not None else None
        if len(current) >= size or (k is not None and k in keys):
            out.append(current)
            current, keys = [], set()
        current.append(r)
        if k is not None:
            keys.add(k)
    if current:
        out.append(current)
    return out


def _store_batch_answer(s: Session, scope: str, key: str, body_hash: str, text: str) -> None:
    store_answer(s, scope, key, body_hash, 200, text)


@blp.route("/dispensings/batch")
class Batch(MethodView):
    @access("finance", pharmacist="own")
    @blp.arguments(BatchIn)
    @blp.response(200, BatchOut)
    def post(self, data: dict[str, Any]) -> Response:
        """Up to 1,000 dispensings from an offline phone, each answered in order."""
        by = principal().name
        records = data["dispensings"]
        s = db_session()
        key = request.headers.get("Idempotency-Key")
        batch_scope = f"dispensings-batch:{owner_scope()}"
        body_hash = request_hash({"path": request.path, "body": request.get_json(silent=True)})
        if key is not None:
            replay = replay_or_conflict(s, batch_scope, key, body_hash)
            s.rollback()
            if replay is not None:
                return replay
        recs = [_parse(i, raw) for i, raw in enumerate(records)]
        valid = [r for r in recs if r.request is not None]
        size = int(current_app.config["RDF_BATCH_CHUNK"])
        if size > 1:
            for chunk in _chunks(valid, size):
                _chunk(chunk, by)
        else:
            for r in valid:
                _one_record(r, by)
        results = [r.result for r in recs]
        out = BatchOut().dump(
            {
                "results": results,
                "created": sum(1 for r in results if r["status"] == 201 and not r.get("replayed")),
                "replayed": sum(1 for r in results if r.get("replayed")),
                "failed": sum(1 for r in results if r["status"] >= 400),
            }
        )
        text = json.dumps(out, default=str)
        # A batch key replays its answer whole: an answer telling a record to be sent again
        # is not stored under it, or sending the batch again could never get that record in
        # (the records that were written replay by their own keys when it comes again).
        if key is not None and not any(r.again for r in recs):
            try:
                uow_run(s, lambda _uow: _store_batch_answer(s, batch_scope, key, body_hash, text))
            except IntegrityError:  # the same batch, sent twice at once: answer the first's
                replay = replay_or_conflict(s, batch_scope, key, body_hash)
                if replay is not None:
                    return replay
        after = current_app.extensions.get("rdf_after_commit")
        if after is not None:
            after()  # seal once for the whole batch
        return Response(text, status=200, mimetype="application/json")
