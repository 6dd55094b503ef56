"""The purchase model: a transfer is a sale at the wholesale price; a dispensing posts the
subsidy owed to the pharmacy and the units as a memo of the pharmacy's own stock."""

from __future__ import annotations

from tests.dispensing.conftest import Fund


def purchase_pharmacy(fund: Fund) -> None:
    fund.post(
        "/pharmacies",
        {"code": "P3", "name": "Pharmacy P3", "province": "Kampot", "district": "Kampong Bay"},
    )
    fund.post("/price-lists", {"code": "WHOLESALE", "currency": "KHR"})
    fund.post(
        "/price-lists/WHOLESALE/versions",
        {"effective_from": "2026-01-01", "items": [{"medicine": "MET500", "unit_price": "40"}]},
    )
    fund.post(
        "/pharmacies/P3/contracts",
        {
            "valid_from": "2026-01-01",
            "model": "purchase",
            "price_list": "PL1",
            "wholesale_price_list": "WHOLESALE",
            "fee": {"kind": "per_dispensing", "value": "0"},
        },
    )


def test_a_transfer_to_a_purchase_model_pharmacy_is_a_sale_at_the_wholesale_price(
    fund: Fund,
) -> None:
    purchase_pharmacy(fund)
    out = fund.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P3",
            "date": "2026-10-03",
            "lines": [{"medicine": "MET500", "quantity": 100}],
        },
    )
    entry = fund.get(f"/journal-entries/{out['entry_id']}")
    got = sorted((p["account"], p["commodity"], p["lot"], p["amount"]) for p in entry["postings"])
    assert got == sorted(
        [
            ("1400-CENTRAL", "MET500", "L1", "-100"),
            ("1400-CENTRAL", "KHR", "L1", "-3500"),
            ("5000", "MET500", "L1", "100"),
            ("5000", "KHR", None, "3500"),
            ("1400-P3", "MET500", "L1", "100"),
            ("9000", "MET500", "L1", "-100"),
            ("1200-P3", "KHR", None, "4000"),
            ("4000", "KHR", None, "-4000"),
        ]
    )
    assert fund.balance("1400-P3", "KHR") == 0


def test_a_dispensing_at_a_purchase_model_pharmacy_posts_the_subsidy_owed_to_it(fund: Fund) -> None:
    purchase_pharmacy(fund)
    fund.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P3",
            "date": "2026-10-03",
            "lines": [{"medicine": "MET500", "quantity": 100}],
        },
    )
    d = fund.dispense([("MET500", 60)], pharmacy="P3", headers=fund.finance)
    assert (d["total_price"], d["total_subsidy"], d["total_copayment"]) == ("3000", "1500", "1500")
    entry = fund.get(f"/journal-entries/{d['entry_id']}")
    got = sorted((p["account"], p["commodity"], p["lot"], p["amount"]) for p in entry["postings"])
    assert got == sorted(
        [
            ("1400-P3", "MET500", "L1", "-60"),
            ("9000", "MET500", "L1", "60"),
            ("1300-HEF", "KHR", None, "1500"),
            ("2100-P3", "KHR", None, "-1500"),
        ]
    )
    assert fund.balance("1400-P3", "MET500") == 40
    assert fund.balance("4000") == -4000  # only the sale; the dispensing is the pharmacy's
