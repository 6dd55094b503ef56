"""The postings of a dispensing and of its return, as DESIGN.md writes them."""

from __future__ import annotations

from collections import Counter
from datetime import date

from dispensing.model import LineAmounts, LotMove, Parties, dispensing_postings
from ledger.model import EntryDraft, PostingDraft, commodity_sums, validate_entry

WORKED = LineAmounts(
    "MET500",
    (LotMove(lot_id=1, quantity=60, value=2100),),
    price=3000,
    subsidy=1500,
    copayment=1500,
)


def as_set(postings: list[PostingDraft]) -> Counter[tuple[str, str, int, int | None]]:
    return Counter((p.account, p.commodity, p.amount, p.lot_id) for p in postings)


def test_the_worked_dispensing_posts_exactly_what_design_md_says() -> None:
    parties = Parties("P1", "consignment", "external", "HEF", "KHR")
    got = dispensing_postings(parties, [WORKED], fee=300)
    assert as_set(got) == Counter(
        {
            ("5000", "MET500", 60, 1): 1,
            ("1400-P1", "MET500", -60, 1): 1,
            ("5000", "KHR", 2100, None): 1,
            ("1400-P1", "KHR", -2100, 1): 1,
            ("1200-P1", "KHR", 1500, None): 1,
            ("1300-HEF", "KHR", 1500, None): 1,
            ("4000", "KHR", -3000, None): 1,
            ("5100", "KHR", 300, None): 1,
            ("2100-P1", "KHR", -300, None): 1,
        }
    )


def test_a_scheme_the_fund_pays_itself_debits_5300() -> None:
    parties = Parties("P1", "consignment", "fund", "NGO50", "KHR")
    got = as_set(dispensing_postings(parties, [WORKED], fee=300))
    assert got[("5300", "KHR", 1500, None)] == 1
    assert not any(k[0].startswith("1300") for k in got)


def test_a_walk_in_posts_no_subsidy_and_the_full_price_as_copayment() -> None:
    parties = Parties("P1", "consignment", None, None, "KHR")
    line = LineAmounts("MET500", (LotMove(1, 60, 2100),), 3000, 0, 3000)
    got = as_set(dispensing_postings(parties, [line], fee=0))
    assert got[("1200-P1", "KHR", 3000, None)] == 1
    assert not any(k[0] in ("5100", "5300") or k[0].startswith("1300") for k in got)


def test_the_purchase_model_posts_the_subsidy_owed_to_the_pharmacy_and_a_unit_memo() -> None:
    parties = Parties("P2", "purchase", "external", "HEF", "KHR")
    bought = LineAmounts("MET500", (LotMove(1, 60, 0),), 3000, 1500, 1500)  # P's own: no value
    got = as_set(dispensing_postings(parties, [bought], fee=0))
    assert got == Counter(
        {
            ("9000", "MET500", 60, 1): 1,
            ("1400-P2", "MET500", -60, 1): 1,
            ("1300-HEF", "KHR", 1500, None): 1,
            ("2100-P2", "KHR", -1500, None): 1,
        }
    )


def test_a_return_posts_the_exact_opposite() -> None:
    parties = Parties("P1", "consignment", "external", "HEF", "KHR")
    out = dispensing_postings(parties, [WORKED], fee=300)
    back = dispensing_postings(parties, [WORKED], fee=300, sign=-1)
    assert as_set(back) == Counter({(p.account, p.commodity, -p.amount, p.lot_id): 1 for p in out})


def test_every_dispensing_balances_per_commodity_and_has_no_zero_posting() -> None:
    parties = Parties("P1", "consignment", "external", "HEF", "KHR")
    two_lots = LineAmounts("MET500", (LotMove(1, 10, 351), LotMove(2, 50, 1749)), 3000, 1500, 1500)
    postings = dispensing_postings(parties, [two_lots, WORKED], fee=0)
    assert all(p.amount != 0 for p in postings)
    assert set(commodity_sums(postings).values()) == {0}
    validate_entry(EntryDraft(service_date=date(2026, 10, 14), memo="x", postings=tuple(postings)))


def test_fund_owned_stock_at_a_purchase_pharmacy_leaves_with_its_value() -> None:
    parties = Parties("P2", "purchase", "external", "HEF", "KHR")
    got = as_set(dispensing_postings(parties, [WORKED], fee=0))
    assert got[("1400-P2", "KHR", -2100, 1)] == 1 and got[("5000", "KHR", 2100, None)] == 1
    assert got[("9000", "MET500", 60, 1)] == 1 and got[("2100-P2", "KHR", -1500, None)] == 1
