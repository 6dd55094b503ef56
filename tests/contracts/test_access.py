"""Who may do what with contracts: finance writes, finance and auditor read, a pharmacist
reads its own pharmacy's contracts and the price lists they use, and looks patients up."""

from __future__ import annotations

import pytest

from tests.contracts.conftest import Api, snapshot

WRITES = [
    ("/price-lists", {"code": "Z", "currency": "KHR"}),
    (
        "/price-lists/RETAIL/versions",
        {"effective_from": "2026-05-01", "items": [{"medicine": "MET500", "unit_price": "1"}]},
    ),
    ("/subsidy-schemes", {"code": "Z", "name": "Z", "payer": "fund", "percent": 1}),
    ("/patients", {"member_code": "M-Z"}),
    ("/patients/M-3/enrolments", {"scheme": "HEF", "valid_from": "2026-01-01"}),
    (
        "/pharmacies/P2/contracts",
        {
            "valid_from": "2026-01-01",
            "model": "consignment",
            "price_list": "RETAIL",
            "fee": {"kind": "per_line", "value": 1},
        },
    ),
    ("/pharmacies/P1/contracts/1/suspend", {}),
    ("/pharmacies/P1/contracts/1/end", {}),
]


@pytest.mark.parametrize("role", ["auditor", "pharmacist-P1", "pharmacist-P2"])
def test_only_finance_writes_contracts(world: Api, role: str) -> None:
    before = snapshot(world.app)
    for path, body in WRITES:
        r = world.post(path, body, role=role)
        assert r.status_code == 403, (path, r.get_json())
    assert snapshot(world.app) == before
    assert world.get("/pharmacies/P1/contracts/1").get_json()["status"] == "active"


def test_without_a_token_nothing_is_readable(world: Api) -> None:
    assert world.client.get("/api/v1/price-lists").status_code == 401
    assert world.client.get("/api/v1/patients/M-1").status_code == 401


def test_the_auditor_reads_everything(world: Api) -> None:
    for path in (
        "/price-lists",
        "/price-lists/WHOLE",
        "/subsidy-schemes",
        "/subsidy-schemes/HEF",
        "/patients",
        "/patients/M-1",
        "/pharmacies/P1/contracts",
        "/pharmacies/P1/contracts/1",
    ):
        assert world.get(path, role="auditor").status_code == 200, path


def test_a_pharmacist_reads_its_own_contract_and_price_list(world: Api) -> None:
    own = world.get("/pharmacies/P1/contracts", role="pharmacist-P1")
    assert own.status_code == 200 and len(own.get_json()["items"]) == 1
    assert world.get("/pharmacies/P1/contracts/1", role="pharmacist-P1").status_code == 200
    assert world.get("/price-lists/RETAIL", role="pharmacist-P1").status_code == 200
    listed = world.get("/price-lists", role="pharmacist-P1").get_json()["items"]
    assert [p["code"] for p in listed] == ["RETAIL"]


def test_a_pharmacist_cannot_see_another_pharmacys_contract_or_lists(world: Api) -> None:
    assert world.get("/pharmacies/P1/contracts", role="pharmacist-P2").status_code == 404
    assert world.get("/pharmacies/P1/contracts/1", role="pharmacist-P2").status_code == 404
    assert world.get("/price-lists/RETAIL", role="pharmacist-P2").status_code == 404
    assert world.get("/price-lists/WHOLE", role="pharmacist-P1").status_code == 404
    assert world.get("/price-lists", role="pharmacist-P2").get_json()["items"] == []


def test_a_pharmacist_looks_a_patient_up_but_cannot_list_them(world: Api) -> None:
    r = world.get("/patients/M-1", role="pharmacist-P2")
    assert r.status_code == 200 and r.get_json()["enrolments"][0]["scheme"] == "HEF"
    assert world.get("/patients/M-404", role="pharmacist-P2").status_code == 404
    assert world.get("/patients", role="pharmacist-P1").status_code == 403
    assert world.get("/subsidy-schemes", role="pharmacist-P1").status_code == 403
