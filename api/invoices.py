"""HTTP layer of payments, bank statements and matching, and the monthly reconciliation
(the financial reports are in :mod:`api.financial_reports`).

Handlers parse, authorise, call and serialise. The reconciliation answers CSV (and XLSX) too
when asked with ``Accept: text/csv`` or ``?format=csv``, through :func:`api.tabular.respond`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from api.access import access, principal
from api.cursors import decode_cursor, encode_cursor
from api.schemas.invoices import (
    BankLineOut,
    BankStatementOut,
    MatchIn,
    PaymentArgs,
    PaymentIn,
    PaymentOut,
    PaymentPage,
    ReconciliationArgs,
    ReconciliationOut,
)
from api.session import db_session
from api.tabular import respond
from api.writes import run_write, write_view
from invoices import payments as pay
from invoices import reconciliation as rec
from invoices.commands import AppliesTo, PaymentFilter, RecordPayment
from ledger.errors import IdempotencyConflict, InvalidRequest
from ledger.periods import parse_period
from ledger.queries import exponents
from ledger.tables import IdempotencyKey
from reports.reconciliation import reconciliation_report

blp = Blueprint(
    "invoices",
    __name__,
    url_prefix="/api/v1",
    description="Payments, bank statements and reconciliation",
)

FINANCE = ("finance",)
BOOKS_READ = ("finance", "auditor")


# --------------------------------------------------------------------------- payments


@blp.route("/payments")
class Payments(MethodView):
    @access(*FINANCE)
    @blp.arguments(PaymentIn)
    @blp.response(201, PaymentOut)
    @write_view(PaymentOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Record money in or out against a counterparty; posts bank and counterparty."""
        s = db_session()
        applies = data["applies_to"]
        cmd = RecordPayment(
            on=data["date"],
            direction=data["direction"],
            counterparty_kind=data["counterparty"]["kind"],
            counterparty_code=data["counterparty"]["code"],
            amount=data["amount"],
            currency=data["currency"],
            reference=data["reference"],
            applies_to=AppliesTo(applies["kind"], applies["id"]) if applies is not None else None,
            rate=data["rate"],
            settles=data["settles"],
        )
        payment = pay.record_payment(s, cmd, by=principal().name)
        return pay.payment_view(s, payment)

    @access(*BOOKS_READ)
    @blp.arguments(PaymentArgs, location="query")
    @blp.response(200, PaymentPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Payments, oldest first, filtered by direction, counterparty, currency, dates."""
        s = db_session()
        after = decode_cursor(args["cursor"])
        filters = PaymentFilter(
            direction=args["direction"],
            counterparty_kind=args["counterparty_kind"],
            counterparty_code=args["counterparty_code"],
            currency=args["currency"],
            start=args["from_"],
            end=args["to"],
            applies_to_kind=args["applies_to_kind"],
            applies_to_id=args["applies_to_id"],
            matched=args["matched"],
        )
        rows = pay.list_payments(s, filters, int(after) if after else None, args["limit"] + 1)
        more = len(rows) > args["limit"]
        rows = rows[: args["limit"]]
        return {
            "items": [pay.payment_view(s, p) for p in rows],
            "next_cursor": encode_cursor(rows[-1].id) if more else None,
        }


@blp.route("/payments/<string:payment_id>")
class PaymentOne(MethodView):
    @access(*BOOKS_READ)
    @blp.response(200, PaymentOut)
    def get(self, payment_id: str) -> dict[str, Any]:
        """One payment with its entry, bank match and what is still due."""
        s = db_session()
        return pay.payment_view(s, pay.get_payment(s, payment_id))


# --------------------------------------------------------------------------- bank statements


STATEMENT_BODY = {
    "required": True,
    "description": "CSV with columns date, amount, currency, reference, description "
    "(amount signed, + is money in; UTF-8, BOM, quotes and thousands separators accepted)",
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
    },
}


def _statement_bytes() -> tuple[bytes, str | None]:
    upload = request.files.get("file")
    if upload is not None:
        return upload.read(), upload.filename
    if request.mimetype in ("text/csv", "application/csv", "text/plain"):
        return request.get_data(), None
    raise InvalidRequest(
        "send the statement as a multipart/form-data field 'file' or as a text/csv body",
        errors={"file": ["missing"]},
    )


@blp.route("/bank-statements")
class BankStatements(MethodView):
    @access(*FINANCE)
    @blp.doc(requestBody=STATEMENT_BODY)
    @blp.response(201, BankStatementOut)
    @blp.alt_response(409, description="The same file was already imported")
    @blp.alt_response(422, description="Malformed file: the problem names the line")
    def post(self) -> Response:
        """Import a bank statement CSV (date, amount, currency, reference, description) and
        match its lines to payments; a malformed file is refused whole (422), a file already
        imported is refused (409)."""
        data, filename = _statement_bytes()
        by = principal().name
        header_key = request.headers.get("Idempotency-Key")
        key = scope = None
        if header_key is not None:
            # The body is not JSON, so the content hash is part of the key: the same key
            # with another file is a 409, as for every other POST.
            digest = rec.content_hash(data)
            scope = f"{request.endpoint}:user:{principal().user_id}"
            key = f"{header_key}|{digest}"
            other = db_session().scalar(
                select(IdempotencyKey.key).where(
                    IdempotencyKey.scope == scope,
                    IdempotencyKey.key.startswith(f"{header_key}|", autoescape=True),
                    IdempotencyKey.key != key,
                )
            )
            if other is not None:
                raise IdempotencyConflict(
                    f"the idempotency key {header_key!r} was already used with another file"
                )

        def work() -> dict[str, Any]:
            s = db_session()
            st = rec.import_statement(s, data, filename=filename, by=by)
            return rec.statement_view(s, st)

        return run_write(work, BankStatementOut().dump, status=201, key=key, scope=scope)


@blp.route("/bank-statements/<string:statement_id>")
class BankStatementOne(MethodView):
    @access(*BOOKS_READ)
    @blp.response(200, BankStatementOut)
    def get(self, statement_id: str) -> dict[str, Any]:
        """A statement and each line with its match or open."""
        s = db_session()
        return rec.statement_view(s, rec.get_statement(s, statement_id))


@blp.route("/bank-statements/lines/<string:line_id>/match")
class MatchLine(MethodView):
    @access(*FINANCE)
    @blp.arguments(MatchIn)
    @blp.response(200, BankLineOut)
    @write_view(BankLineOut, status=200)
    def post(self, data: dict[str, Any], line_id: str) -> dict[str, Any]:
        """Match a bank line to a payment by hand, or confirm its automatic match."""
        s = db_session()
        line = rec.match_by_hand(s, line_id, data["payment_id"], by=principal().name)
        return rec.line_view(line, exponents(s))


@blp.route("/bank-statements/lines/<string:line_id>/unmatch")
class UnmatchLine(MethodView):
    @access(*FINANCE)
    @blp.response(200, BankLineOut)
    @write_view(BankLineOut, status=200)
    def post(self, line_id: str) -> dict[str, Any]:
        """Undo a bank line's match; the line and its payment are open again."""
        s = db_session()
        line = rec.unmatch(s, line_id, by=principal().name)
        return rec.line_view(line, exponents(s))


# --------------------------------------------------------------------------- reconciliation


@blp.route("/reconciliation")
class Reconciliation(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(ReconciliationArgs, location="query")
    @blp.response(200, ReconciliationOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Matched pairs, open bank lines, unmatched payments, bank vs book per currency."""
        period = parse_period(args["period"])
        out = rec.reconciliation(db_session(), period)
        return respond(lambda: reconciliation_report(out), out, filename=f"reconciliation-{period}")
