"""Subsidy budgets (DESIGN.md "Funders"): a hard cap per scheme and month or year, by
service date, net of returns; the cut moves to the co-payment and the answer says so.

The fund: MET500 at 50 KHR, HEF at 50 %: 10 tablets cost 500, subsidy 250."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from contracts.pricing import FeeRule, LineRequest, SchemeTerms, price_dispensing
from tests.dispensing.conftest import Fund


def budget(f: Fund, period: str, amount: str, scheme: str = "HEF", expect: int = 201) -> Any:
    return f.post(
        f"/subsidy-schemes/{scheme}/budgets", {"period": period, "amount": amount}, expect=expect
    )


def status(f: Fund, scheme: str = "HEF") -> list[dict[str, str]]:
    return [
        {k: b[k] for k in ("period", "amount", "used", "remaining")}
        for b in f.get(f"/subsidy-schemes/{scheme}/budgets")
    ]


def check_sums(d: dict[str, Any]) -> None:
    for ln in d["lines"]:
        assert int(ln["price"]) == int(ln["subsidy"]) + int(ln["copayment"])
    assert int(d["total_price"]) == int(d["total_subsidy"]) + int(d["total_copayment"])


def test_a_month_budget_cuts_the_dispensing_that_would_pass_it_and_says_so(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    before = f.dispense([("MET500", 10)], ref="before")
    assert "budget_exhausted" not in before and "budget_cut" not in before["lines"][0]
    assert before["total_subsidy"] == "250"
    out = budget(f, "2026-10", "850")
    assert (out["period"], out["amount"], out["used"], out["remaining"]) == (
        "2026-10",
        "850",
        "250",
        "600",
    )
    a = f.dispense([("MET500", 10)], ref="a")
    assert "budget_exhausted" not in a  # within the budget: the answer as without one
    assert set(a) == set(before)
    b = f.dispense([("MET500", 10)], ref="b")
    c = f.dispense([("MET500", 10)], ref="c")
    assert (b["total_subsidy"], c["total_subsidy"]) == ("250", "100")
    assert c["budget_exhausted"] is True
    assert c["lines"][0]["budget_cut"] == "150"
    assert (c["total_copayment"], c["lines"][0]["copayment"]) == ("400", "400")
    d = f.dispense([("MET500", 10)], ref="d")
    assert (d["total_subsidy"], d["total_copayment"], d["lines"][0]["budget_cut"]) == (
        "0",
        "500",
        "250",
    )
    for x in (a, b, c, d):
        check_sums(x)
    assert status(f) == [{"period": "2026-10", "amount": "850", "used": "850", "remaining": "0"}]
    assert f.balance("1300-HEF") == 850
    # the recorded dispensing reads back with the amounts it was recorded with
    got = f.get(f"/dispensings/{c['id']}")
    assert got["total_subsidy"] == "100" and got["total_copayment"] == "400"
    # a cut dispensing's entry is what its document gives (dispensing.verify)
    assert f.get("/audit/verify")["ok"] is True
    # a quote says so before anything is recorded
    q = f.post(
        "/dispensings/quote",
        {
            "pharmacy": "P1",
            "patient": "M-00042",
            "service_date": "2026-10-20",
            "items": [{"medicine": "MET500", "quantity": 4}],
        },
        f.pharmacist,
        expect=200,
    )
    assert q["budget_exhausted"] is True and q["total_subsidy"] == "0"
    # another month has no budget: the answer as ever
    nov = f.dispense([("MET500", 10)], date="2026-11-02", ref="nov")
    assert nov["total_subsidy"] == "250" and "budget_exhausted" not in nov


def test_a_scheme_cut_over_several_lines_is_taken_in_request_order(fresh_fund: Fund) -> None:
    f = fresh_fund
    budget(f, "2026-10", "300")
    # MET500 10 = 500 (subsidy 250), AML5 5 = 600 (subsidy 300): 550 asked, 300 left
    d = f.dispense([("MET500", 10), ("AML5", 5)])
    assert [ln["subsidy"] for ln in d["lines"]] == ["250", "50"]
    assert [ln["budget_cut"] for ln in d["lines"]] == ["0", "250"]
    assert d["total_subsidy"] == "300"
    check_sums(d)


def test_returns_give_the_budget_back_to_the_month_of_the_dispensing(fresh_fund: Fund) -> None:
    f = fresh_fund
    budget(f, "2026-10", "500")
    first = f.dispense([("MET500", 10)], ref="1")
    f.dispense([("MET500", 10)], ref="2")
    cut = f.dispense([("MET500", 10)], ref="3")
    assert cut["total_subsidy"] == "0" and cut["budget_exhausted"] is True
    # a return booked in November gives October's budget back
    f.post(
        f"/dispensings/{first['id']}/returns",
        {"items": [{"medicine": "MET500", "quantity": 4}], "date": "2026-11-03"},
        f.pharmacist,
    )
    assert status(f) == [{"period": "2026-10", "amount": "500", "used": "400", "remaining": "100"}]
    again = f.dispense([("MET500", 10)], ref="4")
    assert again["total_subsidy"] == "100" and again["lines"][0]["budget_cut"] == "150"
    f.post(
        f"/dispensings/{first['id']}/returns",
        {"items": [{"medicine": "MET500", "quantity": 6}], "date": "2026-11-03"},
        f.pharmacist,
    )
    assert status(f)[0]["used"] == "350"
    full = f.dispense([("MET500", 10)], ref="5")
    assert full["total_subsidy"] == "150"
    assert status(f)[0] == {"period": "2026-10", "amount": "500", "used": "500", "remaining": "0"}


def test_a_budget_change_mid_month_is_a_new_version_in_force_from_then_on(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    budget(f, "2026-10", "300")
    assert f.dispense([("MET500", 10)], ref="1")["total_subsidy"] == "250"
    raised = budget(f, "2026-10", "1000")
    assert (raised["amount"], raised["used"], raised["remaining"]) == ("1000", "250", "750")
    assert f.dispense([("MET500", 10)], ref="2")["total_subsidy"] == "250"  # 50 under the old
    lowered = budget(f, "2026-10", "400")
    assert (lowered["used"], lowered["remaining"]) == ("500", "0")
    d = f.dispense([("MET500", 10)], ref="3")
    assert (d["total_subsidy"], d["lines"][0]["budget_cut"]) == ("0", "250")
    assert status(f) == [{"period": "2026-10", "amount": "400", "used": "500", "remaining": "0"}]


def test_a_year_budget_runs_across_months_and_the_smaller_of_month_and_year_binds(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    budget(f, "2026", "700")
    budget(f, "2026-11", "200")
    assert f.dispense([("MET500", 10)], date="2026-10-14", ref="oct")["total_subsidy"] == "250"
    nov = f.dispense([("MET500", 10)], date="2026-11-14", ref="nov1")
    assert (nov["total_subsidy"], nov["lines"][0]["budget_cut"]) == ("200", "50")  # month binds
    nov2 = f.dispense([("MET500", 10)], date="2026-11-15", ref="nov2")
    assert nov2["total_subsidy"] == "0"
    oct2 = f.dispense([("MET500", 10)], date="2026-10-20", ref="oct2")
    assert oct2["total_subsidy"] == "250" and "budget_exhausted" not in oct2  # 450 of 700
    oct3 = f.dispense([("MET500", 10)], date="2026-10-21", ref="oct3")
    assert (oct3["total_subsidy"], oct3["lines"][0]["budget_cut"]) == ("0", "250")  # year binds
    assert status(f) == [
        {"period": "2026", "amount": "700", "used": "700", "remaining": "0"},
        {"period": "2026-11", "amount": "200", "used": "200", "remaining": "0"},
    ]


def test_cash_rounding_at_the_budget_boundary_rounds_the_cut_up_never_past_the_price(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    f.post(
        "/subsidy-schemes",
        {
            "code": "CR",
            "name": "Rounded",
            "payer": "external",
            "percent": "50",
            "cash_rounding": "100",
        },
    )
    f.post(
        "/patients",
        {"member_code": "M-CR", "enrolments": [{"scheme": "CR", "valid_from": "2026-01-01"}]},
    )
    budget(f, "2026-10", "120", scheme="CR")
    # 7 tablets: price 350, subsidy 175, co-payment 175 rounded to 200: subsidy 150;
    # 120 left: cut 30, rounded up to 100: subsidy 50, co-payment 300
    a = f.dispense([("MET500", 7)], patient="M-CR", ref="a")
    assert (a["total_subsidy"], a["total_copayment"], a["lines"][0]["budget_cut"]) == (
        "50",
        "300",
        "100",
    )
    # 70 left: cut 80 -> 100: subsidy 50
    b = f.dispense([("MET500", 7)], patient="M-CR", ref="b")
    assert (b["total_subsidy"], b["total_copayment"]) == ("50", "300")
    # 20 left: cut 130 -> 200, but never past the subsidy (150): co-payment = the price
    c = f.dispense([("MET500", 7)], patient="M-CR", ref="c")
    assert (c["total_subsidy"], c["total_copayment"], c["lines"][0]["budget_cut"]) == (
        "0",
        "350",
        "150",
    )
    for x in (a, b, c):
        check_sums(x)
    assert status(f, "CR") == [
        {"period": "2026-10", "amount": "120", "used": "100", "remaining": "20"}
    ]


def test_a_batch_carries_the_used_budget_from_record_to_record(fresh_fund: Fund) -> None:
    f = fresh_fund
    budget(f, "2026-10", "600")
    records = [
        {
            "pharmacy": "P1",
            "patient": "M-00042",
            "service_date": "2026-10-14",
            "client_ref": f"b-{i}",
            "items": [{"medicine": "MET500", "quantity": 10}],
        }
        for i in range(5)
    ]
    out = f.post("/dispensings/batch", {"dispensings": records}, f.pharmacist, expect=200)
    got = [r["dispensing"]["total_subsidy"] for r in out["results"]]
    assert got == ["250", "250", "100", "0", "0"]
    assert [r["dispensing"].get("budget_exhausted") for r in out["results"]] == [
        None,
        None,
        True,
        True,
        True,
    ]
    assert status(f)[0]["used"] == "600"


@pytest.mark.parametrize(
    ("period", "amount", "field"),
    [
        ("2026-10", "-5", "amount"),
        ("2026-10", "0", "amount"),
        ("2026-10", "12.5", "amount"),
        ("2026-13", "100", "period"),
        ("2026-1", "100", "period"),
        ("26", "100", "period"),
        ("2026-10-01", "100", "period"),
        ("2026-Q1", "100", "period"),
        ("1999", "100", "period"),
    ],
)
def test_a_budget_that_is_not_positive_or_not_for_a_month_or_a_year_is_a_422(
    fresh_fund: Fund, period: str, amount: str, field: str
) -> None:
    p = budget(fresh_fund, period, amount, expect=422)
    assert field in p["errors"], p
    assert fresh_fund.get("/subsidy-schemes/HEF/budgets") == []


def test_a_budget_of_an_unknown_scheme_is_a_404(fresh_fund: Fund) -> None:
    budget(fresh_fund, "2026-10", "100", scheme="NOPE", expect=404)
    fresh_fund.get("/subsidy-schemes/NOPE/budgets", expect=404)


# --------------------------------------------------------------------------- pure pricing


HALF = SchemeTerms("S", "external", Fraction(50), None, None, None, None)
FEE = FeeRule("per_dispensing", Fraction(0))


def test_pricing_without_a_budget_is_unchanged() -> None:
    lines = [LineRequest("A", 10, Fraction(50))]
    assert price_dispensing(lines, HALF, FEE) == price_dispensing(lines, HALF, FEE, 0, None)
    assert price_dispensing(lines, HALF, FEE, budget_left=250).budget_cuts is None


@pytest.mark.parametrize("left", [0, 1, 99, 100, 101, 149, 150, 151, 175, 1000])
def test_pricing_never_passes_the_budget_and_sums_back(left: int) -> None:
    scheme = SchemeTerms("S", "external", Fraction(50), None, None, None, 100)
    p = price_dispensing(
        [LineRequest("A", 3, Fraction(50)), LineRequest("B", 4, Fraction(50))], scheme, FEE, 0, left
    )
    assert p.total_subsidy <= left or p.budget_cuts is None
    assert all(ln.price == ln.subsidy + ln.copayment and ln.copayment <= ln.price for ln in p.lines)
    if p.budget_cuts is not None:
        assert sum(p.budget_cuts) % 100 == 0 or p.total_subsidy == 0
