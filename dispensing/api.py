"""HTTP layer of dispensing: one dispensing, a batch from an offline phone, returns, reads.

A pharmacist dispenses and reads only for its own pharmacy; finance for any; auditors read.
``client_ref`` is unique per pharmacy and is the idempotency key when no
``Idempotency-Key`` header is sent; a batch stores each record's answer under its
``client_ref`` too, so a replayed batch (or a single replay of one of its records) posts
nothing new and gets the first answer back.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError

from dispensing.schemas import (
    BatchIn,
    BatchOut,
    DispensingIn,
    DispensingOut,
    DispensingPage,
    ListArgs,
    ReturnIn,
    ReturnOut,
)
from dispensing.service import (
    DispenseRequest,
    dispense_answer,
    dispensing_json,
    dispensings_json,
    get_dispensing,
    return_items,
    return_json,
)
from dispensing.tables import Dispensing
from ledger import clock
from ledger.db import is_retryable
from ledger.errors import Forbidden, NotFound, RdfError
from ledger.posting import request_hash
from ledger.tables import IdempotencyKey
from ledger.web import (
    access,
    claim_key,
    db_session,
    flatten_messages,
    id_page,
    principal,
    replay_or_conflict,
    run_write,
    stored_answer,
    visible_pharmacy,
)

blp = Blueprint("dispensings", __name__, url_prefix="/api/v1",
                description="Dispensing (pharmacists for their own pharmacy; finance for any)")


def _scope(pharmacy: str) -> str:
    return f"dispensings:{pharmacy}"


def _hash(raw: Any) -> str:
    return request_hash({"kind": "dispensing", "body": raw})


def _check_own(pharmacy: str) -> None:
    p = principal()
    if p.is_pharmacist and p.pharmacy != pharmacy:
        raise Forbidden(f"a pharmacist of {p.pharmacy} may not record dispensings of "
                        f"{pharmacy}")


def _request(data: dict[str, Any]) -> DispenseRequest:
    return DispenseRequest(
        pharmacy=data["pharmacy"], patient=data["patient"], service_date=data["service_date"],
        client_ref=data["client_ref"],
        items=tuple((i["medicine"], i["quantity"]) for i in data["items"]),
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

        def work() -> dict[str, Any]:
            return dispense_answer(db_session(), _request(data), by=by)

        return run_write(work, lambda answer: answer, status=201,
                         key=key, scope=_scope(data["pharmacy"]),
                         body_hash=_hash(request.get_json(silent=True)))

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
        return {"items": dispensings_json(s, ids), "next_cursor": next_cursor}


@blp.route("/dispensings/<string:dispensing_id>")
class OneDispensing(MethodView):
    @access("finance", "auditor", pharmacist="own")
    @blp.response(200, DispensingOut)
    def get(self, dispensing_id: str) -> dict[str, Any]:
        """A dispensing with its lines, lots and returns."""
        s = db_session()
        d = get_dispensing(s, dispensing_id, visible_pharmacy())
        return dispensing_json(s, d.id, with_returns=True)


@blp.route("/dispensings/<string:dispensing_id>/returns")
class Returns(MethodView):
    @access("finance", pharmacist="own")
    @blp.arguments(ReturnIn)
    @blp.response(201, ReturnOut)
    def post(self, data: dict[str, Any], dispensing_id: str) -> Response:
        """Return all or part of a dispensing (a reversing entry, on its own date)."""
        by = principal().name
        scope_pharmacy = visible_pharmacy()

        def work() -> int:
            s = db_session()
            d = get_dispensing(s, dispensing_id, scope_pharmacy)
            return return_items(s, d, [(i["medicine"], i["quantity"]) for i in data["items"]],
                                data["date"], by=by)

        return run_write(work, lambda i: return_json(db_session(), i), status=201,
                         key=request.headers.get("Idempotency-Key"))


def _problem_body(exc: RdfError) -> dict[str, Any]:
    body: dict[str, Any] = {"type": f"/problems/{exc.slug}", "title": exc.title,
                            "status": exc.status, "detail": exc.detail}
    if exc.errors:
        body["errors"] = exc.errors
    body.update({k: v for k, v in exc.extra.items() if v is not None})
    return body


def _one_record(index: int, raw: Any, by: str) -> dict[str, Any]:
    """Process one record of a batch in a transaction of its own; never raises an RdfError.

    One transaction per record: locks are held for one dispensing only (a batch of 1,000 in
    one transaction held them for minutes and deadlocked against another pharmacy's batch),
    a record the books refuse sinks nothing else, and a batch cut off half-way has kept
    what it committed — the phone sends it again and the client_refs replay.
    """
    s = db_session()
    result: dict[str, Any] = {"index": index, "client_ref": None, "dispensing": None,
                              "problem": None}
    try:
        data = DispensingIn().load(raw if isinstance(raw, dict) else {"_": raw})
    except ValidationError as exc:
        errors = flatten_messages(exc.messages)
        first = next(iter(errors.items()))
        result.update(status=422, problem={
            "type": "/problems/invalid-request", "title": "The record has invalid fields",
            "status": 422, "detail": f"{first[0]}: {first[1][0]}", "errors": errors})
        return result
    result["client_ref"] = data["client_ref"]
    scope, key, h = _scope(data["pharmacy"]), data["client_ref"], _hash(raw)
    for _attempt in range(8):
        try:
            _check_own(data["pharmacy"])
            claim = None
            if key is not None:  # the same claim-then-work as a single POST (run_write)
                row = stored_answer(s, scope, key, h, conflict=(
                    f"client_ref {key!r} was already used with a different record"))
                if row is not None:
                    s.rollback()
                    result.update(status=row.status_code, replayed=True,
                                  dispensing=json.loads(row.response_body))
                    return result
                claim = claim_key(s, scope, key, h)
            body = dispense_answer(s, _request(data), by=by)
            text = json.dumps(body, default=str)
            if claim is not None:
                claim.status_code = 201
                claim.response_body = text
            s.commit()
            result.update(status=201, dispensing=json.loads(text))
            return result
        except RdfError as exc:
            s.rollback()
            result.update(status=exc.status, problem=_problem_body(exc))
            return result
        except IntegrityError:
            s.rollback()  # a concurrent request took this client_ref: look again, replay it
        except DBAPIError as exc:
            s.rollback()
            if not is_retryable(exc):
                raise
    result.update(status=409, problem={"type": "/problems/conflict", "title": "Conflict",
                                       "status": 409, "detail": "the record could not be "
                                       "stored because of concurrent changes; send it again"})
    return result


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
        batch_scope = f"dispensings-batch:{principal().pharmacy or principal().user_id}"
        body_hash = request_hash({"path": request.path, "body": request.get_json(silent=True)})
        if key is not None:
            replay = replay_or_conflict(s, batch_scope, key, body_hash)
            s.rollback()
            if replay is not None:
                return replay
        results = [_one_record(i, raw, by) for i, raw in enumerate(records)]
        out = BatchOut().dump({
            "results": results,
            "created": sum(1 for r in results if r["status"] == 201 and not r.get("replayed")),
            "replayed": sum(1 for r in results if r.get("replayed")),
            "failed": sum(1 for r in results if r["status"] >= 400),
        })
        text = json.dumps(out, default=str)
        if key is not None:
            try:
                s.add(IdempotencyKey(scope=batch_scope, key=key, request_hash=body_hash,
                                     status_code=200, response_body=text,
                                     created_at=clock.now()))
                s.commit()
            except IntegrityError:
                s.rollback()  # the same batch, sent twice at once: answer the first's reply
                replay = replay_or_conflict(s, batch_scope, key, body_hash)
                if replay is not None:
                    return replay
        after = current_app.extensions.get("rdf_after_commit")
        if after is not None:
            after()  # seal once for the whole batch
        return Response(text, status=200, mimetype="application/json")
