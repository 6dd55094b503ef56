"""The finance officer's month end on top of a pharmacist's month: settlement, subsidy
claim, payments against both, month close, and a late record landing in the next month."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ledger import clock
from tests.dispensing.conftest import Fund


@pytest.fixture
def december() -> Iterator[None]:
    clock.pin(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    yield
    clock.pin(None)


def test_a_month_is_settled_claimed_paid_and_closed_and_a_late_record_moves_on(
    fund: Fund, december: None
) -> None:
    fund.dispense([("MET500", 60)], ref="oct-1")
    fund.dispense([("MET500", 10)], patient=None, ref="oct-2")  # walk-in: 500 co-payment
    settlement = fund.post("/settlements", {"pharmacy": "P1", "period": "2026-10"})
    assert settlement["status"] == "draft"
    assert settlement["copayments_collected"] == "2000"
    assert settlement["fees_owed"] == "350"  # 10 % of 3,000 and of 500
    assert settlement["netted"] == "350"
    assert (settlement["net_due"], settlement["net_due_by"]) == ("1650", "pharmacy")
    assert len(settlement["dispensings"]) == 2
    assert fund.balance("1200-P1") == 1650 and fund.balance("2100-P1") == 0
    fund.post("/settlements", {"pharmacy": "P1", "period": "2026-10"}, expect=409)

    claim = fund.post("/subsidy-claims", {"scheme": "HEF", "period": "2026-10"})
    assert claim["total"] == "1500"
    assert [
        (ln["member_code"], ln["medicine"], ln["quantity"], ln["subsidy"]) for ln in claim["lines"]
    ] == [("M-00042", "MET500", 60, "1500")]
    assert claim["total"] == str(fund.balance("1300-HEF"))

    fund.post(
        "/payments",
        {
            "date": "2026-11-03",
            "direction": "in",
            "counterparty": {"kind": "pharmacy", "code": "P1"},
            "amount": "1650",
            "currency": "KHR",
            "reference": "P1-OCT",
            "applies_to": {"kind": "settlement", "id": settlement["id"]},
        },
    )
    fund.post(
        "/payments",
        {
            "date": "2026-11-20",
            "direction": "in",
            "counterparty": {"kind": "scheme", "code": "HEF"},
            "amount": "1500",
            "currency": "KHR",
            "reference": "HEF-OCT",
            "applies_to": {"kind": "claim", "id": claim["id"]},
        },
    )
    approved = fund.post(f"/settlements/{settlement['id']}/approve", {}, expect=200)
    assert approved["status"] == "paid"
    assert fund.get(f"/subsidy-claims/{claim['id']}")["status"] == "paid"
    assert fund.balance("1200-P1") == 0 and fund.balance("1300-HEF") == 0

    closed = fund.post("/periods/2026-10/close", {}, expect=200)
    assert closed["status"] == "closed"
    tb_october = fund.get("/reports/trial-balance?as_of=2026-10-31")

    late = fund.dispense([("MET500", 20)], date="2026-10-28", ref="oct-late")
    assert (late["service_date"], late["accounting_date"]) == ("2026-10-28", "2026-11-01")
    assert fund.get("/reports/trial-balance?as_of=2026-10-31") == tb_october
    november = fund.post("/settlements", {"pharmacy": "P1", "period": "2026-11"})
    assert [d["id"] for d in november["dispensings"]] == [late["id"]]
    claim_nov = fund.post("/subsidy-claims", {"scheme": "HEF", "period": "2026-11"})
    assert claim_nov["total"] == "500"  # 50 % of 20 × 50


def test_a_month_cannot_close_while_a_pharmacy_is_unsettled(fund: Fund, december: None) -> None:
    fund.dispense([("MET500", 5)])
    p = fund.post("/periods/2026-10/close", {}, expect=409)
    assert "P1" in p["detail"] and "settled" in p["detail"]


def test_a_pharmacist_reads_only_its_own_settlements(fund: Fund, december: None) -> None:
    fund.dispense([("MET500", 5)])
    s = fund.post("/settlements", {"pharmacy": "P1", "period": "2026-10"})
    assert fund.get(f"/settlements/{s['id']}", headers=fund.pharmacist)["pharmacy"] == "P1"
    fund.get(f"/settlements/{s['id']}", headers=fund.other_pharmacist, expect=404)
    assert fund.get("/settlements", headers=fund.other_pharmacist)["items"] == []
    fund.post("/settlements", {"pharmacy": "P1", "period": "2026-10"}, fund.pharmacist, expect=403)


def test_the_current_month_cannot_be_settled_before_it_ends(fund: Fund, december: None) -> None:
    p = fund.post("/settlements", {"pharmacy": "P1", "period": "2026-12"}, expect=409)
    assert "has not ended" in p["detail"]
    fund.post("/settlements", {"pharmacy": "NOPE", "period": "2026-10"}, expect=404)
    fund.post("/settlements", {"pharmacy": "P1", "period": "2026-13"}, expect=422)


def test_a_full_month_at_two_pharmacies_under_two_schemes_reconciles_to_the_riel(
    fund: Fund, december: None
) -> None:
    # An NGO scheme the fund pays itself: 50 %, co-payments rounded to 100 KHR.
    fund.post(
        "/subsidy-schemes",
        {
            "code": "NGO50",
            "name": "NGO scheme",
            "payer": "fund",
            "percent": "50",
            "cash_rounding": "100",
        },
    )
    fund.post(
        "/patients",
        {"member_code": "M-00050", "enrolments": [{"scheme": "NGO50", "valid_from": "2026-01-01"}]},
    )
    fund.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P2",
            "date": "2026-10-02",
            "lines": [{"medicine": "MET500", "quantity": 100}],
        },
    )
    hef = fund.dispense([("MET500", 60)], ref="p1-1")
    ngo = fund.dispense(
        [("MET500", 30)],
        patient="M-00050",
        pharmacy="P2",
        ref="p2-1",
        headers=fund.other_pharmacist,
    )
    assert (hef["total_subsidy"], hef["total_copayment"], hef["fee"]) == ("1500", "1500", "300")
    # 1,500 × 50 % = 750 co-payment, rounded half-up to 800: the subsidy gives the 50 back.
    assert (ngo["total_subsidy"], ngo["total_copayment"], ngo["fee"]) == ("700", "800", "150")

    s1 = fund.post("/settlements", {"pharmacy": "P1", "period": "2026-10"})
    s2 = fund.post("/settlements", {"pharmacy": "P2", "period": "2026-10"})
    assert (s1["netted"], s1["net_due"], s1["net_due_by"]) == ("300", "1200", "pharmacy")
    assert (s2["netted"], s2["net_due"], s2["net_due_by"]) == ("150", "650", "pharmacy")
    claim = fund.post("/subsidy-claims", {"scheme": "HEF", "period": "2026-10"})
    assert claim["total"] == "1500"
    refused = fund.post("/subsidy-claims", {"scheme": "NGO50", "period": "2026-10"}, expect=409)
    assert "fund itself" in refused["detail"]

    for day, kind, code, amount, ref, applies in (
        ("2026-11-04", "pharmacy", "P1", "1200", "P1-OCT-SETTLE", ("settlement", s1["id"])),
        ("2026-11-06", "pharmacy", "P2", "650", "P2-OCT", ("settlement", s2["id"])),
        ("2026-11-20", "scheme", "HEF", "1500", "HEF-CLAIM-1", ("claim", claim["id"])),
    ):
        fund.post(
            "/payments",
            {
                "date": day,
                "direction": "in",
                "counterparty": {"kind": kind, "code": code},
                "amount": amount,
                "currency": "KHR",
                "reference": ref,
                "applies_to": {"kind": applies[0], "id": applies[1]},
            },
        )
    csv_text = (
        "\ufeffdate,amount,currency,reference,description\r\n"
        "2026-11-04,1200,KHR,P1-OCT-SETTLE,Remittance Takeo\r\n"
        "2026-11-06,650,KHR,P2-OCT,Remittance\r\n"
        '2026-11-20,"1,500",KHR,HEF-CLAIM-1,HEF payment\r\n'
        "2026-11-30,100,KHR,INT-NOV,Interest\r\n"
    )
    r = fund.client.post(
        "/api/v1/bank-statements",
        data=csv_text.encode(),
        headers={**fund.finance, "Content-Type": "text/csv"},
    )
    assert r.status_code == 201, r.get_json()
    imported = r.get_json()
    assert (imported["matched_count"], imported["open_count"]) == (3, 1)

    rec = fund.get("/reconciliation?period=2026-11")
    assert len(rec["matched"]) == 3
    assert [ln["reference"] for ln in rec["unmatched_bank_lines"]] == ["INT-NOV"]
    assert rec["unmatched_payments"] == []
    khr = next(c for c in rec["currencies"] if c["currency"] == "KHR")
    assert (khr["bank_balance"], khr["book_balance"], khr["difference"], khr["unexplained"]) == (
        "3450",
        "3350",
        "100",
        "0",
    )

    for s in (s1, s2):
        assert fund.post(f"/settlements/{s['id']}/approve", {}, expect=200)["status"] == "paid"
    assert fund.get(f"/subsidy-claims/{claim['id']}")["status"] == "paid"
    for account in ("1200-P1", "1200-P2", "1300-HEF", "2100-P1", "2100-P2"):
        assert fund.balance(account) == 0, account
    assert fund.balance("4000") == -4500
    assert fund.balance("5300") == 700
    assert fund.balance("5000") == 2100 + 1050  # 60 of 14,000/400 and 30 of 3,500/100
    assert fund.balance("5100") == 450
    assert fund.balance("1010") == 3350

    fund.post("/periods/2026-10/close", {}, expect=200)
    october = fund.get("/reports/trial-balance?as_of=2026-10-31")
    late = fund.dispense([("MET500", 10)], date="2026-10-30", ref="p1-late")
    assert late["accounting_date"] == "2026-11-01"
    assert fund.get("/reports/trial-balance?as_of=2026-10-31") == october
    assert fund.get("/reports/trial-balance")["balanced"] is True
