"""HTTP layer of funders (API.md "Funders"): donors, subsidy budgets, the donor report.

Finance writes; finance and auditors read. A donated receipt itself goes through
``POST /stock/receipts`` (``api.stock``), whose answer for a donation is built here
(``donated_receipt_body``).
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import access, principal
from api.cursors import decode_cursor, encode_cursor
from api.schemas.common import PagingArgs
from api.schemas.funders import (
    BudgetIn,
    BudgetOut,
    DonationArgs,
    DonationReportOut,
    DonorIn,
    DonorOut,
    DonorPage,
)
from api.session import db_session, fund_currency
from api.tabular import file_response, respond
from api.writes import write_view
from contracts.budgets import NewBudget, add_budget
from dispensing.budget import budget_status, budget_used
from ledger import chart, clock
from ledger.errors import InvalidRequest
from ledger.money import format_amount
from ledger.queries import exponents
from ledger.sealing import last_seal
from reports.donations import (
    donation_document,
    donation_report,
    donation_report_name,
    donation_table,
)
from reports.pdf import render_pdf
from reports.tabular import JSON_MIME
from stock.commands import NewDonor
from stock.donations import Donor, create_donor, list_donors
from stock.movements import ReceiptResult

blp = Blueprint(
    "funders",
    __name__,
    url_prefix="/api/v1",
    description="Funders: donors, donated stock, subsidy budgets (finance writes)",
)

FINANCE = ("finance",)
BOOKS_READ = ("finance", "auditor")
PDF_MIME = "application/pdf"
BINARY = {"type": "string", "format": "binary"}


def _donor_json(d: Donor) -> dict[str, Any]:
    return {
        "code": d.code,
        "name": d.name,
        "account": chart.donated_medicines(d.code),
        "created_at": d.created_at,
    }


@blp.route("/donors")
class Donors(MethodView):
    @access(*FINANCE)
    @blp.arguments(DonorIn)
    @blp.response(201, DonorOut)
    @write_view(DonorOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a donor and its equity account 3200-{code} (Donated medicines)."""
        return _donor_json(create_donor(db_session(), NewDonor(**data)))

    @access(*BOOKS_READ)
    @blp.arguments(PagingArgs, location="query")
    @blp.response(200, DonorPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Donors in code order (paginated)."""
        after = decode_cursor(args["cursor"])
        rows = list_donors(
            db_session(), after=str(after) if after else None, limit=args["limit"] + 1
        )
        more = len(rows) > args["limit"]
        rows = rows[: args["limit"]]
        return {
            "items": [_donor_json(d) for d in rows],
            "next_cursor": encode_cursor(rows[-1].code) if more and rows else None,
        }


def donated_receipt_body(r: ReceiptResult) -> dict[str, Any]:
    """The answer to a donated receipt: as a purchase's, with ``funding``, each line's
    ``fair_value`` instead of its ``total_cost`` and ``total_fair_value``."""
    return {
        "id": str(r.id),
        "entry_id": str(r.entry_id),
        "supplier": r.supplier,
        "location": r.location,
        "date": r.on,
        "accounting_date": r.accounting_date,
        "currency": r.currency,
        "funding": {"kind": r.funding, "donor": r.donor},
        "total_fair_value": format_amount(r.total_cost, r.exponent),
        "lines": [
            {
                "medicine": line.medicine,
                "lot": line.lot,
                "expiry": line.expiry_on,
                "quantity": line.quantity,
                "fair_value": format_amount(line.cost, r.exponent),
            }
            for line in r.lines
        ],
    }


# --------------------------------------------------------------------------- budgets


def _budget_json(
    scheme: str, period: str, amount: int, used: int, exp: int, **extra: Any
) -> dict[str, Any]:
    return {
        "scheme": scheme,
        "period": period,
        "amount": format_amount(amount, exp),
        "used": format_amount(used, exp),
        "remaining": format_amount(max(amount - used, 0), exp),
        "currency": fund_currency(),
        **extra,
    }


@blp.route("/subsidy-schemes/<string:code>/budgets")
class Budgets(MethodView):
    @access(*FINANCE)
    @blp.arguments(BudgetIn)
    @blp.response(201, BudgetOut)
    @write_view(BudgetOut)
    def post(self, data: dict[str, Any], code: str) -> dict[str, Any]:
        """A new version of the scheme's budget for a month (YYYY-MM) or a year (YYYY);
        never an edit. The amount (fund currency) must be greater than 0."""
        s = db_session()
        row = add_budget(s, NewBudget(code, data["period"], data["amount"]), by=principal().name)
        used = budget_used(s, [(code, row.period)], fund_currency())[(code, row.period)]
        exp = exponents(s)[fund_currency()]
        return _budget_json(
            code,
            row.period,
            row.amount,
            used,
            exp,
            version=str(row.id),
            created_at=row.created_at,
        )

    @access(*BOOKS_READ)
    @blp.response(200, BudgetOut(many=True))
    def get(self, code: str) -> list[dict[str, Any]]:
        """Each period with a budget (the latest version): amount, used (dispensings by
        service date, net of returns), remaining."""
        s = db_session()
        exp = exponents(s)[fund_currency()]
        return [_budget_json(code, b.period, b.amount, b.used, exp) for b in budget_status(s, code)]


# --------------------------------------------------------------------------- donor report


def _donations(args: dict[str, Any]) -> dict[str, Any]:
    start, end = args["from_"], args["to"]
    if start is not None and end is not None and end < start:
        raise InvalidRequest("'to' is before 'from'", errors={"to": ["must not be before from"]})
    s = db_session()
    donor = args["donor"]
    if donor is not None and s.get(Donor, donor) is None:
        raise InvalidRequest(f"no donor {donor!r}", errors={"donor": [f"no donor {donor!r}"]})
    return donation_report(s, donor, start, end or clock.today())


def _pdf(out: dict[str, Any]) -> Response:
    s = db_session()
    doc = donation_document(
        out,
        exponents(s)[fund_currency()],
        fund_name=current_app.config["FUND_NAME"],
        made_at=clock.now(),
        seal=last_seal(s, out["to"]),
    )
    resp = Response(render_pdf(doc), mimetype=PDF_MIME)
    resp.headers["Content-Disposition"] = f'inline; filename="{donation_report_name(out)}.pdf"'
    return resp


def _wants_pdf() -> bool:
    if request.args.get("format") is not None:
        return request.args.get("format") == "pdf"
    accept = request.accept_mimetypes
    return (
        bool(accept)
        and accept.best_match([JSON_MIME, PDF_MIME]) == PDF_MIME
        and (accept.quality(PDF_MIME) > accept.quality(JSON_MIME))
    )


@blp.route("/reports/donations")
class Donations(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(DonationArgs, location="query")
    @blp.response(200, DonationReportOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Per donated medicine and lot, per place: opening, received, transferred,
        dispensed, returned, written off, count differences, on hand (units and value);
        JSON, CSV, XLSX or PDF by ``Accept`` or ``?format=``."""
        out = _donations(args)
        if _wants_pdf():
            return _pdf(out)
        return respond(lambda: donation_table(out), out, filename=donation_report_name(out))


@blp.route("/reports/donations.<string:suffix>")
class DonationsFile(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(DonationArgs, location="query")
    @blp.response(200, BINARY)
    def get(self, args: dict[str, Any], suffix: str) -> Any:
        """The donor report as ``.pdf``, ``.csv`` or ``.xlsx``."""
        out = _donations(args)
        if suffix == "pdf":
            return _pdf(out)
        if suffix not in ("csv", "xlsx"):
            raise InvalidRequest(
                f"no format {suffix!r}", errors={"format": ["one of pdf, csv, xlsx"]}
            )
        fmt: Literal["csv", "xlsx"] = "csv" if suffix == "csv" else "xlsx"
        return file_response(donation_table(out), fmt, filename=donation_report_name(out))
