"""HTTP layer of invoices: payments, bank statements and matching, reconciliation, and the
financial reports (aged balances, balance sheet, income statement, fund health).

Handlers parse, authorise, call and serialise. Every report answers CSV (and XLSX) too when asked
with ``Accept: text/csv`` or ``?format=csv``, through :func:`reports.tabular.respond`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from api.access import access, principal
from api.cursors import decode_cursor, encode_cursor
from api.schemas.invoices import (
    AgedOut,
    BalanceSheetOut,
    BankLineOut,
    BankStatementOut,
    FundHealthOut,
    IncomeStatementOut,
    MatchIn,
    PaymentArgs,
    PaymentIn,
    PaymentOut,
    PaymentPage,
    ReconciliationArgs,
    ReconciliationOut,
    ReportAsOfArgs,
    ReportRangeArgs,
)
from api.session import db_session
from api.writes import run_write, write_view
from invoices import payments as pay
from invoices import reconciliation as rec
from ledger import chart, clock
from ledger.errors import IdempotencyConflict, InvalidRequest
from ledger.periods import parse_period
from ledger.queries import exponents
from ledger.tables import IdempotencyKey
from reports import converted
from reports import fund as reports
from reports.aging import BUCKETS
from reports.tabular import Col, Report, Section, respond

blp = Blueprint(
    "invoices",
    __name__,
    url_prefix="/api/v1",
    description="Payments, bank statements, reconciliation and financial reports",
)

FINANCE = ("finance",)
BOOKS_READ = ("finance", "auditor")


def _rows(columns: Sequence[Col], items: Iterable[dict[str, Any]]) -> list[list[Any]]:
    return [[item.get(c.name) for c in columns] for item in items]


def _range(args: dict[str, Any]) -> tuple[date, date]:
    start, end = args["from_"], args["to"]
    if end < start:
        raise InvalidRequest("'to' is before 'from'", errors={"to": ["must not be before from"]})
    return start, end


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
        payment = pay.record_payment(s, data, by=principal().name)
        return pay.payment_view(s, payment)

    @access(*BOOKS_READ)
    @blp.arguments(PaymentArgs, location="query")
    @blp.response(200, PaymentPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Payments, oldest first, filtered by direction, counterparty, currency, dates."""
        s = db_session()
        after = decode_cursor(args["cursor"])
        rows = pay.list_payments(s, args, int(after) if after else None, args["limit"] + 1)
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

SUMMARY_COLS = [
    Col("currency"),
    Col("bank_account"),
    Col("bank_balance", "money"),
    Col("book_balance", "money"),
    Col("difference", "money"),
    Col("unmatched_bank_lines_total", "money"),
    Col("unmatched_payments_total", "money"),
    Col("unexplained", "money"),
]
LINE_COLS = [
    Col("id"),
    Col("statement_id"),
    Col("line_number", "quantity"),
    Col("date", "date"),
    Col("currency"),
    Col("amount", "money"),
    Col("reference"),
    Col("description"),
    Col("payment_id"),
    Col("match_kind"),
]
PAYMENT_COLS = [
    Col("id"),
    Col("date", "date"),
    Col("direction"),
    Col("counterparty_kind"),
    Col("counterparty"),
    Col("currency"),
    Col("amount", "money"),
    Col("reference"),
]


def _payment_row(p: dict[str, Any]) -> dict[str, Any]:
    return {
        **p,
        "counterparty_kind": p["counterparty"]["kind"],
        "counterparty": p["counterparty"]["code"],
    }


def reconciliation_report(out: dict[str, Any]) -> Report:
    matched_cols = [
        Col("bank_line_id"),
        Col("payment_id"),
        Col("date", "date"),
        Col("currency"),
        Col("amount", "money"),
        Col("reference"),
        Col("match_kind"),
    ]
    matched = [
        {
            "bank_line_id": m["bank_line"]["id"],
            "payment_id": m["payment"]["id"],
            "date": m["bank_line"]["date"],
            "currency": m["bank_line"]["currency"],
            "amount": m["bank_line"]["amount"],
            "reference": m["bank_line"]["reference"],
            "match_kind": m["match_kind"],
        }
        for m in out["matched"]
    ]
    return Report(
        f"Reconciliation {out['period']}",
        [
            Section("Summary", SUMMARY_COLS, _rows(SUMMARY_COLS, out["currencies"])),
            Section("Matched", matched_cols, _rows(matched_cols, matched)),
            Section(
                "Unmatched bank lines", LINE_COLS, _rows(LINE_COLS, out["unmatched_bank_lines"])
            ),
            Section(
                "Unmatched payments",
                PAYMENT_COLS,
                _rows(PAYMENT_COLS, map(_payment_row, out["unmatched_payments"])),
            ),
        ],
    )


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


# --------------------------------------------------------------------------- reports

