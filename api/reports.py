"""HTTP layer of documents and exports: trial balance and account statement PDFs, and the
journal as a Beancount file. Figures come from the same functions as the JSON answers
(:func:`api.ledger.trial_balance_json`, :func:`api.ledger.statement_json`, which serialise
:mod:`reports.trial_balance` and :mod:`reports.account_statement`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from api.access import access
from api.ledger import statement_json, trial_balance_any
from api.schemas.common import (
    STATEMENT_COMMODITY,
    Date,
    StatementOut,
    Strict,
    TrialBalanceArgs,
)
from api.session import database, db_session
from ledger import clock
from ledger.errors import InvalidRequest
from ledger.journal import EARLIEST_DATE
from ledger.queries import exponents
from ledger.sealing import last_seal
from reports.account_statement import account_statement_document
from reports.exports import check_exportable, stream_beancount
from reports.pdf import render_pdf
from reports.tabular import JSON_MIME
from reports.trial_balance import trial_balance_document

blp = Blueprint(
    "reports", __name__, url_prefix="/api/v1", description="Documents (PDF) and exports"
)

BOOKS_READ = ("finance", "auditor")
PDF_MIME = "application/pdf"
#: OpenAPI schemas of the bodies that are not JSON.
BINARY = {"type": "string", "format": "binary"}
TEXT = {"type": "string"}


class StatementDocArgs(Strict):
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)
    commodity = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=24),
        metadata={"description": STATEMENT_COMMODITY},
    )


class RangeArgs(Strict):
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)


def _pdf(body: bytes, filename: str) -> Response:
    resp = Response(body, mimetype=PDF_MIME)
    resp.headers["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
    return resp


def _wants_json() -> bool:
    """JSON only when asked for it explicitly (``Accept: application/json`` preferred to
    PDF, or ``?format=json``); a browser or ``*/*`` gets the PDF."""
    if request.args.get("format") == "json":
        return True
    return request.accept_mimetypes.best_match([PDF_MIME, JSON_MIME]) == JSON_MIME


@blp.route("/reports/trial-balance.pdf")
class TrialBalancePdf(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(TrialBalanceArgs, location="query")
    @blp.response(200, BINARY, content_type=PDF_MIME)
    def get(self, args: dict[str, Any]) -> Response:
        """The trial balance as a PDF (fund, date, time made, seal of the last entry)."""
        s = db_session()
        out = trial_balance_any(args)
        as_of = args["as_of"] or clock.today()
        doc = trial_balance_document(
            out,
            exponents(s),
            fund_name=current_app.config["FUND_NAME"],
            made_at=clock.now(),
            seal=last_seal(s, args["as_of"]),
            as_of=as_of,
        )
        return _pdf(render_pdf(doc), f"trial-balance-{as_of.isoformat()}")


@blp.route("/statements/accounts/<string:code>")
class AccountStatementPdf(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(StatementDocArgs, location="query")
    @blp.response(200, BINARY, content_type=PDF_MIME)
    def get(self, args: dict[str, Any], code: str) -> Response:
        """An account statement as a PDF (or, with ``Accept: application/json``, the JSON
        of ``GET /accounts/{code}/statement`` with every line and no pagination)."""
        s = db_session()
        if _wants_json():
            out = statement_json(s, code, args, paged=False)
            out["items"] = list(out["items"])
            return Response(StatementOut().dumps(out), mimetype=JSON_MIME)
        out = statement_json(s, code, args, paged=False)
        exp = exponents(s)[out["commodity"]]
        doc = account_statement_document(
            out,
            exp,
            fund_name=current_app.config["FUND_NAME"],
            made_at=clock.now(),
            seal=last_seal(s, out["to"]),
        )
        return _pdf(
            render_pdf(doc),
            f"statement-{out['account']}-{out['from_'].isoformat()}-{out['to'].isoformat()}",
        )


@blp.route("/exports/beancount")
class BeancountExport(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(RangeArgs, location="query")
    @blp.response(200, TEXT, content_type="text/plain")
    def get(self, args: dict[str, Any]) -> Response:
        """The journal of a date range as a Beancount 3 file (streamed)."""
        start: date | None = args["from_"]
        end: date | None = args["to"]
        check_range(start, end)
        check_exportable(db_session())
        name = f"rdf-journal-{start or 'start'}-{end or 'now'}.beancount"
        chunks = stream_beancount(
            database().sessionmaker,
            start=start,
            end=end,
            title=current_app.config["FUND_NAME"],
        )
        resp = Response(stream_with_context(chunks), mimetype="text/plain")
        resp.headers["Content-Type"] = "text/plain; charset=utf-8"
        resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        resp.headers["X-Accel-Buffering"] = "no"
        return resp


#: The last day a range may reach (the months of the books are 2000-01 to 2999-12).
LATEST_DATE = date(2999, 12, 31)


def check_range(start: date | None, end: date | None) -> None:
    if start is not None and start < EARLIEST_DATE:
        raise InvalidRequest("'from' is before 2000", errors={"from": ["must be 2000 or later"]})
    if end is not None and end > LATEST_DATE:
        # The export's month-end balance assertions would run into year 10000.
        raise InvalidRequest(
            "'to' is after 2999-12-31", errors={"to": ["must be 2999-12-31 or earlier"]}
        )
    if start is not None and end is not None and end < start:
        raise InvalidRequest("'to' is before 'from'", errors={"to": ["must not be before from"]})
