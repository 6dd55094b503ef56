"""A small fund with care data, built through the API on top of the dispensing tests' fund
(tests/dispensing/conftest.py): a diabetes medicine with a default of 30 days, two peer
educators, three patients, and an October-November whose figures are worked by hand in
the tests.

Record (all at P1 unless said):

* M-00042 (educator E1): Oct 3 MET500 30 tablets, 30 days (Oct 3-Nov 1); Oct 25 MET500 30
  tablets, 30 days, carried forward (Nov 2-Dec 1), then 10 of them returned: 20 days left
  (Nov 2-21).
* M-00043 (educator E2): Oct 10 GLI80 30 (class "diabetes", default 30 days: Oct 10-Nov 8);
  Nov 20 GLI80 30 (Nov 20-Dec 19); Oct 10 AML5 10 with no days at all (counts no days).
* M-00044 (educator E1, stopped refilling): Oct 3 MET500 30 tablets, 30 days (Oct 3-Nov 1).
* Stock at P1: MET500 and AML5 arrive Oct 2, GLI80 (60 units) on Oct 5; 10 AML5 written
  off as expired on Nov 5 (value 300); P1 remits 1000 KHR on Dec 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.auth import create_user
from tests.dispensing.conftest import Fund, build_fund
from tests.support import bearer


@dataclass
class CareFund:
    fund: Fund
    e1: dict[str, str]
    e2: dict[str, str]
    returned_dispensing: str

    def get(self, path: str, headers: dict[str, str] | None = None, expect: int = 200) -> Any:
        return self.fund.get(path, headers, expect)

    def post(
        self, path: str, body: Any, headers: dict[str, str] | None = None, expect: int = 201
    ) -> Any:
        return self.fund.post(path, body, headers, expect)


def dispense(
    f: Fund, patient: str, on: str, items: list[dict[str, Any]], pharmacy: str = "P1"
) -> Any:
    headers = f.pharmacist if pharmacy == "P1" else f.other_pharmacist
    return f.post(
        "/dispensings",
        {"pharmacy": pharmacy, "patient": patient, "service_date": on, "items": items},
        headers,
    )


def build_care(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> CareFund:
    f = build_fund(app, client, tokens)
    f.post(
        "/medicines",
        {
            "code": "GLI80",
            "name": "Gliclazide",
            "strength": "80 mg",
            "form": "tablet",
            "unit": "tablet",
            "therapeutic_class": "diabetes",
            "default_days_supply": 30,
        },
    )
    f.post(
        "/stock/receipts",
        {
            "supplier": "S1",
            "location": "CENTRAL",
            "date": "2026-10-01",
            "lines": [
                {
                    "medicine": "GLI80",
                    "lot": "G1",
                    "expiry": "2028-01-31",
                    "quantity": 200,
                    "total_cost": "8000",
                }
            ],
        },
    )
    f.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P1",
            "date": "2026-10-05",
            "lines": [{"medicine": "GLI80", "quantity": 60}],
        },
    )
    f.post(
        "/price-lists/PL1/versions",
        {
            "effective_from": "2026-01-02",
            "items": [
                {"medicine": "MET500", "unit_price": "50"},
                {"medicine": "AML5", "unit_price": "120"},
                {"medicine": "GLI80", "unit_price": "80"},
            ],
        },
    )
    f.post("/patients", {"member_code": "M-00044", "enrolments": []})
    for code, district in (("E1", "Doun Kaev"), ("E2", "Bati")):
        f.post("/peer-educators", {"code": code, "network": "MoPoTsyo", "district": district})
    for patient, educator in (("M-00042", "E1"), ("M-00043", "E2"), ("M-00044", "E1")):
        f.post(f"/patients/{patient}/educator", {"educator": educator, "valid_from": "2026-01-01"})

    dispense(
        f, "M-00042", "2026-10-03", [{"medicine": "MET500", "quantity": 30, "days_supply": 30}]
    )
    d = dispense(
        f, "M-00042", "2026-10-25", [{"medicine": "MET500", "quantity": 30, "days_supply": 30}]
    )
    f.post(
        f"/dispensings/{d['id']}/returns",
        {"items": [{"medicine": "MET500", "quantity": 10}], "date": "2026-10-28"},
        f.pharmacist,
    )
    dispense(
        f,
        "M-00043",
        "2026-10-10",
        [{"medicine": "GLI80", "quantity": 30}, {"medicine": "AML5", "quantity": 10}],
    )
    dispense(f, "M-00043", "2026-11-20", [{"medicine": "GLI80", "quantity": 30}])
    dispense(
        f, "M-00044", "2026-10-03", [{"medicine": "MET500", "quantity": 30, "days_supply": 30}]
    )
    f.post(
        "/stock/write-offs",
        {
            "location": "P1",
            "date": "2026-11-05",
            "reason": "expired",
            "lines": [{"medicine": "AML5", "lot": "A1", "quantity": 10}],
        },
    )
    f.post(
        "/payments",
        {
            "date": "2026-12-03",
            "direction": "in",
            "counterparty": {"kind": "pharmacy", "code": "P1"},
            "amount": "1000",
            "currency": "KHR",
            "reference": "P1-NOV",
        },
    )
    with app.extensions["rdf_db"].session() as s:
        _u, t1 = create_user(s, "educator-e1", "educator", educator="E1")
        _u, t2 = create_user(s, "educator-e2", "educator", educator="E2")
        s.commit()
    return CareFund(f, bearer(t1), bearer(t2), d["id"])


@pytest.fixture
def care(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> CareFund:
    return build_care(app, client, tokens)
