"""HTTP layer of the financial reports: aged balances, balance sheet, income statement and
fund health (:mod:`reports.fund`).

Handlers parse, authorise, call and serialise. Every report answers CSV (and XLSX) too when
asked with ``Accept: text/csv`` or ``?format=csv``, through :func:`api.tabular.respond`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import access
from api.schemas.invoices import (
    AgedOut,
    BalanceSheetOut,
    FundHealthOut,
    IncomeStatementOut,
    ReportAsOfArgs,
    ReportRangeArgs,
)
from api.session import db_session
from api.tabular import respond
from ledger import clock
from ledger.errors import InvalidRequest
from reports import converted
from reports import fund as reports

blp = Blueprint(
    "financial_reports",
    __name__,
    url_prefix="/api/v1",
    description="Financial reports: aged balances, balance sheet, income statement, fund health",
)

BOOKS_READ = ("finance", "auditor")


def _range(args: dict[str, Any]) -> tuple[date, date]:
    start, end = args["from_"], args["to"]
    if end < start:
        raise InvalidRequest("'to' is before 'from'", errors={"to": ["must not be before from"]})
    return start, end


@blp.route("/reports/aged-balances")
class AgedBalances(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(ReportAsOfArgs, location="query")
    @blp.response(200, AgedOut)
    def get(self, args: dict[str, Any]) -> Any:
        """What each pharmacy and payer owes, by 0-30, 31-60, 61-90 and 90+ days; with
        ``?in=KHR|USD``, every amount converted at the as-of date's rate (one row per
        account)."""
        as_of = args["as_of"] or clock.today()
        out = (
            converted.aged_balances_in(db_session(), as_of, args["in_"])
            if args["in_"]
            else reports.aged_balances(db_session(), as_of)
        )
        return respond(
            lambda: reports.aged_balances_report(out),
            out,
            filename=f"aged-balances-{as_of.isoformat()}",
        )


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
            lambda: reports.balance_sheet_report(out), out, filename=f"balance-sheet-{when}"
        )


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
        return respond(
            lambda: reports.income_statement_report(out),
            out,
            filename=reports.income_statement_name(out),
        )


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
        return respond(
            lambda: reports.fund_health_report(out), out, filename=reports.fund_health_name(out)
        )
