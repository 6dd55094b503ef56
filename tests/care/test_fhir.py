"""FHIR R4 views: the Bundle of MedicationDispense and the Claim of a subsidy claim are
validated here by the R4B models of ``fhir.resources`` (not only by the code that made
them); member codes are the patients' identifiers and no name of a person appears."""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.medicationdispense import MedicationDispense

from care.fhir import ITEM_MEMBER_URL, MEMBER_SYSTEM
from tests.care.conftest import CareFund


def fhir_get(care: CareFund, path: str, headers: dict[str, str] | None = None) -> Any:
    r = care.fund.client.get(f"/api/v1{path}", headers=headers or care.fund.finance)
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "application/fhir+json"
    return json.loads(r.get_data(as_text=True))


def no_person_names(doc: Any) -> None:
    text = json.dumps(doc)
    for key in ('"given"', '"family"', '"telecom"', '"birthDate"'):
        assert key not in text


def test_medication_dispense_bundle_validates(care: CareFund) -> None:
    doc = fhir_get(care, "/fhir/MedicationDispense?pharmacy=P1&from=2026-10-01&to=2026-10-31")
    bundle = Bundle.model_validate(doc)
    assert bundle.type == "searchset"
    # October at P1: M-00042 x2, M-00043 (GLI80 + AML5), M-00044: five lines.
    assert bundle.total == 5 and len(bundle.entry or []) == 5
    resources = [MedicationDispense.model_validate(e["resource"]) for e in doc["entry"]]
    by_id = {r.id: r for r in resources}
    returned = by_id[f"{care.returned_dispensing}-0"]
    # 30 tablets for 30 days, 10 returned: 20 tablets, 20 days.
    assert returned.quantity is not None and returned.daysSupply is not None
    assert returned.quantity.value == 20
    assert returned.daysSupply.value == 20
    assert returned.status == "completed"
    assert returned.subject is not None and returned.subject.identifier is not None
    assert returned.subject.identifier.system == MEMBER_SYSTEM
    assert returned.subject.identifier.value == "M-00042"
    assert str(returned.whenHandedOver) == "2026-10-25"
    aml = [r for r in resources if _code(r) == "AML5"]
    assert len(aml) == 1 and aml[0].daysSupply is None  # no days known
    gli = [r for r in resources if _code(r) == "GLI80"]
    assert gli[0].daysSupply is not None
    assert gli[0].daysSupply.value == 30  # the medicine's default
    for e in doc["entry"]:
        assert e["search"]["mode"] == "match"
        assert e["fullUrl"].endswith(f"/MedicationDispense/{e['resource']['id']}")
    no_person_names(doc)


def _code(r: MedicationDispense) -> str | None:
    concept = r.medicationCodeableConcept
    assert concept is not None and concept.coding
    code = concept.coding[0].code
    return None if code is None else str(code)


def _net(item: Any) -> int:
    assert item.net is not None and item.net.value is not None
    return int(item.net.value)


def test_a_pharmacist_gets_its_own_dispenses_only(care: CareFund) -> None:
    f = care.fund
    doc = fhir_get(
        care, "/fhir/MedicationDispense?from=2026-10-01&to=2026-10-31", f.other_pharmacist
    )
    assert Bundle.model_validate(doc).total == 0
    r = f.client.get(
        "/api/v1/fhir/MedicationDispense?pharmacy=P1&from=2026-10-01&to=2026-10-31",
        headers=f.other_pharmacist,
    )
    assert r.status_code == 404


def test_the_claim_of_a_subsidy_claim_validates(care: CareFund) -> None:
    claim = care.post("/subsidy-claims", {"scheme": "HEF", "period": "2026-10"})
    doc = fhir_get(care, f"/fhir/Claim/{claim['id']}")
    resource = Claim.model_validate(doc)
    assert resource.id == str(claim["id"])
    assert resource.use == "claim" and resource.status == "active"
    assert resource.total is not None
    assert str(resource.total.value) == claim["total"]
    assert resource.total.currency == "KHR"
    members = {
        ext.valueIdentifier.value if ext.valueIdentifier is not None else None
        for item in resource.item or []
        for ext in item.extension or []
        if ext.url == ITEM_MEMBER_URL
    }
    assert members == {"M-00042"}  # the only HEF member
    assert sum(_net(i) for i in resource.item or []) == int(claim["total"])
    no_person_names(doc)


def test_fhir_needs_finance_or_auditor(care: CareFund) -> None:
    claim = care.post("/subsidy-claims", {"scheme": "HEF", "period": "2026-10"})
    fhir_get(care, f"/fhir/Claim/{claim['id']}", care.fund.auditor)
    r = care.fund.client.get(f"/api/v1/fhir/Claim/{claim['id']}", headers=care.fund.pharmacist)
    assert r.status_code == 403
