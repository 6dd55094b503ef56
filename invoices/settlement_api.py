"""HTTP layer of settlements and subsidy claims (finance writes; auditor reads; a
pharmacist reads its own pharmacy's settlements)."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from invoices.settlement_tables import Settlement, SubsidyClaim
from invoices.settlements import (
    approve,
    claim,
    claim_json,
    get_claim,
    get_settlement,
    settle,
    settlement_json,
)
from ledger.schemas import PagingArgs, Strict
from ledger.web import (
    access,
    db_session,
    decode_cursor,
    encode_cursor,
    principal,
    run_write,
    visible_pharmacy,
)

blp = Blueprint("settlements", __name__, url_prefix="/api/v1",
                description="Settlements with pharmacies and subsidy claims to payers")


class SettlementIn(Strict):
    pharmacy = fields.String(required=True, validate=validate.Length(min=1, max=24))
    period = fields.String(required=True, validate=validate.Length(min=7, max=7))


class ClaimIn(Strict):
    scheme = fields.String(required=True, validate=validate.Length(min=1, max=24))
    period = fields.String(required=True, validate=validate.Length(min=7, max=7))


class SettlementListArgs(PagingArgs):
    pharmacy = fields.String(load_default=None, validate=validate.Length(min=1, max=24))
    period = fields.String(load_default=None, validate=validate.Length(min=7, max=7))


class ClaimListArgs(PagingArgs):
    scheme = fields.String(load_default=None, validate=validate.Length(min=1, max=24))
    period = fields.String(load_default=None, validate=validate.Length(min=7, max=7))


class Page(Strict):
    items = fields.List(fields.Dict())
    next_cursor = fields.String(allow_none=True)


@blp.route("/settlements")
class Settlements(MethodView):
    @access("finance")
    @blp.arguments(SettlementIn)
    @blp.response(201)
    def post(self, data: dict[str, Any]) -> Response:
        """Settle a pharmacy's month: the statement of what it holds and is owed; posts the
        netting."""
        by = principal().name
        return run_write(lambda: settle(db_session(), data["pharmacy"], data["period"], by=by),
                         lambda i: settlement_json(db_session(), i), status=201,
                         key=request.headers.get("Idempotency-Key"))

    @access("finance", "auditor", pharmacist="own")
    @blp.arguments(SettlementListArgs, location="query")
    @blp.response(200, Page)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Settlements, filtered by pharmacy and period."""
        s = db_session()
        q = select(Settlement.id).order_by(Settlement.id).limit(args["limit"] + 1)
        own = visible_pharmacy()
        if own is not None:
            q = q.where(Settlement.pharmacy == own)
        if args["pharmacy"]:
            q = q.where(Settlement.pharmacy == args["pharmacy"])
        if args["period"]:
            q = q.where(Settlement.period == args["period"])
        after = decode_cursor(args["cursor"])
        if after is not None:
            q = q.where(Settlement.id > int(after))
        ids = list(s.scalars(q))
        more = len(ids) > args["limit"]
        ids = ids[: args["limit"]]
        return {"items": [settlement_json(s, i) for i in ids],
                "next_cursor": encode_cursor(ids[-1]) if more else None}


@blp.route("/settlements/<string:settlement_id>")
class OneSettlement(MethodView):
    @access("finance", "auditor", pharmacist="own")
    @blp.response(200)
    def get(self, settlement_id: str) -> dict[str, Any]:
        """A settlement with the dispensings and returns it covers."""
        s = db_session()
        return settlement_json(s, get_settlement(s, settlement_id, visible_pharmacy()).id)


@blp.route("/settlements/<string:settlement_id>/approve")
class ApproveSettlement(MethodView):
    @access("finance")
    @blp.response(200)
    def post(self, settlement_id: str) -> Response:
        """Approve a draft settlement (it is paid once payments applied to it cover it)."""
        by = principal().name

        def work() -> int:
            s = db_session()
            st = get_settlement(s, settlement_id)
            approve(s, st, by=by)
            return st.id

        return run_write(work, lambda i: settlement_json(db_session(), i), status=200)


@blp.route("/subsidy-claims")
class Claims(MethodView):
    @access("finance")
    @blp.arguments(ClaimIn)
    @blp.response(201)
    def post(self, data: dict[str, Any]) -> Response:
        """Claim a scheme's month from its payer: an invoice of its subsidised lines."""
        by = principal().name
        return run_write(lambda: claim(db_session(), data["scheme"], data["period"], by=by),
                         lambda i: claim_json(db_session(), i), status=201,
                         key=request.headers.get("Idempotency-Key"))

    @access("finance", "auditor")
    @blp.arguments(ClaimListArgs, location="query")
    @blp.response(200, Page)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Subsidy claims, filtered by scheme and period."""
        s = db_session()
        q = select(SubsidyClaim.id).order_by(SubsidyClaim.id).limit(args["limit"] + 1)
        if args["scheme"]:
            q = q.where(SubsidyClaim.scheme == args["scheme"])
        if args["period"]:
            q = q.where(SubsidyClaim.period == args["period"])
        after = decode_cursor(args["cursor"])
        if after is not None:
            q = q.where(SubsidyClaim.id > int(after))
        ids = list(s.scalars(q))
        more = len(ids) > args["limit"]
        ids = ids[: args["limit"]]
        return {"items": [claim_json(s, i) for i in ids],
                "next_cursor": encode_cursor(ids[-1]) if more else None}


@blp.route("/subsidy-claims/<string:claim_id>")
class OneClaim(MethodView):
    @access("finance", "auditor")
    @blp.response(200)
    def get(self, claim_id: str) -> dict[str, Any]:
        """A subsidy claim with its lines."""
        s = db_session()
        return claim_json(s, get_claim(s, claim_id).id)
