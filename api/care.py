"""HTTP layer of care (API.md "Care"): peer educators, a patient's educator, adherence,
the overdue-refill visit list and the pharmacy scorecard.

Who sees what: finance and auditors everything; an educator only their own patients (the
``educator`` filter is theirs whatever they send: another educator's is a 404, as is a
named patient not in their care); a pharmacist only the patients whose usual pharmacy is
their own (another pharmacy's filter is a 404).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import access, principal, visible_educator, visible_pharmacy
from api.cursors import decode_cursor, encode_cursor
from api.schemas.care import (
    AdherenceArgs,
    AdherenceOut,
    AssignmentIn,
    AssignmentOut,
    EducatorIn,
    EducatorOut,
    EducatorPage,
    OverdueArgs,
    OverdueRow,
    ScorecardArgs,
    ScorecardOut,
)
from api.schemas.common import PagingArgs
from api.session import db_session
from api.tabular import respond
from api.writes import write_view
from care import service
from care.service import Scope
from ledger import clock
from ledger.errors import NotFound
from ledger.periods import parse_period
from reports.care import scorecard, scorecard_report

blp = Blueprint("care", __name__, url_prefix="/api/v1", description="Care: adherence and refills")

FINANCE = ("finance",)
CARE_READ = ("finance", "auditor", "educator")
#: The default adherence window: the 90 days up to today.
DEFAULT_WINDOW_DAYS = 90


def _scope(args: dict[str, Any], patient: str | None, on: date) -> Scope:
    """The caller's filters, narrowed to what its role may see."""
    educator, pharmacy = args["educator"], args["pharmacy"]
    own_educator = visible_educator()
    if own_educator is not None:
        if educator is not None and educator != own_educator:
            raise NotFound(f"no peer educator {educator!r}")
        educator = own_educator
        if patient is not None:
            code = service.require_patient(db_session(), patient)
            if not service.patient_in_scope(db_session(), code, own_educator, on):
                raise NotFound(f"no patient {patient!r} in your care")
    own_pharmacy = visible_pharmacy()
    if own_pharmacy is not None:
        if pharmacy is not None and pharmacy != own_pharmacy:
            raise NotFound(f"no pharmacy {pharmacy!r}")
        pharmacy = own_pharmacy
    return Scope(educator, pharmacy, patient)


@blp.route("/peer-educators")
class PeerEducators(MethodView):
    @access(*FINANCE)
    @blp.arguments(EducatorIn)
    @blp.response(201, EducatorOut)
    @write_view(EducatorOut)
    def post(self, data: dict[str, Any]) -> Any:
        """A peer educator (code, network, district; a name only if the programme wants)."""
        return service.create_educator(db_session(), data)

    @access(*CARE_READ)
    @blp.arguments(PagingArgs, location="query")
    @blp.response(200, EducatorPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Peer educators in code order (an educator sees itself only)."""
        rows, last = service.list_educators(
            db_session(),
            after=decode_cursor(args["cursor"]),
            limit=args["limit"],
            only=visible_educator(),
        )
        return {"items": rows, "next_cursor": encode_cursor(last) if last else None}


@blp.route("/patients/<string:member_code>/educator")
class PatientEducator(MethodView):
    @access(*FINANCE)
    @blp.arguments(AssignmentIn)
    @blp.response(201, AssignmentOut)
    @write_view(AssignmentOut)
    def post(self, data: dict[str, Any], member_code: str) -> dict[str, Any]:
        """Put a patient in an educator's care from ``valid_from``; the assignment in force
        closes the day before (409 unless it starts after the patient's latest)."""
        return service.assign_educator(
            db_session(), member_code, data["educator"], data["valid_from"], by=principal().name
        )


@blp.route("/care/adherence")
class Adherence(MethodView):
    @access(*CARE_READ, pharmacist="own")
    @blp.arguments(AdherenceArgs, location="query")
    @blp.response(200, AdherenceOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Proportion of days covered per patient and therapeutic class over ``[from, to]``
        (default: the 90 days up to today)."""
        end = args["to"] or clock.today()
        service.check_day(end, "to")
        start = args["from_"] or end - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
        service.check_window(start, end)
        scope = _scope(args, args["patient"], end)
        items = service.adherence(db_session(), start, end, scope)
        return {"from_": start, "to": end, "items": items}


@blp.route("/care/overdue-refills")
class OverdueRefills(MethodView):
    @access(*CARE_READ, pharmacist="own")
    @blp.arguments(OverdueArgs, location="query")
    @blp.response(200, OverdueRow(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """The visit list as of a day (default today): supply ran out more than
        ``grace_days`` (default 7) days before it; most overdue first."""
        as_of = args["as_of"] or clock.today()
        service.check_day(as_of, "as_of")
        scope = _scope(args, None, as_of)
        return service.overdue_refills(db_session(), as_of, args["grace_days"], scope)


@blp.route("/reports/pharmacy-scorecard")
class PharmacyScorecard(MethodView):
    @access("finance", "auditor", pharmacist="own")
    @blp.arguments(ScorecardArgs, location="query")
    @blp.response(200, ScorecardOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Per pharmacy, a month: dispensings, patients, mean PDC, stock-out days, expiry
        losses, days from month end to remittance (JSON, CSV or XLSX: ``?format=`` or
        ``Accept``). A pharmacist sees its own row."""
        period = parse_period(args["period"])
        out = scorecard(db_session(), period, only=visible_pharmacy())
        return respond(lambda: scorecard_report(out), out, filename=f"pharmacy-scorecard-{period}")
