"""One API test per rule of arithmetic of DESIGN.md ("Pricing rules", "Rules of arithmetic",
"Dates and periods"), to the riel.

Every test starts from a copy of the worked example's fund (``fresh_fund``): 1,000 MET500
lot L1 (35 KHR a unit) and 300 AML5 lot A1 (30 KHR a unit) received at CENTRAL, 400 MET500
and 100 AML5 of them at P1, price list PL1 (MET500 50, AML5 120), scheme HEF (external,
50 %), patient M-00042 in HEF, P1 and P2 on consignment contracts with a 10 % fee.

Expected figures are worked out by hand in the comments, with ``rnd`` (round half up,
written here independently of ``ledger.money``) where a proportion is involved.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from tests.dispensing.conftest import Fund


def rnd(x: Fraction) -> int:
    """Round half up (non-negative values), independently of the code under test."""
    assert x >= 0
    return int(x + Fraction(1, 2))


def cum(amount: int, done: int, of: int) -> int:
    """What DESIGN.md's return rule has reversed of ``amount`` once ``done`` of ``of`` are back."""
    return rnd(Fraction(amount * done, of))


def postings(fund: Fund, entry_id: str) -> list[tuple[str, str, str | None, str]]:
    entry = fund.get(f"/journal-entries/{entry_id}")
    return sorted((p["account"], p["commodity"], p["lot"], p["amount"]) for p in entry["postings"])


def amounts(d: dict[str, Any]) -> tuple[str, str, str, str]:
    return d["total_price"], d["total_subsidy"], d["total_copayment"], d["fee"]


def line_amounts(d: dict[str, Any]) -> list[tuple[str, int, str, str, str]]:
    return [
        (ln["medicine"], ln["quantity"], ln["price"], ln["subsidy"], ln["copayment"])
        for ln in d["lines"]
    ]


def assert_copayment_is_price_less_subsidy(d: dict[str, Any]) -> None:
    for ln in d["lines"]:
        assert int(ln["copayment"]) == int(ln["price"]) - int(ln["subsidy"]), ln
        assert int(ln["copayment"]) >= 0 and int(ln["subsidy"]) >= 0, ln
    assert int(d["total_copayment"]) == int(d["total_price"]) - int(d["total_subsidy"])
    assert int(d["total_price"]) == sum(int(ln["price"]) for ln in d["lines"])
    assert int(d["total_subsidy"]) == sum(int(ln["subsidy"]) for ln in d["lines"])


def scheme(fund: Fund, code: str, percent: str, payer: str = "external", **terms: Any) -> None:
    fund.post(
        "/subsidy-schemes",
        {"code": code, "name": f"Scheme {code}", "payer": payer, "percent": percent, **terms},
    )


def patient(
    fund: Fund,
    member: str,
    scheme_code: str,
    valid_from: str = "2026-01-01",
    valid_to: str | None = None,
) -> None:
    enrolment: dict[str, Any] = {"scheme": scheme_code, "valid_from": valid_from}
    if valid_to is not None:
        enrolment["valid_to"] = valid_to
    fund.post("/patients", {"member_code": member, "enrolments": [enrolment]})


def open_pharmacy(
    fund: Fund,
    code: str,
    fee: dict[str, str],
    *,
    price_list: str = "PL1",
    stock: list[dict[str, Any]] | None = None,
) -> None:
    """A pharmacy with a consignment contract from 2026-01-01 and stock moved from CENTRAL."""
    fund.post(
        "/pharmacies",
        {"code": code, "name": f"Pharmacy {code}", "province": "Takeo", "district": "Bati"},
    )
    fund.post(
        f"/pharmacies/{code}/contracts",
        {"valid_from": "2026-01-01", "model": "consignment", "price_list": price_list, "fee": fee},
    )
    fund.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": code,
            "date": "2026-10-03",
            "lines": stock
            or [{"medicine": "MET500", "quantity": 50}, {"medicine": "AML5", "quantity": 20}],
        },
    )


