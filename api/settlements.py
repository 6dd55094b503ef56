"""HTTP layer of settlements and subsidy claims (finance writes; auditor reads; a
pharmacist reads its own pharmacy's settlements)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from api.access import access, ensure_pharmacy, principal, visible_pharmacy
from api.cursors import id_page
from api.problems import problem
from api.schemas.common import Date, PagingArgs, Period, Strict
from api.session import db_session
from api.tabular import file_response, respond
from api.writes import run_write
from invoices.settlement_tables import Settlement, SubsidyClaim
from invoices.settlements import (
    approve,
    claim,
    claim_json,
    claims_query,
    get_claim,
    get_settlement,
    settle,
    settlement_json,
    settlements_query,
)
from ledger import clock
from ledger.errors import InvalidRequest
from ledger.model import month_bounds
from ledger.sealing import last_seal
from reports.fund import fund_health
from reports.pdf import render_pdf
from reports.statements import (
    claim_document,
    claim_report,
    cost_recovery_by_month,
    fund_health_document,
    pharmacy_statement,
    pharmacy_statement_document,
    pharmacy_statement_report,
    settlement_document,
)

blp = Blueprint(
    "settlements",
    __name__,
    url_prefix="/api/v1",
    description="Settlements with pharmacies and subsidy claims to payers",
)


class SettlementIn(Strict):
    pharmacy = fields.String(required=True, validate=validate.Length(min=1, max=24))
    period = Period(required=True)


class ClaimIn(Strict):
    scheme = fields.String(required=True, validate=validate.Length(min=1, max=24))
    period = Period(required=True)


class SettlementListArgs(PagingArgs):
    pharmacy = fields.String(load_default=None, validate=validate.Length(min=1, max=24))
    period = Period(load_default=None)


class ClaimListArgs(PagingArgs):
    scheme = fields.String(load_default=None, validate=validate.Length(min=1, max=24))
    period = Period(load_default=None)


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
        return run_write(
            lambda: settle(db_session(), data["pharmacy"], data["period"], by=by),
            lambda i: settlement_json(db_session(), i),
            status=201,
            key=request.headers.get("Idempotency-Key"),
        )

    @access("finance", "auditor", pharmacist="own")
    @blp.arguments(SettlementListArgs, location="query")
    @blp.response(200, Page)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Settlements, filtered by pharmacy and period."""
        s = db_session()
        q = settlements_query(
            visible_to=visible_pharmacy(), pharmacy=args["pharmacy"], period=args["period"]
        )
        ids, next_cursor = id_page(s, q, Settlement.id, args["limit"], args["cursor"])
        return {"items": [settlement_json(s, i) for i in ids], "next_cursor": next_cursor}


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
        return run_write(
            lambda: claim(db_session(), data["scheme"], data["period"], by=by),
            lambda i: claim_json(db_session(), i),
            status=201,
            key=request.headers.get("Idempotency-Key"),
        )

    @access("finance", "auditor")
    @blp.arguments(ClaimListArgs, location="query")
    @blp.response(200, Page)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Subsidy claims, filtered by scheme and period."""
        s = db_session()
        q = claims_query(scheme=args["scheme"], period=args["period"])
        ids, next_cursor = id_page(s, q, SubsidyClaim.id, args["limit"], args["cursor"])
        return {"items": [claim_json(s, i) for i in ids], "next_cursor": next_cursor}


@blp.route("/subsidy-claims/<string:claim_id>")
class OneClaim(MethodView):
    @access("finance", "auditor")
    @blp.response(200)
    def get(self, claim_id: str) -> Any:
        """A subsidy claim with its lines (JSON, or CSV/XLSX by Accept)."""
        s = db_session()
        out = claim_json(s, get_claim(s, claim_id).id)
        return respond(lambda: claim_report(out), out, filename=f"subsidy-claim-{out['id']}")


# --------------------------------------------------------------------------- documents

PDF_MIME = "application/pdf"
FORMATS = {
    "pdf": PDF_MIME,
    "json": "application/json",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def document_format() -> str | None:
    """PDF unless ``?format=`` or ``Accept`` asks for JSON, CSV or XLSX."""
    asked = request.args.get("format")
    if asked is not None:
        return asked if asked in FORMATS else None
    if not request.accept_mimetypes:
        return "pdf"
    best = request.accept_mimetypes.best_match(list(FORMATS.values()))
    return next((f for f, m in FORMATS.items() if m == best), None)


def pdf_response(doc_builder: Any, out: dict[str, Any], end: Any, filename: str) -> Response:

    s = db_session()
    doc = doc_builder(
        out, fund_name=current_app.config["FUND_NAME"], made_at=clock.now(), seal=last_seal(s, end)
    )
    resp = Response(render_pdf(doc), mimetype=PDF_MIME)
    resp.headers["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
    return resp


class PeriodArgs(Strict):
    # Checked in the view, after ownership: another pharmacy's statement is a 404 first.
    period = fields.String(load_default=None, validate=validate.Length(max=40))


@blp.route("/statements/pharmacies/<string:code>")
class PharmacyStatement(MethodView):
    @access("finance", "auditor", pharmacist="own")
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200)
    def get(self, args: dict[str, Any], code: str) -> Any:
        """A pharmacy's month: PDF, or JSON/CSV/XLSX by Accept (or ?format=)."""

        ensure_pharmacy(code)
        if not args["period"]:
            raise InvalidRequest(
                "name the month: ?period=YYYY-MM", errors={"period": ["required, as YYYY-MM"]}
            )
        fmt = document_format()
        if fmt is None:
            return problem(
                406,
                "Not Acceptable",
                "this statement is available as " + ", ".join(FORMATS.values()),
                "not-acceptable",
            )
        out = pharmacy_statement(db_session(), code, args["period"])
        if fmt == "json":
            return out
        name = f"statement-{code}-{args['period']}"
        if fmt == "pdf":
            return pdf_response(
                pharmacy_statement_document, out, month_bounds(args["period"])[1], name
            )
        return file_response(pharmacy_statement_report(out), fmt, filename=name)  # type: ignore[arg-type]