AGED_COLS = [
    Col("account"),
    Col("counterparty_kind"),
    Col("counterparty"),
    Col("currency"),
    *[Col(b, "money") for b in BUCKETS],
    Col("total", "money"),
]
STATEMENT_COLS = [
    Col("currency"),
    Col("section"),
    Col("account"),
    Col("name"),
    Col("amount", "money"),
]


@blp.route("/reports/aged-balances")
class AgedBalances(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(ReportAsOfArgs, location="query")
    @blp.response(200, AgedOut)
    def get(self, args: dict[str, Any]) -> Any:
        """What each pharmacy and payer owes, by 0-30, 31-60, 61-90 and 90+ days."""
        as_of = args["as_of"] or clock.today()
        out = reports.aged_balances(db_session(), as_of)
        return respond(
            lambda: Report(
                f"Aged balances {as_of.isoformat()}",
                [Section("Aged balances", AGED_COLS, _rows(AGED_COLS, out["items"]))],
            ),
            out,
            filename=f"aged-balances-{as_of.isoformat()}",
        )


def balance_sheet_rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for c in out["currencies"]:
        cur = c["currency"]
        for section in ("assets", "liabilities", "equity"):
            rows += [{"currency": cur, "section": section, **line} for line in c[section]]
        rows.append(
            {
                "currency": cur,
                "section": "equity",
                "name": "Current surplus",
                "amount": c["current_surplus"],
            }
        )
        if "exchange_differences" in c:
            rows.append(
                {
                    "currency": cur,
                    "section": "equity",
                    "account": chart.CURRENCY_EXCHANGE,
                    "name": converted.EXCHANGE_DIFFERENCES,
                    "amount": c["exchange_differences"],
                }
            )
        rows += [
            {"currency": cur, "section": total, "amount": c[total]}
            for total in ("total_assets", "total_liabilities", "total_equity")
        ]
    return rows


@blp.route("/reports/balance-sheet")
class BalanceSheet(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(ReportAsOfArgs, location="query")
    @blp.response(200, BalanceSheetOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Assets, liabilities and equity (with the current surplus) per currency."""
        out = (
            converted.balance_sheet_in(db_session(), args["as_of"], args["in_"])
            if args["in_"]
            else reports.balance_sheet(db_session(), args["as_of"])
        )
        when = out["as_of"].isoformat() if out["as_of"] else "now"
        return respond(
            lambda: Report(
                f"Balance sheet {when}",
                [
                    Section(
                        "Balance sheet",
                        STATEMENT_COLS,
                        _rows(STATEMENT_COLS, balance_sheet_rows(out)),
                    )
                ],
            ),
            out,
            filename=f"balance-sheet-{when}",
        )


def income_rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for c in out["currencies"]:
        cur = c["currency"]
        for section in ("income", "expenses"):
            rows += [{"currency": cur, "section": section, **line} for line in c[section]]
        rows += [
            {"currency": cur, "section": total, "amount": c[total]}
            for total in ("total_income", "total_expenses", "surplus")
        ]
    return rows


@blp.route("/reports/income-statement")
class IncomeStatement(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(ReportRangeArgs, location="query")
    @blp.response(200, IncomeStatementOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Income (4000) and expenses (5000-5400) per account over a range, and the surplus."""
        start, end = _range(args)
        out = (
            converted.income_statement_in(db_session(), start, end, args["in_"])
            if args["in_"]
            else reports.income_statement(db_session(), start, end)
        )
        name = f"income-statement-{start.isoformat()}-{end.isoformat()}"
        return respond(
            lambda: Report(
                name,
                [
                    Section(
                        "Income statement", STATEMENT_COLS, _rows(STATEMENT_COLS, income_rows(out))
                    )
                ],
            ),
            out,
            filename=name,
        )


PRICE_COLS = [
    Col("price_list"),
    Col("medicine"),
    Col("unit_price"),
    Col("replacement_cost"),
    Col("replacement_cost_on", "date"),
    Col("price_to_cost"),
    Col("below_cost"),
]


@blp.route("/reports/fund-health")
class FundHealth(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(ReportRangeArgs, location="query")
    @blp.response(200, FundHealthOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Cost recovery, capital preservation, months of stock, loss shares (exact)."""
        start, end = _range(args)
        out = (
            converted.fund_health_in(db_session(), start, end, args["in_"])
            if args["in_"]
            else reports.fund_health(db_session(), start, end)
        )
        name = f"fund-health-{start.isoformat()}-{end.isoformat()}"
        ratio_cols = [Col("name"), Col("value")]
        figure_cols = [Col("name"), Col("amount", "money", currency=out["currency"])]
        return respond(
            lambda: Report(
                name,
                [
                    Section("Ratios", ratio_cols, [[k, v] for k, v in out["ratios"].items()]),
                    Section("Figures", figure_cols, [[k, v] for k, v in out["figures"].items()]),
                    Section(
                        "Price vs replacement cost",
                        PRICE_COLS,
                        _rows(PRICE_COLS, out["price_vs_replacement_cost"]),
                    ),
                ],
            ),
            out,
            filename=name,
        )