def receive(
    fund: Fund,
    lot: str,
    quantity: int,
    cost: str,
    expiry: str,
    medicine: str = "MET500",
    date: str = "2026-10-03",
) -> None:
    fund.post(
        "/stock/receipts",
        {
            "supplier": "S1",
            "location": "CENTRAL",
            "date": date,
            "lines": [
                {
                    "medicine": medicine,
                    "lot": lot,
                    "expiry": expiry,
                    "quantity": quantity,
                    "total_cost": cost,
                }
            ],
        },
    )


def give_back(
    fund: Fund,
    dispensing_id: str,
    items: list[tuple[str, int]],
    date: str = "2026-10-20",
    headers: dict[str, str] | None = None,
) -> Any:
    return fund.post(
        f"/dispensings/{dispensing_id}/returns",
        {"items": [{"medicine": m, "quantity": q} for m, q in items], "date": date},
        headers or fund.finance,
    )


# --------------------------------------------------------------------------- caps


def test_the_cap_per_dispensing_is_consumed_line_by_line_in_request_order(fresh_fund: Fund) -> None:
    f = fresh_fund
    scheme(f, "CAP", "50", cap_per_dispensing="2000")
    patient(f, "C-1", "CAP")
    # AML5 20 = 2400 (raw subsidy 1200) then MET500 60 = 3000 (raw 1500): 1200, then the
    # 800 left of the cap.
    d = f.dispense([("AML5", 20), ("MET500", 60)], patient="C-1")
    assert line_amounts(d) == [
        ("AML5", 20, "2400", "1200", "1200"),
        ("MET500", 60, "3000", "800", "2200"),
    ]
    assert amounts(d) == ("5400", "2000", "3400", "540")
    # The same items in the other order: MET500 takes its 1500, AML5 the 500 left.
    d = f.dispense([("MET500", 60), ("AML5", 20)], patient="C-1")
    assert line_amounts(d) == [
        ("MET500", 60, "3000", "1500", "1500"),
        ("AML5", 20, "2400", "500", "1900"),
    ]
    assert amounts(d) == ("5400", "2000", "3400", "540")
    assert f.balance("1300-CAP") == 4000
    assert f.balance("1200-P1") == 3400 + 3400


