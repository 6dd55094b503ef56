"""Donated medicines traced to the tablet (DESIGN.md "Funders"): donors, donated receipts,
the donor report of a worked month checked by hand to the unit and the riel, and the donated
side of fund health.

The worked month (October 2026), on the worked example's fund (1,000 MET500 lot L1 bought
for 35,000 KHR, 400 of them at P1; MET500 at 50 KHR, HEF 50 %):

* 10-05 donor GA gives 500 MET500 lot DL1 (expires 2027-01-31, before L1) worth 20,000 into
  CENTRAL;
* 10-06 300 MET500 to P1: FEFO takes DL1 (it expires first): value round(20000*300/500) =
  12,000;
* 10-14 dispensing of 60 at P1: DL1 again (before L1): round(12000*60/300) = 2,400;
* 10-15 dispensing of 25: round(9600*25/240) = 1,000;
* 10-20 return of 10 of the first: back at round(2400*10/60) = 400;
* 10-25 write-off at P1 of 5 DL1 (damaged): P1 holds 225 worth 9,000: round(9000*5/225) = 200;
* 10-26 write-off at CENTRAL of 20 DL1: CENTRAL holds 200 worth 8,000: 800.

CENTRAL: received 500 / 20,000 = transferred out 300 / 12,000 + written off 20 / 800 + on
hand 180 / 7,200. P1: transferred in 300 / 12,000 = dispensed 85 / 3,400 − returned 10 / 400
+ written off 5 / 200 + on hand 220 / 8,800.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from tests.dispensing.conftest import Fund


def donor(f: Fund, code: str = "GA", name: str = "Global Aid", expect: int = 201) -> Any:
    return f.post("/donors", {"code": code, "name": name}, expect=expect)


def donated(
    f: Fund,
    lines: list[dict[str, Any]],
    *,
    donor_code: str | None = "GA",
    date: str = "2026-10-05",
    expect: int = 201,
    supplier: str | None = None,
) -> Any:
    body: dict[str, Any] = {
        "location": "CENTRAL",
        "date": date,
        "funding": {"kind": "donated", "donor": donor_code},
        "lines": lines,
    }
    if supplier is not None:
        body["supplier"] = supplier
    return f.post("/stock/receipts", body, expect=expect)


def line(lot: str = "DL1", quantity: int = 500, **amount: str) -> dict[str, Any]:
    return {
        "medicine": "MET500",
        "lot": lot,
        "expiry": "2027-01-31",
        "quantity": quantity,
        **amount,
    }


def worked_month(f: Fund) -> None:
    donor(f)
    r = donated(f, [line(fair_value="20000")])
    assert r["funding"] == {"kind": "donated", "donor": "GA"}
    assert r["lines"][0]["fair_value"] == "20000" and "total_cost" not in r["lines"][0]
    t = f.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P1",
            "date": "2026-10-06",
            "lines": [{"medicine": "MET500", "quantity": 300}],
        },
    )
    assert [(x["lot"], x["quantity"], x["value"]) for x in t["lines"][0]["lots"]] == [
        ("DL1", 300, "12000")
    ]
    d1 = f.dispense([("MET500", 60)], date="2026-10-14", ref="d1")
    assert d1["lines"][0]["lots"][0]["lot"] == "DL1" and d1["lines"][0]["cost"] == "2400"
    d2 = f.dispense([("MET500", 25)], date="2026-10-15", ref="d2")
    assert d2["lines"][0]["cost"] == "1000"
    f.post(
        f"/dispensings/{d1['id']}/returns",
        {"items": [{"medicine": "MET500", "quantity": 10}], "date": "2026-10-20"},
        f.pharmacist,
    )
    for place, qty, day in (("P1", 5, "2026-10-25"), ("CENTRAL", 20, "2026-10-26")):
        f.post(
            "/stock/write-offs",
            {
                "location": place,
                "date": day,
                "reason": "damaged",
                "lines": [{"medicine": "MET500", "lot": "DL1", "quantity": qty}],
            },
        )


def fig(units: int, value: int) -> dict[str, Any]:
    return {"units": units, "value": str(value)}


def place(location: str, **figures: tuple[int, int]) -> dict[str, Any]:
    names = (
        "opening",
        "received",
        "transferred_in",
        "transferred_out",
        "dispensed",
        "returned",
        "written_off",
        "count_difference",
        "other",
        "on_hand",
    )
    return {"location": location, **{n: fig(*figures.get(n, (0, 0))) for n in names}}


CENTRAL = place(
    "CENTRAL",
    received=(500, 20000),
    transferred_out=(300, 12000),
    written_off=(20, 800),
    on_hand=(180, 7200),
)
P1 = place(
    "P1",
    transferred_in=(300, 12000),
    dispensed=(85, 3400),
    returned=(10, 400),
    written_off=(5, 200),
    on_hand=(220, 8800),
)


def test_the_donor_report_of_a_worked_month_to_the_unit_and_the_riel(fresh_fund: Fund) -> None:
    f = fresh_fund
    worked_month(f)
    out = f.get("/reports/donations?donor=GA&from=2026-10-01&to=2026-10-31")
    assert (out["donor"], out["from"], out["to"], out["currency"]) == (
        "GA",
        "2026-10-01",
        "2026-10-31",
        "KHR",
    )
    (lot,) = out["lots"]
    assert (lot["medicine"], lot["lot"], lot["expiry"], lot["donor"]) == (
        "MET500",
        "DL1",
        "2027-01-31",
        "GA",
    )
    assert lot["places"] == [CENTRAL, P1]
    totals = place(
        "x",
        received=(500, 20000),
        transferred_in=(300, 12000),
        transferred_out=(300, 12000),
        dispensed=(85, 3400),
        returned=(10, 400),
        written_off=(25, 1000),
        on_hand=(400, 16000),
    )
    del totals["location"]
    assert lot["totals"] == totals
    # the books agree: the lot's balances and the donor's equity
    assert f.balance("1400-CENTRAL", "MET500", lot="DL1") == 180
    assert f.balance("1400-CENTRAL", "KHR", lot="DL1") == 7200
    assert f.balance("1400-P1", "MET500", lot="DL1") == 220
    assert f.balance("1400-P1", "KHR", lot="DL1") == 8800
    assert f.balance("3200-GA") == -20000
    assert f.balance("2000-S1") == -44000  # the purchase only: the donation owes nobody

    # a later period opens with what the month left
    nov = f.get("/reports/donations?donor=GA&from=2026-11-01&to=2026-11-30")
    assert nov["lots"][0]["places"] == [
        place("CENTRAL", opening=(180, 7200), on_hand=(180, 7200)),
        place("P1", opening=(220, 8800), on_hand=(220, 8800)),
    ]
    # another donor gave nothing
    donor(f, "OTHER", "Other")
    assert f.get("/reports/donations?donor=OTHER")["lots"] == []


def test_the_donor_report_as_csv_xlsx_and_pdf_carries_the_same_figures(fresh_fund: Fund) -> None:
    f = fresh_fund
    worked_month(f)
    q = "donor=GA&from=2026-10-01&to=2026-10-31"
    r = f.client.get(f"/api/v1/reports/donations?{q}", headers={**f.auditor, "Accept": "text/csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.data.decode("utf-8"))))
    assert [row["location"] for row in rows] == ["CENTRAL", "P1", "TOTAL"]
    assert (rows[0]["received_units"], rows[0]["received_value"]) == ("500", "20000")
    assert (rows[1]["on_hand_units"], rows[1]["on_hand_value"]) == ("220", "8800")
    assert rows[1]["dispensed_value"] == "3400"
    for suffix, mime in (
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("pdf", "application/pdf"),
    ):
        r = f.client.get(f"/api/v1/reports/donations.{suffix}?{q}", headers=f.auditor)
        assert r.status_code == 200 and r.mimetype == mime, (suffix, r.status_code)
    pdf = f.client.get(
        f"/api/v1/reports/donations?{q}", headers={**f.finance, "Accept": "application/pdf"}
    )
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert f.client.get(f"/api/v1/reports/donations?{q}", headers=f.pharmacist).status_code == 403


def test_fund_health_shows_cost_recovery_without_donated_stock_and_the_replacement_gap(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    worked_month(f)
    h = f.get("/reports/fund-health?from=2026-10-01&to=2026-10-31")
    d = h["donated"]
    # donated value consumed: dispensed 3,400 - returned 400 + written off 1,000
    assert d["donated_cost"] == "4000"
    total = int(h["figures"]["total_cost"])
    assert d["cost_excluding_donated"] == str(total - 4000)
    # 75 donated tablets dispensed net; the latest purchase of MET500: 1,000 for 35,000
    assert d["replacement_gap"] == "2625"
    assert d["replacement_gap_lines"] == [
        {
            "medicine": "MET500",
            "units": 75,
            "unit_cost": "35",
            "purchase_on": "2026-10-01",
            "gap": "2625",
        }
    ]
    assert d["no_purchase_price"] == []
    revenue = int(h["figures"]["revenue"])
    assert revenue == (85 - 10) * 50
    expected = Fraction(revenue, total - 4000)
    assert abs(Fraction(d["cost_recovery_excluding_donated"]) - expected) < Fraction(1, 10**4)
    csv_text = f.client.get(
        "/api/v1/reports/fund-health?from=2026-10-01&to=2026-10-31&format=csv", headers=f.finance
    ).data.decode("utf-8")
    assert "# Replacement gap" in csv_text and "2625" in csv_text
    # converted (?in=, DESIGN.md "Two currencies"): the donated block is converted too, at
    # the rate of the range's last day; in the fund currency it is the same block
    f.post("/fx-rates", {"date": "2026-10-31", "base": "USD", "quote": "KHR", "rate": "4000"})
    q = "/reports/fund-health?from=2026-10-01&to=2026-10-31&in="
    assert f.get(q + "KHR")["donated"] == d
    usd = f.get(q + "USD")
    du = usd["donated"]
    assert (du["donated_cost"], du["replacement_gap"]) == ("1.00", "0.66")  # 4,000 and 2,625
    assert du["replacement_gap_lines"][0]["gap"] == "0.66"
    paid = Decimal(usd["figures"]["total_cost"]) - Decimal("1.00")
    assert du["cost_excluding_donated"] == f"{paid:.2f}"
    expected_usd = Fraction(Decimal(usd["figures"]["revenue"])) / Fraction(paid)
    assert abs(Fraction(du["cost_recovery_excluding_donated"]) - expected_usd) < Fraction(1, 10**4)


def test_a_donated_medicine_never_bought_has_no_purchase_price_and_stays_out_of_the_gap(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    donor(f)
    # AML5 was bought (9,000 for 300); a later donated AML5 lot expiring first is dispensed
    donated(
        f,
        [
            {
                "medicine": "AML5",
                "lot": "DA1",
                "expiry": "2027-01-31",
                "quantity": 50,
                "fair_value": "0",
            }
        ],
    )
    f.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P1",
            "date": "2026-10-06",
            "lines": [{"medicine": "AML5", "quantity": 50, "lot": "DA1"}],
        },
    )
    f.dispense([("AML5", 7)], ref="a")
    d = f.get("/reports/fund-health?from=2026-10-01&to=2026-10-31")["donated"]
    assert d["replacement_gap"] == "210"  # 7 x 30
    assert d["donated_cost"] == "0"  # a fair value of 0
    # a medicine the fund never bought
    f.post(
        "/medicines",
        {
            "code": "PARA",
            "name": "Paracetamol",
            "strength": "500 mg",
            "form": "tablet",
            "unit": "tablet",
        },
    )
    f.post(
        "/price-lists/PL1/versions",
        {
            "effective_from": "2026-10-10",
            "items": [
                {"medicine": "MET500", "unit_price": "50"},
                {"medicine": "AML5", "unit_price": "120"},
                {"medicine": "PARA", "unit_price": "10"},
            ],
        },
    )
    donated(
        f,
        [
            {
                "medicine": "PARA",
                "lot": "DP1",
                "expiry": "2027-06-30",
                "quantity": 100,
                "fair_value": "500",
            }
        ],
        date="2026-10-10",
    )
    f.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P1",
            "date": "2026-10-11",
            "lines": [{"medicine": "PARA", "quantity": 100}],
        },
    )
    f.dispense([("PARA", 12)], ref="p")
    d = f.get("/reports/fund-health?from=2026-10-01&to=2026-10-31")["donated"]
    assert d["no_purchase_price"] == [{"medicine": "PARA", "units": 12}]
    assert d["replacement_gap"] == "210"
    assert d["donated_cost"] == "60"  # round(500 * 12 / 100)


def test_donors_are_listed_and_a_code_is_taken_once(fresh_fund: Fund) -> None:
    f = fresh_fund
    out = donor(f)
    assert (out["code"], out["account"]) == ("GA", "3200-GA")
    donor(f, expect=409)
    donor(f, code="bad code", expect=422)
    assert [d["code"] for d in f.get("/donors")["items"]] == ["GA"]
    assert f.get("/accounts/3200-GA/balance")["balances"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"funding": {"kind": "donated", "donor": "GA"}, "cost": {"total_cost": "100"}},
            "lines.0.total_cost",
        ),
        ({"funding": {"kind": "donated", "donor": "GA"}, "cost": {}}, "lines.0.fair_value"),
        (
            {"funding": {"kind": "donated", "donor": "NOPE"}, "cost": {"fair_value": "1"}},
            "funding.donor",
        ),
        ({"funding": {"kind": "donated"}, "cost": {"fair_value": "1"}}, "funding.donor"),
        (
            {"funding": {"kind": "donated", "donor": "GA"}, "cost": {"fair_value": "-1"}},
            "lines.0.fair_value",
        ),
        (
            {"funding": {"kind": "purchased"}, "cost": {"total_cost": "900", "fair_value": "1"}},
            "lines.0.fair_value",
        ),
        ({"funding": None, "cost": {"fair_value": "900"}}, "lines.0.fair_value"),
        (
            {"funding": {"kind": "purchased", "donor": "GA"}, "cost": {"total_cost": "900"}},
            "funding.donor",
        ),
        ({"funding": {"kind": "gift"}, "cost": {"total_cost": "900"}}, "funding"),
    ],
)
def test_a_line_with_the_wrong_amount_for_its_funding_is_a_422(
    fresh_fund: Fund, body: dict[str, Any], field: str
) -> None:
    f = fresh_fund
    donor(f)
    before = f.get("/reports/trial-balance")
    req: dict[str, Any] = {
        "supplier": "S1",
        "location": "CENTRAL",
        "date": "2026-10-05",
        "lines": [line("X9", 10, **body["cost"])],
    }
    if body["funding"] is not None:
        req["funding"] = body["funding"]
    p = f.post("/stock/receipts", req, expect=422)
    assert any(k == field or k.startswith(field) for k in p.get("errors", {})), p
    assert f.get("/reports/trial-balance") == before


def test_a_donated_receipt_is_valued_in_the_fund_currency(fresh_fund: Fund) -> None:
    f = fresh_fund
    donor(f)
    f.post("/fx-rates", {"date": "2026-10-01", "base": "USD", "quote": "KHR", "rate": "4000"})
    before = f.get("/reports/trial-balance")
    body: dict[str, Any] = {
        "location": "CENTRAL",
        "date": "2026-10-05",
        "funding": {"kind": "donated", "donor": "GA"},
        "currency": "USD",
        "lines": [line(fair_value="10")],
    }
    p = f.post("/stock/receipts", body, expect=422)
    assert "currency" in p["errors"], p
    assert f.get("/reports/trial-balance") == before
    assert donated(f, [line(fair_value="10")])["currency"] == "KHR"


def test_a_lot_keeps_its_funding_source_for_life(fresh_fund: Fund) -> None:
    f = fresh_fund
    donor(f)
    donor(f, "ZZ", "Another")
    # L1 was bought: a donation cannot add to it
    p = donated(
        f,
        [
            {
                "medicine": "MET500",
                "lot": "L1",
                "expiry": "2028-03-31",
                "quantity": 5,
                "fair_value": "5",
            }
        ],
        expect=409,
    )
    assert "purchased" in p["detail"]
    donated(f, [line(fair_value="0")])
    # neither a purchase nor another donor's gift adds to GA's lot; GA's own does
    f.post(
        "/stock/receipts",
        {
            "supplier": "S1",
            "location": "CENTRAL",
            "date": "2026-10-06",
            "lines": [line(quantity=5, total_cost="100")],
        },
        expect=409,
    )
    donated(f, [line(quantity=5, fair_value="5")], donor_code="ZZ", expect=409)
    donated(f, [line(quantity=5, fair_value="5")], supplier="S1")
    assert f.balance("1400-CENTRAL", "MET500", lot="DL1") == 505
    assert f.balance("2000-S1") == -44000
    # the donated receipt naming S1 owes S1 nothing, and verifies so
    assert f.get("/audit/verify")["ok"] is True
