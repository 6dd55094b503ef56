"""The auditor's desk: verify the books, the audit trail with filters, and the period's
downloads (links to the API's documents: the same files an API client gets)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, request
from flask_babel import gettext as _
from sqlalchemy import select

from api.access import access, principal
from api.audit_trail import AuditEvent
from api.session import database, db_session
from invoices.settlement_tables import Settlement, SubsidyClaim
from ledger.sealing import verify
from stock.tables import Pharmacy
from web.desk import PER_PAGE, bounds, chosen_month, last_month
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
    """A page of the audit trail, newest first, filtered by user name (who), by method or
    path (what, contained) and by day (when, inclusive)."""
    q = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(PER_PAGE + 1)
    if who:
        q = q.where(AuditEvent.user_name == who)
    if what:
        like = f"%{what}%"
        q = q.where(AuditEvent.path.like(like) | (AuditEvent.method == what.upper()))
    if start:
        q = q.where(AuditEvent.at >= start)
    if end:
        q = q.where(AuditEvent.at < date.fromordinal(end.toordinal() + 1))
    if before:
        q = q.where(AuditEvent.id < before)
    rows = list(db_session().scalars(q))
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    return rows, (rows[-1].id if more and rows else None)


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


@bp.route("/audit/downloads")
@access(*READ, page=True)
def downloads() -> str:
    s = db_session()
    month = chosen_month(last_month())
    start, end = bounds(month)
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
    for code in s.scalars(select(Pharmacy.code).order_by(Pharmacy.code)):
        base = f"/api/v1/statements/pharmacies/{code}?period={month}"
        docs.append(
            {
                "name": _("Statement of %(pharmacy)s", pharmacy=code),
                "pdf": f"{base}&format=pdf",
                "csv": f"{base}&format=csv",
                "xlsx": f"{base}&format=xlsx",
            }
        )
    for st in s.scalars(
        select(Settlement).where(Settlement.period == month).order_by(Settlement.id)
    ):
        docs.append(
            {
                "name": _("Settlement %(n)s (%(pharmacy)s)", n=st.id, pharmacy=st.pharmacy),
                "pdf": f"/api/v1/settlements/{st.id}.pdf",
            }
        )
    for c in s.scalars(
        select(SubsidyClaim).where(SubsidyClaim.period == month).order_by(SubsidyClaim.id)
    ):
        docs.append(
            {
                "name": _("Subsidy claim %(n)s (%(scheme)s)", n=c.id, scheme=c.scheme),
                "pdf": f"/api/v1/subsidy-claims/{c.id}.pdf",
                "csv": f"/api/v1/subsidy-claims/{c.id}?format=csv",
                "xlsx": f"/api/v1/subsidy-claims/{c.id}?format=xlsx",
            }
        )
    return _page("audit/downloads.html", month=month, docs=docs)