def test_the_monthly_cap_counts_the_month_of_the_service_date_net_of_returns(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    scheme(f, "MCAP", "50", cap_per_patient_month="2000")
    patient(f, "C-2", "MCAP")

    def subsidy(qty: int, on: str) -> str:
        return str(f.dispense([("MET500", qty)], patient="C-2", date=on)["total_subsidy"])

    assert subsidy(40, "2026-10-05") == "1000"  # October: 1000 of 2000 used
    d2 = f.dispense([("MET500", 40)], patient="C-2", date="2026-10-20")
    assert d2["total_subsidy"] == "1000"  # October: 2000 used
    assert subsidy(20, "2026-10-25") == "0"  # the October cap is spent
    assert subsidy(20, "2026-11-02") == "500"  # November is another month: 500 used
    # Half of d2 comes back, booked in November: its 500 of subsidy frees October's cap,
    # not November's.
    r = give_back(f, d2["id"], [("MET500", 20)], date="2026-11-03")
    assert (r["total_subsidy"], r["accounting_date"]) == ("500", "2026-11-03")
    assert subsidy(40, "2026-10-28") == "500"  # raw 1000, 500 left in October
    # November: 500 used, 1500 left (2000 if the return had counted in November).
    assert subsidy(80, "2026-11-04") == "1500"
    # The dispensing of 2026-10-25 got nothing: its co-payment is the whole price.
    listed = f.get("/dispensings?patient=C-2&from=2026-10-25&to=2026-10-25")["items"]
    assert [amounts(x) for x in listed] == [("1000", "0", "1000", "100")]
    assert f.balance("1300-MCAP") == 1000 + 1000 + 500 - 500 + 500 + 1500


# --------------------------------------------------------------------------- cash rounding


def test_cash_rounding_rounds_the_copayment_half_up_and_moves_the_difference_on_the_last_line(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    scheme(f, "CR", "50", cash_rounding="100")
    patient(f, "R-1", "CR")

    def one(items: list[tuple[str, int]]) -> dict[str, Any]:
        d: dict[str, Any] = f.dispense(items, patient="R-1")
        assert_copayment_is_price_less_subsidy(d)
        return d

    # 5 MET500 = 250, half 125 each: the co-payment 125 rounds down to 100, subsidy 150.
    assert amounts(one([("MET500", 5)]))[:3] == ("250", "150", "100")
    # 7 MET500 = 350: the co-payment 175 rounds up to 200, subsidy 150.
    assert amounts(one([("MET500", 7)]))[:3] == ("350", "150", "200")
    # 2 MET500 = 100: the co-payment 50 is a half, rounded up to 100; subsidy 0.
    assert amounts(one([("MET500", 2)]))[:3] == ("100", "0", "100")
    # 1 MET500 = 50: the co-payment 25 rounds down to 0, subsidy 50.
    assert amounts(one([("MET500", 1)]))[:3] == ("50", "50", "0")
    # Up, two lines: AML5 1 (120: 60/60) and MET500 5 (250: 125/125), co-payment 185 -> 200:
    # the 15 move on the last line only.
    d = one([("AML5", 1), ("MET500", 5)])
    assert line_amounts(d) == [("AML5", 1, "120", "60", "60"), ("MET500", 5, "250", "110", "140")]
    assert amounts(d) == ("370", "170", "200", "37")
    # The same lines the other way round: now AML5 is last and takes the 15.
    d = one([("MET500", 5), ("AML5", 1)])
    assert line_amounts(d) == [("MET500", 5, "250", "125", "125"), ("AML5", 1, "120", "45", "75")]
    # Down, two lines: AML5 1 (60/60) and MET500 3 (150: 75/75), co-payment 135 -> 100:
    # 35 more subsidy on the last line.
    d = one([("AML5", 1), ("MET500", 3)])
    assert line_amounts(d) == [("AML5", 1, "120", "60", "60"), ("MET500", 3, "150", "110", "40")]
    assert amounts(d)[:3] == ("270", "170", "100")
    # The books follow the dispensing, not the raw 50 %.
    entry = postings(f, d["entry_id"])
    assert ("1300-CR", "KHR", None, "170") in entry
    assert ("1200-P1", "KHR", None, "100") in entry
    assert ("4000", "KHR", None, "-270") in entry


def test_cash_rounding_never_takes_the_copayment_above_the_price(fresh_fund: Fund) -> None:
    f = fresh_fund
    scheme(f, "CR0", "0", cash_rounding="100")
    patient(f, "R-2", "CR0")
    # 3 MET500 = 150, nothing subsidised: 150 would round to 200, clamped to the price.
    d = f.dispense([("MET500", 3)], patient="R-2")
    assert amounts(d)[:3] == ("150", "0", "150")
    # 1 AML5 = 120 rounds down to 100: the 20 become subsidy of a 0 % scheme.
    d = f.dispense([("AML5", 1)], patient="R-2")
    assert amounts(d)[:3] == ("120", "20", "100")
    assert_copayment_is_price_less_subsidy(d)


# --------------------------------------------------------------------------- fees


def test_each_fee_kind_is_charged_by_its_rule(fresh_fund: Fund) -> None:
    f = fresh_fund
    open_pharmacy(f, "P3", {"kind": "per_line", "value": "150"})
    open_pharmacy(f, "P4", {"kind": "per_dispensing", "value": "500"})
    open_pharmacy(f, "P5", {"kind": "percent", "value": "12.5"})
    two = [("MET500", 3), ("AML5", 2)]  # 150 + 240 = 390
    one = [("MET500", 7)]  # 350
    fees = {}
    for code in ("P1", "P3", "P4", "P5"):
        fees[code] = [
            f.dispense(items, pharmacy=code, patient=None, headers=f.finance)["fee"]
            for items in (two, one)
        ]
    assert fees == {
        "P1": ["39", "35"],  # 10 % of 390, of 350
        "P3": ["300", "150"],  # 150 a line
        "P4": ["500", "500"],  # 500 a dispensing
        "P5": ["49", "44"],  # 12.5 % of 390 = 48.75, of 350 = 43.75: half up
    }
    for code in ("P3", "P4", "P5"):
        want = sum(int(x) for x in fees[code])
        assert f.balance(f"2100-{code}") == -want
    assert f.balance("5100") == sum(int(x) for v in fees.values() for x in v)


# --------------------------------------------------------------------------- unit prices


def test_fractional_unit_prices_are_exact_and_each_line_is_rounded_half_up(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    f.post("/price-lists", {"code": "PLF", "currency": "KHR"})
    f.post(
        "/price-lists/PLF/versions",
        {
            "effective_from": "2026-01-01",
            "items": [
                {"medicine": "MET500", "unit_price": "0.125"},
                {"medicine": "AML5", "unit_price": "33.333333"},
            ],
        },
    )
    open_pharmacy(f, "P6", {"kind": "percent", "value": "10"}, price_list="PLF")

    def priced(items: list[tuple[str, int]]) -> dict[str, Any]:
        d: dict[str, Any] = f.dispense(items, pharmacy="P6", headers=f.finance)
        return d

    d = priced([("MET500", 3)])  # 0.375 -> 0: a line can cost nothing
    assert [ln["unit_price"] for ln in d["lines"]] == ["0.125"]
    assert amounts(d) == ("0", "0", "0", "0")
    d = priced([("MET500", 4)])  # 0.5 -> 1 (half up); subsidy 0.5 -> 1
    assert amounts(d) == ("1", "1", "0", "0")
    d = priced([("MET500", 12), ("MET500", 20)])  # 1.5 -> 2; 2.5 -> 3
    assert line_amounts(d) == [("MET500", 12, "2", "1", "1"), ("MET500", 20, "3", "2", "1")]
    d = priced([("AML5", 3), ("AML5", 1)])  # 99.999999 -> 100; 33.333333 -> 33
    assert [ln["unit_price"] for ln in d["lines"]] == ["33.333333", "33.333333"]
    assert line_amounts(d) == [("AML5", 3, "100", "50", "50"), ("AML5", 1, "33", "17", "16")]
    assert amounts(d) == ("133", "67", "66", "13")
    assert f.balance("4000") == -(0 + 1 + 5 + 133)


def test_a_usd_price_list_keeps_six_decimals_but_a_contract_prices_in_khr_only(
    fresh_fund: Fund,
) -> None:
    # USD price lists exist (a 6-decimal unit price is stored exactly); a contract, and so a
    # dispensing, prices in the fund currency KHR: a USD list is refused with a clear 422.
    f = fresh_fund
    f.post("/price-lists", {"code": "PLUSD", "currency": "USD"})
    v = f.post(
        "/price-lists/PLUSD/versions",
        {
            "effective_from": "2026-01-01",
            "items": [{"medicine": "MET500", "unit_price": "0.012345"}],
        },
    )
    assert v["items"] == [{"medicine": "MET500", "unit_price": "0.012345"}]
    f.post(
        "/pharmacies",
        {"code": "P7", "name": "Pharmacy P7", "province": "Takeo", "district": "Bati"},
    )
    p = f.post(
        "/pharmacies/P7/contracts",
        {
            "valid_from": "2026-01-01",
            "model": "consignment",
            "price_list": "PLUSD",
            "fee": {"kind": "percent", "value": "10"},
        },
        expect=422,
    )
    assert "KHR" in p["detail"] and "price_list" in p["errors"]


# --------------------------------------------------------------------------- lots


def test_a_lot_expired_the_day_before_is_never_picked_one_expiring_that_day_is(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    receive(f, "E13", 50, "2000", "2026-10-13")
    receive(f, "E14", 50, "2500", "2026-10-14")
    f.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P2",
            "date": "2026-10-04",
            "lines": [
                {"medicine": "MET500", "quantity": 50, "lot": "E13"},
                {"medicine": "MET500", "quantity": 50, "lot": "E14"},
            ],
        },
    )
    other = f.other_pharmacist
    # On the 14th, E13 (expired on the 13th) is skipped although it expires first.
    d = f.dispense([("MET500", 10)], pharmacy="P2", date="2026-10-14", headers=other)
    assert [(x["lot"], x["quantity"], x["value"]) for x in d["lines"][0]["lots"]] == [
        ("E14", 10, "500")
    ]
    # Only E14's 40 count: 41 is a 409 that says so, and posts nothing.
    before = f.get("/reports/trial-balance")
    p = f.dispense([("MET500", 41)], pharmacy="P2", date="2026-10-14", headers=other, expect=409)
    assert "40" in p["detail"] and "MET500" in p["detail"]
    assert f.get("/reports/trial-balance") == before
    # On the 13th, E13 expires that very day: it is still picked, first.
    d = f.dispense([("MET500", 55)], pharmacy="P2", date="2026-10-13", headers=other)
    assert [(x["lot"], x["quantity"], x["value"]) for x in d["lines"][0]["lots"]] == [
        ("E13", 50, "2000"),
        ("E14", 5, "250"),
    ]
    # On the 15th both have expired.
    f.dispense([("MET500", 1)], pharmacy="P2", date="2026-10-15", headers=other, expect=409)
    assert f.balance("1400-P2", "MET500", lot="E13") == 0
    assert f.balance("1400-P2", "KHR", lot="E13") == 0
    assert f.balance("1400-P2", "MET500", lot="E14") == 35
    assert f.balance("1400-P2", "KHR", lot="E14") == 2500 - 500 - 250


def test_lots_are_picked_first_expiry_first_out_across_two_lots_at_the_pharmacy(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    # L0 expires before L1 (2028-03-31) although it was received later.
    receive(f, "L0", 100, "3001", "2027-01-31")
    f.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P1",
            "date": "2026-10-04",
            "lines": [{"medicine": "MET500", "quantity": 100, "lot": "L0"}],
        },
    )
    d = f.dispense([("MET500", 30)])
    # 30 of L0's 100 worth 3001: round(900.3) = 900.
    assert [(x["lot"], x["quantity"], x["value"]) for x in d["lines"][0]["lots"]] == [
        ("L0", 30, "900")
    ]
    d = f.dispense([("MET500", 100)])
    # The 70 left of L0 (worth 2101, all of it), then 30 of L1's 400 worth 14000: 1050.
    (line,) = d["lines"]
    assert [(x["lot"], x["quantity"], x["value"]) for x in line["lots"]] == [
        ("L0", 70, "2101"),
        ("L1", 30, "1050"),
    ]
    assert line["cost"] == "3151"
    entry = postings(f, d["entry_id"])
    for posting in [
        ("1400-P1", "MET500", "L0", "-70"),
        ("1400-P1", "MET500", "L1", "-30"),
        ("1400-P1", "KHR", "L0", "-2101"),
        ("1400-P1", "KHR", "L1", "-1050"),
        ("5000", "KHR", None, "3151"),
    ]:
        assert posting in entry
    assert f.balance("1400-P1", "MET500", lot="L0") == 0
    assert f.balance("1400-P1", "KHR", lot="L0") == 0
    assert f.balance("1400-P1", "KHR", lot="L1") == 14000 - 1050


# --------------------------------------------------------------------------- dates


def test_the_price_list_version_in_force_on_the_service_date_prices_the_dispensing(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    f.post(
        "/price-lists/PL1/versions",
        {
            "effective_from": "2026-10-15",
            "items": [
                {"medicine": "MET500", "unit_price": "60"},
                {"medicine": "AML5", "unit_price": "130"},
            ],
        },
    )
    # Posted after the new version exists, dated the day before it: the old price.
    d = f.dispense([("MET500", 10), ("AML5", 1)], date="2026-10-14")
    assert [ln["unit_price"] for ln in d["lines"]] == ["50", "120"]
    assert amounts(d) == ("620", "310", "310", "62")
    d = f.dispense([("MET500", 10), ("AML5", 1)], date="2026-10-15")
    assert [ln["unit_price"] for ln in d["lines"]] == ["60", "130"]
    assert amounts(d) == ("730", "365", "365", "73")


def test_an_enrolment_covers_valid_from_to_valid_to_inclusive(fresh_fund: Fund) -> None:
    f = fresh_fund
    patient(f, "W-1", "HEF", valid_from="2026-10-10", valid_to="2026-10-20")
    got = {}
    for on in ("2026-10-09", "2026-10-10", "2026-10-20", "2026-10-21"):
        d = f.dispense([("MET500", 10)], patient="W-1", date=on)
        got[on] = (d["scheme"], *amounts(d)[:3])
    assert got == {
        "2026-10-09": (None, "500", "0", "500"),  # the day before: full price
        "2026-10-10": ("HEF", "500", "250", "250"),
        "2026-10-20": ("HEF", "500", "250", "250"),  # valid_to is inclusive
        "2026-10-21": (None, "500", "0", "500"),  # the day after: full price
    }
    assert f.balance("1300-HEF") == 500


def test_a_late_dispensing_dated_in_a_closed_month_is_booked_in_the_next_open_month(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    f.post("/periods/2026-10/close", {"force": True, "reason": "test: October is done"}, expect=200)
    d = f.dispense([("MET500", 60)], date="2026-10-14", ref="offline-1")
    assert (d["service_date"], d["accounting_date"]) == ("2026-10-14", "2026-11-01")
    # Priced and subsidised as on its service date (the worked example, to the riel).
    assert amounts(d) == ("3000", "1500", "1500", "300")
    entry = f.get(f"/journal-entries/{d['entry_id']}")
    assert (entry["service_date"], entry["accounting_date"]) == ("2026-10-14", "2026-11-01")
    again = f.get(f"/dispensings/{d['id']}")
    assert (again["service_date"], again["accounting_date"]) == ("2026-10-14", "2026-11-01")
    # It is listed by its service date.
    listed = f.get("/dispensings?from=2026-10-01&to=2026-10-31")["items"]
    assert [x["id"] for x in listed] == [d["id"]]


# --------------------------------------------------------------------------- payers, contracts


def test_a_scheme_the_fund_pays_itself_debits_5300(fresh_fund: Fund) -> None:
    f = fresh_fund
    scheme(f, "RDF", "100", payer="fund")
    patient(f, "F-1", "RDF")
    d = f.dispense([("MET500", 10)], patient="F-1")
    assert amounts(d) == ("500", "500", "0", "50")
    assert postings(f, d["entry_id"]) == sorted(
        [
            ("5000", "MET500", "L1", "10"),
            ("1400-P1", "MET500", "L1", "-10"),
            ("5000", "KHR", None, "350"),
            ("1400-P1", "KHR", "L1", "-350"),
            ("5300", "KHR", None, "500"),
            ("4000", "KHR", None, "-500"),
            ("5100", "KHR", None, "50"),
            ("2100-P1", "KHR", None, "-50"),
        ]
    )
    f.get("/accounts/1300-RDF/balance", expect=404)


def test_a_suspended_contract_refuses_dispensings_with_a_409_that_says_why(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    (contract,) = f.get("/pharmacies/P1/contracts")["items"]
    f.post(f"/pharmacies/P1/contracts/{contract['id']}/suspend", {}, expect=200)
    before = f.get("/reports/trial-balance")
    r = f.client.post(
        "/api/v1/dispensings",
        headers=f.pharmacist,
        json={
            "pharmacy": "P1",
            "patient": "M-00042",
            "service_date": "2026-10-14",
            "client_ref": "s-1",
            "items": [{"medicine": "MET500", "quantity": 1}],
        },
    )
    assert r.status_code == 409 and r.content_type == "application/problem+json"
    assert "suspended" in r.get_json()["detail"] and "P1" in r.get_json()["detail"]
    assert f.get("/reports/trial-balance") == before
    assert f.get("/dispensings")["items"] == []
    f.post(f"/pharmacies/P1/contracts/{contract['id']}/resume", {}, expect=200)
    # The refused client_ref was not consumed.
    d = f.dispense([("MET500", 1)], ref="s-1")
    assert amounts(d) == ("50", "25", "25", "5")


# --------------------------------------------------------------------------- returns


def test_returns_in_parts_add_up_to_the_whole_with_a_percent_fee_reversed_in_proportion(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    receive(f, "R1", 70, "2503", "2027-06-30")  # 35.757... a unit: values round
    open_pharmacy(
        f,
        "P8",
        {"kind": "percent", "value": "12.5"},
        stock=[
            {"medicine": "MET500", "quantity": 70, "lot": "R1"},
            {"medicine": "AML5", "quantity": 10},
        ],
    )
    scheme(f, "S375", "37.5")
    patient(f, "T-1", "S375")
    tb_before = f.get("/reports/trial-balance")
    d = f.dispense([("MET500", 7), ("AML5", 3)], patient="T-1", pharmacy="P8", headers=f.finance)
    # MET500 7 = 350, subsidy round(131.25) = 131, cost round(2503 * 7 / 70) = 250;
    # AML5 3 = 360, subsidy 135, cost 90; fee round(710 * 12.5 %) = round(88.75) = 89.
    assert line_amounts(d) == [("MET500", 7, "350", "131", "219"), ("AML5", 3, "360", "135", "225")]
    assert [ln["cost"] for ln in d["lines"]] == ["250", "90"]
    assert amounts(d) == ("710", "266", "444", "89")
    parts = [[("MET500", 2)], [("MET500", 2), ("AML5", 1)], [("MET500", 3), ("AML5", 2)]]
    back = {"MET500": 0, "AML5": 0}
    price_back = 0
    fee_back = 0
    for part in parts:
        r = give_back(f, d["id"], part)
        lines = {ln["medicine"]: ln for ln in r["lines"]}
        for med, q in part:
            price, subsidy, cost, of = {"MET500": (350, 131, 250, 7), "AML5": (360, 135, 90, 3)}[
                med
            ]
            before, back[med] = back[med], back[med] + q
            want_price = cum(price, back[med], of) - cum(price, before, of)
            want_subsidy = cum(subsidy, back[med], of) - cum(subsidy, before, of)
            want_cost = cum(cost, back[med], of) - cum(cost, before, of)
            ln = lines[med]
            assert (ln["quantity"], ln["price"], ln["subsidy"], ln["copayment"], ln["cost"]) == (
                q,
                str(want_price),
                str(want_subsidy),
                str(want_price - want_subsidy),
                str(want_cost),
            )
            price_back += want_price
        # The percent fee: its cumulative share of the price reversed so far.
        want_fee = cum(89, price_back, 710) - fee_back
        assert r["fee"] == str(want_fee), (part, r)
        fee_back += want_fee
    # Fee reversed 13 (89 * 100 / 710 = 12.5), then 40 - 13 = 27, then the 49 left.
    assert fee_back == 89
    # Everything is back: the books are as before the dispensing, to the riel.
    assert f.balance("1400-P8", "MET500", lot="R1") == 70
    assert f.balance("1400-P8", "KHR", lot="R1") == 2503
    for account in ("1200-P8", "1300-S375", "2100-P8"):
        assert f.balance(account) == 0
    full = f.get(f"/dispensings/{d['id']}")
    assert [r["fee"] for r in full["returns"]] == ["13", "27", "49"]
    for key in ("total_price", "total_subsidy", "total_copayment"):
        assert sum(int(r[key]) for r in full["returns"]) == int(d[key])
    assert sum(int(r["total_cost"]) for r in full["returns"]) == 250 + 90
    assert f.get("/reports/trial-balance") == tb_before
    f.post(
        f"/dispensings/{d['id']}/returns",
        {"items": [{"medicine": "AML5", "quantity": 1}]},
        expect=409,
    )


def test_a_per_dispensing_fee_is_reversed_only_by_the_return_that_completes_it(
    fresh_fund: Fund,
) -> None:
    f = fresh_fund
    open_pharmacy(f, "P9", {"kind": "per_dispensing", "value": "500"})
    d = f.dispense([("MET500", 7), ("AML5", 2)], pharmacy="P9", headers=f.finance)
    assert amounts(d) == ("590", "295", "295", "500")
    fees = [
        give_back(f, d["id"], part)["fee"]
        for part in ([("MET500", 3)], [("AML5", 2)], [("MET500", 4)])
    ]
    assert fees == ["0", "0", "500"]
    assert f.balance("2100-P9") == 0 and f.balance("1200-P9") == 0
    assert f.balance("1400-P9", "MET500") == 50
    assert f.balance("1400-P9", "KHR", lot="L1") == 1750
