"""On PostgreSQL, twenty counters dispensing at the same second against one budget never take
it past its amount by one riel (the lock per scheme and period in ``dispensing.budget``),
and a scheme without a budget is not serialised by it."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from flask import Flask

from tests.dispensing.conftest import Fund
from tests.dispensing.test_dispensing_races import race

pytestmark = pytest.mark.postgres_only


def body(ref: str, patient: str = "M-00042") -> dict[str, Any]:
    return {
        "pharmacy": "P1",
        "patient": patient,
        "service_date": "2026-10-14",
        "client_ref": ref,
        "items": [{"medicine": "MET500", "quantity": 10}],
    }


def test_20_threads_against_a_budget_of_13_full_subsidies_and_a_part_never_pass_it(
    pg_fund: tuple[Flask, Fund],
) -> None:
    app, f = pg_fund
    # each dispensing: 10 x 50 = 500, subsidy 250; the budget: 13 full subsidies and 50
    f.post("/subsidy-schemes/HEF/budgets", {"period": "2026-10", "amount": "3300"})
    jobs = [(f.pharmacist, body(f"race-{i}")) for i in range(20)]
    results = race(app, jobs, threads=20)
    assert [status for status, _ in results] == [201] * 20
    answers = [json.loads(data) for _, data in results]
    subsidies = Counter(a["total_subsidy"] for a in answers)
    assert subsidies == {"250": 13, "50": 1, "0": 6}, subsidies
    assert sum(int(a["total_subsidy"]) for a in answers) == 3300
    for a in answers:
        for ln in a["lines"]:
            assert int(ln["price"]) == int(ln["subsidy"]) + int(ln["copayment"]) == 500
        assert a.get("budget_exhausted") is (True if a["total_subsidy"] != "250" else None)
    assert f.balance("1300-HEF") == 3300
    assert f.balance("1200-P1") == 20 * 500 - 3300
    (b,) = f.get("/subsidy-schemes/HEF/budgets")
    assert (b["amount"], b["used"], b["remaining"]) == ("3300", "3300", "0")


def test_a_budget_of_one_scheme_does_not_hold_back_another_scheme(
    pg_fund: tuple[Flask, Fund],
) -> None:
    app, f = pg_fund
    f.post(
        "/subsidy-schemes",
        {"code": "FREE", "name": "No budget", "payer": "fund", "percent": "100"},
    )
    f.post(
        "/patients",
        {"member_code": "M-FREE", "enrolments": [{"scheme": "FREE", "valid_from": "2026-01-01"}]},
    )
    f.post("/subsidy-schemes/HEF/budgets", {"period": "2026", "amount": "1000"})
    jobs = []
    for i in range(10):
        jobs.append((f.pharmacist, body(f"hef-{i}")))
        jobs.append((f.pharmacist, body(f"free-{i}", patient="M-FREE")))
    results = race(app, jobs, threads=10)
    assert [status for status, _ in results] == [201] * 20
    answers = [json.loads(data) for _, data in results]
    hef = sum(int(a["total_subsidy"]) for a in answers if a["client_ref"].startswith("hef"))
    free = [a for a in answers if a["client_ref"].startswith("free")]
    assert hef == 1000
    assert all(a["total_subsidy"] == "500" and "budget_exhausted" not in a for a in free)
