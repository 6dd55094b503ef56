"""Dispensings and subsidy claims as FHIR R4 resources (DESIGN.md "Care"), built and
validated with the R4B models of ``fhir.resources`` (pydantic): a resource that does not
validate raises here, it is never sent.

Identities: patients are their member codes (identifier system :data:`MEMBER_SYSTEM`),
never a name; pharmacies, medicines, schemes and the fund have their own URN systems.

* ``MedicationDispense``: one per dispensing line, id ``{dispensing id}-{line no}``;
  ``quantity`` and ``daysSupply`` net of returns (``care.pdc.line_days``); a line returned
  in full is ``status: cancelled``, else ``completed``; ``whenHandedOver`` the service date;
  ``performer`` the pharmacy; ``subject`` the member (absent for a walk-in).
* ``Claim`` of a subsidy claim: FHIR's Claim is per patient, the fund's claim covers a
  scheme's members for a month. So ``patient`` names the scheme's membership (identifier
  system :data:`SCHEME_MEMBERS_SYSTEM`, value the scheme) and each ``item`` carries its
  member code in an extension (:data:`ITEM_MEMBER_URL`) and its pharmacy as
  ``locationReference``; returns are items with negative quantity and net.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.medicationdispense import MedicationDispense
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from care.pdc import line_days
from care.tables import dispensing_lines, dispensings, return_lines
from stock.tables import Medicine

FHIR_MIME = "application/fhir+json"
MEMBER_SYSTEM = "urn:rdf-ledger:member"
PHARMACY_SYSTEM = "urn:rdf-ledger:pharmacy"
MEDICINE_SYSTEM = "urn:rdf-ledger:medicine"
SCHEME_SYSTEM = "urn:rdf-ledger:scheme"
SCHEME_MEMBERS_SYSTEM = "urn:rdf-ledger:scheme-members"
FUND_SYSTEM = "urn:rdf-ledger:fund"
CLAIM_SYSTEM = "urn:rdf-ledger:subsidy-claim"
ITEM_MEMBER_URL = "urn:rdf-ledger:fhir:claim-item-member"
UCUM = "http://unitsofmeasure.org"
#: Dispensings per Bundle page at most (a longer range is refused: ask for less).
MAX_DISPENSE_DAYS = 92


@dataclass(frozen=True)
class DispenseFact:
    dispensing_id: int
    line_no: int
    pharmacy: str
    patient: str | None
    service_date: date
    medicine: str
    medicine_name: str
    unit: str
    quantity: int
    returned: int
    days: int | None  # net of returns; None: no days known


def read_dispenses(
    session: Session, pharmacy: str | None, start: date, end: date
) -> list[DispenseFact]:
    """Dispensing lines (of one pharmacy, or all) with service dates in [start, end]: one
    query (``ix_dispensings_pharmacy_date``)."""
    ret = (
        select(func.coalesce(func.sum(return_lines.c.quantity), 0))
        .where(return_lines.c.line_id == dispensing_lines.c.id)
        .scalar_subquery()
    )
    q = (
        select(
            dispensings.c.id,
            dispensing_lines.c.line_no,
            dispensings.c.pharmacy,
            dispensings.c.patient,
            dispensings.c.service_date,
            dispensing_lines.c.medicine,
            Medicine.name,
            Medicine.unit,
            dispensing_lines.c.quantity,
            ret,
            dispensing_lines.c.days_supply,
            Medicine.default_days_supply,
        )
        .select_from(dispensings)
        .join(dispensing_lines, dispensing_lines.c.dispensing_id == dispensings.c.id)
        .join(Medicine, Medicine.code == dispensing_lines.c.medicine)
        .where(dispensings.c.service_date >= start, dispensings.c.service_date <= end)
        .order_by(dispensings.c.service_date, dispensings.c.id, dispensing_lines.c.line_no)
    )
    if pharmacy is not None:
        q = q.where(dispensings.c.pharmacy == pharmacy)
    out = []
    for d_id, no, ph, patient, on, med, name, unit, qty, back, days, default in session.execute(q):
        has_days = days is not None or default is not None
        out.append(
            DispenseFact(
                int(d_id),
                int(no),
                ph,
                patient,
                on,
                med,
                name,
                unit,
                int(qty),
                int(back or 0),
                line_days(days, default, int(qty), int(back or 0)) if has_days else None,
            )
        )
    return out


def _ident(system: str, value: str) -> dict[str, Any]:
    return {"identifier": {"system": system, "value": value}}


def medication_dispense(f: DispenseFact) -> MedicationDispense:
    net = f.quantity - f.returned
    body: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "id": f"{f.dispensing_id}-{f.line_no}",
        "identifier": [
            {"system": "urn:rdf-ledger:dispensing-line", "value": f"{f.dispensing_id}-{f.line_no}"}
        ],
        "status": "completed" if net > 0 else "cancelled",
        "medicationCodeableConcept": {
            "coding": [{"system": MEDICINE_SYSTEM, "code": f.medicine, "display": f.medicine_name}],
            "text": f.medicine_name,
        },
        "performer": [{"actor": {**_ident(PHARMACY_SYSTEM, f.pharmacy), "display": f.pharmacy}}],
        "quantity": {"value": net, "unit": f.unit},
        "whenHandedOver": f.service_date.isoformat(),
    }
    if f.patient is not None:
        body["subject"] = _ident(MEMBER_SYSTEM, f.patient)
    if f.days is not None:
        body["daysSupply"] = {"value": f.days, "unit": "d", "system": UCUM, "code": "d"}
    return MedicationDispense.model_validate(body)


def dispense_bundle(facts: Sequence[MedicationDispense], self_url: str, base: str) -> Bundle:
    """A searchset Bundle of MedicationDispense resources (all matches: one page)."""
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(facts),
            "link": [{"relation": "self", "url": self_url}],
            "entry": [
                {
                    "fullUrl": f"{base}/MedicationDispense/{r.id}",
                    "resource": r.model_dump(mode="json", exclude_none=True),
                    "search": {"mode": "match"},
                }
                for r in facts
            ],
        }
    )


def _money(text: str, currency: str) -> dict[str, Any]:
    return {"value": Decimal(text), "currency": currency}


def claim_resource(c: Mapping[str, Any], *, fund_name: str, period_end: date) -> Claim:
    """The FHIR Claim of a subsidy claim as ``GET /subsidy-claims/{id}`` answers it
    (``invoices.settlements.claim_json``): module doc."""
    currency = c["currency"]
    period = c["period"]
    items = []
    for i, line in enumerate(c["lines"], start=1):
        item: dict[str, Any] = {
            "sequence": i,
            "productOrService": {"coding": [{"system": MEDICINE_SYSTEM, "code": line["medicine"]}]},
            "servicedDate": line["date"],
            "quantity": {"value": line["quantity"]},
            "net": _money(line["subsidy"], currency),
            "locationReference": {
                **_ident(PHARMACY_SYSTEM, line["pharmacy"]),
                "display": line["pharmacy"],
            },
        }
        if line.get("member_code"):
            item["extension"] = [
                {
                    "url": ITEM_MEMBER_URL,
                    "valueIdentifier": {"system": MEMBER_SYSTEM, "value": line["member_code"]},
                }
            ]
        items.append(item)
    body: dict[str, Any] = {
        "resourceType": "Claim",
        "id": str(c["id"]),
        "identifier": [{"system": CLAIM_SYSTEM, "value": str(c["id"])}],
        "status": "active",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "pharmacy",
                }
            ]
        },
        "use": "claim",
        "patient": {
            **_ident(SCHEME_MEMBERS_SYSTEM, c["scheme"]),
            "display": f"members of scheme {c['scheme']} (per item)",
        },
        "billablePeriod": {"start": f"{period}-01", "end": period_end.isoformat()},
        "created": c["issued_on"],
        "insurer": {**_ident(SCHEME_SYSTEM, c["scheme"]), "display": c["scheme"]},
        "provider": {**_ident(FUND_SYSTEM, "fund"), "display": fund_name},
        "priority": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/processpriority",
                    "code": "normal",
                }
            ]
        },
        "insurance": [
            {
                "sequence": 1,
                "focal": True,
                "coverage": {**_ident(SCHEME_SYSTEM, c["scheme"]), "display": c["scheme"]},
            }
        ],
        "total": _money(c["total"], currency),
    }
    if items:  # FHIR JSON has no empty arrays
        body["item"] = items
    return Claim.model_validate(body)


def to_json(resource: Bundle | Claim | MedicationDispense) -> str:
    return resource.model_dump_json(exclude_none=True)
