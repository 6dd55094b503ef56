"""The auditor's desk: verify the books, the audit trail with filters, and the period's
downloads (links to the API's documents: the same files an API client gets)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from api.access import access, principal
from api.audit_trail import AuditEvent, list_events
from api.session import database, db_session
from invoices.settlement_tables import Settlement, SubsidyClaim
from ledger.sealing import verify
from stock.tables import Pharmacy
from web import jobs
from web.desk import MONTH_RE, PER_PAGE, bounds, chosen_month, last_month
from web.views import _page

bp = Blueprint("audit_desk", __name__, url_prefix="/app")

READ = ("finance", "auditor")
#: Who reads the audit trail (the API's rule for ``GET /audit/events``; admin always).
TRAIL = ("auditor", "admin")


def _day(arg: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(arg, ""))
    except ValueError:
        return None


def events(
    *, who: str, what: str, start: date | None, end: date | None, before: int | None
) -> tuple[list[AuditEvent], int | None]:
    """A page of the audit trail, newest first, filtered as ``GET /audit/events`` filters
    it (``api.audit_trail.list_events``): by user name (who), by method or part of the
    path (what) and by day (when, inclusive)."""
    page = list_events(
        db_session(),
        limit=PER_PAGE,
        before_id=before,
        user=who or None,
        what=what or None,
        from_=start,
        to=end,
    )
    return page.items, page.next_after


@bp.route("/audit")
@access(*READ, page=True)
def audit() -> str:
    result: dict[str, Any] | None = None
    if request.args.get("verify"):
        db_session().rollback()  # hold no snapshot while the sealer writes
        result = verify(database().sessionmaker).as_json()
    shows_trail = principal().role in TRAIL
    rows: list[AuditEvent] = []
    older = None
    filters = {k: request.args.get(k, "").strip()[:100] for k in ("who", "what", "from", "to")}
    if shows_trail:
        try:
            before = int(request.args.get("before", "0")) or None
        except ValueError:
            before = None
        rows, after = events(
            who=filters["who"],
            what=filters["what"],
            start=_day("from"),
            end=_day("to"),
            before=before,
        )
        if after is not None:
            args = request.args.to_dict()
            args.pop("verify", None)
            args["before"] = str(after)
            older = "?" + urlencode(args)
    return _page(
        "audit/audit.html",
        result=result,
        shows_trail=shows_trail,
        rows=rows,
        older=older,
        newest="?" + urlencode({k: v for k, v in filters.items() if v}),
        filters=filters,
    )


def documents(period: str) -> list[dict[str, str]]:
    """The documents of a period (a month ``YYYY-MM`` or a year ``YYYY``), each with its
    API links by format: the books over the period, then each month's pharmacy
    statements, settlements and subsidy claims."""
    s = db_session()
    if len(period) == 4:
        months = [f"{period}-{m:02d}" for m in range(1, 13)]
        start, end = bounds(months[0])[0], bounds(months[-1])[1]
    else:
        months = [period]
        start, end = bounds(period)
    span = f"from={start.isoformat()}&to={end.isoformat()}"
    as_of = f"as_of={end.isoformat()}"
    docs = [
        {
            "name": _("Trial balance"),
            "pdf": f"/api/v1/reports/trial-balance.pdf?{as_of}",
            "csv": f"/api/v1/reports/trial-balance?{as_of}&format=csv",
            "xlsx": f"/api/v1/reports/trial-balance?{as_of}&format=xlsx",
        },
        {
            "name": _("Balance sheet"),
            "csv": f"/api/v1/reports/balance-sheet?{as_of}&format=csv",
            "xlsx": f"/api/v1/reports/balance-sheet?{as_of}&format=xlsx",
        },
        {
            "name": _("Income statement"),
            "csv": f"/api/v1/reports/income-statement?{span}&format=csv",
            "xlsx": f"/api/v1/reports/income-statement?{span}&format=xlsx",
        },
        {
            "name": _("Fund health"),
            "pdf": f"/api/v1/reports/fund-health.pdf?{span}",
            "csv": f"/api/v1/reports/fund-health?{span}&format=csv",
            "xlsx": f"/api/v1/reports/fund-health?{span}&format=xlsx",
        },
        {
            "name": _("Journal"),
            "beancount": f"/api/v1/exports/beancount?{span}",
        },
    ]
    pharmacies = list(s.scalars(select(Pharmacy.code).order_by(Pharmacy.code)))
    for month in months:
        for code in pharmacies:
            base = f"/api/v1/statements/pharmacies/{code}?period={month}"
            docs.append(
                {
                    "name": _("Statement of %(pharmacy)s", pharmacy=code)
                    if len(months) == 1
                    else _("Statement of %(pharmacy)s, %(month)s", pharmacy=code, month=month),
                    "pdf": f"{base}&format=pdf",
                    "csv": f"{base}&format=csv",
                    "xlsx": f"{base}&format=xlsx",
                }
            )
    for st in s.scalars(
        select(Settlement).where(Settlement.period.in_(months)).order_by(Settlement.id)
    ):
        docs.append(
            {
                "name": _("Settlement %(n)s (%(pharmacy)s)", n=st.id, pharmacy=st.pharmacy),
                "pdf": f"/api/v1/settlements/{st.id}.pdf",
            }
        )
    for c in s.scalars(
        select(SubsidyClaim).where(SubsidyClaim.period.in_(months)).order_by(SubsidyClaim.id)
    ):
        docs.append(
            {
                "name": _("Subsidy claim %(n)s (%(scheme)s)", n=c.id, scheme=c.scheme),
                "pdf": f"/api/v1/subsidy-claims/{c.id}.pdf",
                "csv": f"/api/v1/subsidy-claims/{c.id}?format=csv",
                "xlsx": f"/api/v1/subsidy-claims/{c.id}?format=xlsx",
            }
        )
    return docs


@bp.route("/audit/downloads")
@access(*READ, page=True)
def downloads() -> str:
    month = chosen_month(last_month())
    return _page(
        "audit/downloads.html",
        month=month,
        docs=documents(month),
        jobs=jobs.recent(principal().user_id),
    )


#: The file name suffix of each format in a ZIP of documents.
SUFFIX = {"pdf": "pdf", "csv": "csv", "xlsx": "xlsx", "beancount": "beancount"}


@bp.route("/audit/downloads/zip", methods=["POST"])
@access(*READ, page=True)
def downloads_zip() -> BaseResponse:
    """Start a job making one ZIP of a period's documents (a month, or a whole year); the
    answer is at once the job's page, whose link becomes ready."""
    period = request.form.get("period", "")
    if not (MONTH_RE.fullmatch(period) or re.fullmatch(r"2\d{3}", period)):
        abort(404)
    files = []
    for doc in documents(period):
        stem = re.sub(r"[^A-Za-z0-9]+", "-", str(doc["name"])).strip("-").lower() or "document"
        for fmt, suffix in SUFFIX.items():
            if doc.get(fmt):
                files.append({"path": doc[fmt], "name": f"{stem}.{suffix}"})
    job = jobs.start("downloads", f"rdf-documents-{period}", files)
    return redirect(url_for("jobs.job_page", job_id=job.id), code=303)
