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
        fund: Fund, december: None) -> None:
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
    assert [(ln["member_code"], ln["medicine"], ln["quantity"], ln["subsidy"])
            for ln in claim["lines"]] == [("M-00042", "MET500", 60, "1500")]
    assert claim["total"] == str(fund.balance("1300-HEF"))

    fund.post("/payments", {"date": "2026-11-03", "direction": "in",
                            "counterparty": {"kind": "pharmacy", "code": "P1"},
                            "amount": "1650", "currency": "KHR", "reference": "P1-OCT",
                            "applies_to": {"kind": "settlement", "id": settlement["id"]}})
    fund.post("/payments", {"date": "2026-11-20", "direction": "in",
                            "counterparty": {"kind": "scheme", "code": "HEF"},
                            "amount": "1500", "currency": "KHR", "reference": "HEF-OCT",
                            "applies_to": {"kind": "claim", "id": claim["id"]}})
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
    fund.post("/settlements", {"pharmacy": "P1", "period": "2026-10"}, fund.pharmacist,
              expect=403)


def test_the_current_month_cannot_be_settled_before_it_ends(fund: Fund, december: None) -> None:
    p = fund.post("/settlements", {"pharmacy": "P1", "period": "2026-12"}, expect=409)
    assert "has not ended" in p["detail"]
    fund.post("/settlements", {"pharmacy": "NOPE", "period": "2026-10"}, expect=404)
    fund.post("/settlements", {"pharmacy": "P1", "period": "2026-13"}, expect=422)
