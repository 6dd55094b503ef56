"""HTTP layer of the FHIR R4 views (API.md "Care"): dispensings as a searchset Bundle of
MedicationDispense, a subsidy claim as a Claim; ``application/fhir+json``; resources built
and validated by ``care.fhir``."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import access, visible_pharmacy
from api.schemas.care import FhirDispenseArgs
from api.session import db_session
from care import fhir
from care.service import check_day
from invoices.settlements import claim_json, get_claim
from ledger.errors import InvalidRequest, NotFound
from ledger.model import month_bounds
from stock.tables import Pharmacy

blp = Blueprint("fhir", __name__, url_prefix="/api/v1", description="FHIR R4 views")

FHIR_BODY = {"type": "object"}


def _fhir(text: str) -> Response:
    resp = Response(text, mimetype=fhir.FHIR_MIME)
    resp.headers["Content-Type"] = f"{fhir.FHIR_MIME}; charset=utf-8"
    return resp


@blp.route("/fhir/MedicationDispense")
class MedicationDispenses(MethodView):
    @access("finance", "auditor", pharmacist="own")
    @blp.arguments(FhirDispenseArgs, location="query")
    @blp.response(200, FHIR_BODY, content_type=fhir.FHIR_MIME)
    def get(self, args: dict[str, Any]) -> Response:
        """Dispensing lines of ``[from, to]`` (at most 92 days; one pharmacy or all) as a
        FHIR R4 searchset Bundle of MedicationDispense; a pharmacist sees its own."""
        start, end = args["from_"], args["to"]
        check_day(start, "from")
        check_day(end, "to")
        if end < start:
            raise InvalidRequest(
                "'to' is before 'from'", errors={"to": ["must not be before from"]}
            )
        if (end - start).days + 1 > fhir.MAX_DISPENSE_DAYS:
            raise InvalidRequest(
                f"at most {fhir.MAX_DISPENSE_DAYS} days per search",
                errors={"to": [f"at most {fhir.MAX_DISPENSE_DAYS} days after from"]},
            )
        pharmacy = args["pharmacy"]
        own = visible_pharmacy()
        if own is not None:
            if pharmacy is not None and pharmacy != own:
                raise NotFound(f"no pharmacy {pharmacy!r}")
            pharmacy = own
        s = db_session()
        if pharmacy is not None and s.get(Pharmacy, pharmacy) is None:
            raise NotFound(f"no pharmacy {pharmacy!r}", errors={"pharmacy": ["unknown pharmacy"]})
        facts = fhir.read_dispenses(s, pharmacy, start, end)
        resources = [fhir.medication_dispense(f) for f in facts]
        base = request.host_url.rstrip("/") + "/api/v1/fhir"
        bundle = fhir.dispense_bundle(resources, request.url, base)
        return _fhir(fhir.to_json(bundle))


@blp.route("/fhir/Claim/<string:claim_id>")
class ClaimOne(MethodView):
    @access("finance", "auditor")
    @blp.response(200, FHIR_BODY, content_type=fhir.FHIR_MIME)
    def get(self, claim_id: str) -> Response:
        """A subsidy claim as a FHIR R4 Claim (member codes only)."""
        s = db_session()
        c = get_claim(s, claim_id)
        out = claim_json(s, c.id)
        resource = fhir.claim_resource(
            out,
            fund_name=current_app.config["FUND_NAME"],
            period_end=month_bounds(out["period"])[1],
        )
        return _fhir(fhir.to_json(resource))
