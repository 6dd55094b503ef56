"""A small fund built through the API, ready for a pharmacist's day (DESIGN.md's worked
example): 1,000 MET500 lot L1 received for 35,000 KHR, 400 of them at pharmacy P1, priced
at 50 KHR, a HEF scheme at 50 %, patient M-00042 enrolled, a consignment contract with a
10 % fee."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ledger.auth import create_user
from tests.conftest import bearer


@dataclass
class Fund:
    client: FlaskClient
    finance: dict[str, str]
    auditor: dict[str, str]
    pharmacist: dict[str, str]
    other_pharmacist: dict[str, str]

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None,
             expect: int | None = 201) -> Any:
        r = self.client.post(f"/api/v1{path}", json=body, headers=headers or self.finance)
        if expect is not None:
            assert r.status_code == expect, (path, r.status_code, r.get_json())
        return r.get_json()

    def get(self, path: str, headers: dict[str, str] | None = None, expect: int = 200) -> Any:
        r = self.client.get(f"/api/v1{path}", headers=headers or self.finance)
        assert r.status_code == expect, (path, r.status_code, r.get_json())
        return r.get_json()

    def balance(self, account: str, commodity: str = "KHR", lot: str | None = None) -> int:
        data = self.get(f"/accounts/{account}/balance")
        return sum(int(b["amount"].replace(".", "")) for b in data["balances"]
                   if b["commodity"] == commodity and (lot is None or b["lot"] == lot))

    def dispense(self, items: list[tuple[str, int]], *, patient: str | None = "M-00042",
                 date: str = "2026-10-14", ref: str | None = None, pharmacy: str = "P1",
                 headers: dict[str, str] | None = None, expect: int | None = 201) -> Any:
        body: dict[str, Any] = {"pharmacy": pharmacy, "patient": patient, "service_date": date,
                                "items": [{"medicine": m, "quantity": q} for m, q in items]}
        if ref is not None:
            body["client_ref"] = ref
        return self.post("/dispensings", body, headers or self.pharmacist, expect)


@pytest.fixture
def fund(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> Fund:
    fin = bearer(tokens["finance"])
    f = Fund(client, fin, bearer(tokens["auditor"]), {}, {})
    f.post("/medicines", {"code": "MET500", "name": "Metformin", "strength": "500 mg",
                          "form": "tablet", "unit": "tablet"})
    f.post("/medicines", {"code": "AML5", "name": "Amlodipine", "strength": "5 mg",
                          "form": "tablet", "unit": "tablet"})
    f.post("/suppliers", {"code": "S1", "name": "Supplier One"})
    for code in ("P1", "P2"):
        f.post("/pharmacies", {"code": code, "name": f"Pharmacy {code}", "province": "Takeo",
                               "district": "Doun Kaev"})
    f.post("/stock/receipts", {"supplier": "S1", "location": "CENTRAL", "date": "2026-10-01",
                               "lines": [
                                   {"medicine": "MET500", "lot": "L1", "expiry": "2028-03-31",
                                    "quantity": 1000, "total_cost": "35000"},
                                   {"medicine": "AML5", "lot": "A1", "expiry": "2028-06-30",
                                    "quantity": 300, "total_cost": "9000"}]})
    f.post("/stock/transfers", {"from": "CENTRAL", "to": "P1", "date": "2026-10-02",
                                "lines": [{"medicine": "MET500", "quantity": 400},
                                          {"medicine": "AML5", "quantity": 100}]})
    f.post("/price-lists", {"code": "PL1", "currency": "KHR"})
    f.post("/price-lists/PL1/versions", {"effective_from": "2026-01-01", "items": [
        {"medicine": "MET500", "unit_price": "50"}, {"medicine": "AML5", "unit_price": "120"}]})
    f.post("/subsidy-schemes", {"code": "HEF", "name": "Health Equity Fund", "payer": "external",
                                "percent": "50"})
    f.post("/patients", {"member_code": "M-00042",
                         "enrolments": [{"scheme": "HEF", "valid_from": "2026-01-01"}]})
    f.post("/patients", {"member_code": "M-00043", "enrolments": []})
    for code in ("P1", "P2"):
        f.post(f"/pharmacies/{code}/contracts", {
            "valid_from": "2026-01-01", "model": "consignment", "price_list": "PL1",
            "fee": {"kind": "percent", "value": "10"}})
    with app.extensions["rdf_db"].session() as s:
        _u, t1 = create_user(s, "pharmacist-p1", "pharmacist", "P1")
        _u, t2 = create_user(s, "pharmacist-p2", "pharmacist", "P2")
        s.commit()
    f.pharmacist = bearer(t1)
    f.other_pharmacist = bearer(t2)
    return f


@pytest.fixture
def make_fund(fund: Fund) -> Callable[[], Fund]:
    return lambda: fund