@blp.route("/settlements/<string:settlement_id>.pdf")
class SettlementPdf(MethodView):
    @access("finance", "auditor", pharmacist="own")
    @blp.response(200)
    def get(self, settlement_id: str) -> Response:
        """The settlement as a PDF."""

        s = db_session()
        st = get_settlement(s, settlement_id, visible_pharmacy())
        return pdf_response(
            settlement_document,
            settlement_json(s, st.id),
            month_bounds(st.period)[1],
            f"settlement-{st.id}",
        )


@blp.route("/subsidy-claims/<string:claim_id>.pdf")
class ClaimPdf(MethodView):
    @access("finance", "auditor")
    @blp.response(200)
    def get(self, claim_id: str) -> Response:
        """The subsidy claim invoice as a PDF."""

        s = db_session()
        c = get_claim(s, claim_id)
        return pdf_response(
            claim_document, claim_json(s, c.id), month_bounds(c.period)[1], f"subsidy-claim-{c.id}"
        )


class RangeArgs(Strict):
    from_ = Date(data_key="from", required=True)
    to = Date(required=True)


@blp.route("/reports/fund-health.pdf")
class FundHealthPdf(MethodView):
    @access("finance", "auditor")
    @blp.arguments(RangeArgs, location="query")
    @blp.response(200)
    def get(self, args: dict[str, Any]) -> Response:
        """Fund health as a PDF, with cost recovery by month as a chart."""

        start, end = args["from_"], args["to"]
        if end < start:
            raise InvalidRequest(
                "'to' is before 'from'", errors={"to": ["must not be before from"]}
            )
        if (end - start).days > 3660:
            raise InvalidRequest("at most ten years at a time", errors={"to": ["range too long"]})
        s = db_session()
        out = fund_health(s, start, end)
        by_month = cost_recovery_by_month(s, start, end)
        return pdf_response(
            lambda o, **kw: fund_health_document(o, by_month, **kw),
            out,
            end,
            f"fund-health-{start}-{end}",
        )
