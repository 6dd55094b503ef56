"""Pricing of a dispensing and of its returns (contracts/pricing.py): pure, exact, no float."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.pricing import (
    FeeRule,
    InconsistentReturnHistory,
    InvalidFeeRule,
    InvalidLine,
    InvalidReturn,
    InvalidSchemeTerms,
    LineRequest,
    LotTaken,
    PricedDispensing,
    PricedReturn,
    PricingError,
    ReturnExceedsDispensed,
    SchemeTerms,
    price_dispensing,
    price_return,
)
from ledger.money import parse_unit_price

NO_FEE = FeeRule("per_dispensing", Fraction(0))


def scheme(
    percent: int | Fraction = 50,
    *,
    cap_per_dispensing: int | None = None,
    cap_per_patient_month: int | None = None,
    eligible: frozenset[str] | None = None,
    cash_rounding: int | None = None,
    payer: str = "external",
) -> SchemeTerms:
    return SchemeTerms(
        code="HEF",
        payer=payer,
        percent=Fraction(percent),
        cap_per_dispensing=cap_per_dispensing,
        cap_per_patient_month=cap_per_patient_month,
        eligible_medicines=eligible,
        cash_rounding=cash_rounding,
    )


def line(medicine: str, quantity: int, unit_price: int | Fraction | str) -> LineRequest:
    price = parse_unit_price(unit_price, 0) if isinstance(unit_price, str) else unit_price
    return LineRequest(medicine, quantity, Fraction(price))


def amounts(priced: PricedDispensing) -> list[tuple[int, int, int]]:
    return [(p.price, p.subsidy, p.copayment) for p in priced.lines]


def return_now(
    original: PricedDispensing,
    lots: list[list[LotTaken]],
    before: list[int],
    now: list[int],
    kind: str,
) -> PricedReturn:
    return price_return(original, lots, before, now, None, kind, None)


# --------------------------------------------------------------------------- dispensing


def test_the_worked_example_of_the_design_prices_3000_with_1500_subsidy_and_300_fee() -> None:
    priced = price_dispensing(
        [line("MET500", 60, 50)], scheme(50), FeeRule("percent", Fraction(10))
    )
    assert amounts(priced) == [(3000, 1500, 1500)]
    assert (priced.total_price, priced.total_subsidy, priced.total_copayment) == (3000, 1500, 1500)
    assert priced.fee == 300


def test_a_walk_in_pays_the_whole_price_with_no_subsidy_and_no_cash_rounding() -> None:
    priced = price_dispensing([line("MET500", 7, 13)], None, NO_FEE)
    assert amounts(priced) == [(91, 0, 91)]
    assert priced.total_copayment == 91


def test_an_ineligible_medicine_gets_no_subsidy() -> None:
    priced = price_dispensing(
        [line("MET500", 10, 100), line("AMOX", 10, 100)],
        scheme(50, eligible=frozenset({"MET500"})),
        NO_FEE,
    )
    assert amounts(priced) == [(1000, 500, 500), (1000, 0, 1000)]


def test_a_fractional_unit_price_of_one_eighth_riel_times_7_rounds_0_875_up_to_1() -> None:
    priced = price_dispensing([line("MET500", 7, "0.125")], None, NO_FEE)
    assert priced.lines[0].price == 1
    assert priced.lines[0].unit_price == Fraction(1, 8)


def test_a_usd_unit_price_with_six_decimals_is_priced_exactly_in_cents() -> None:
    unit = parse_unit_price("1.234565", 2)  # 123.4565 cents
    priced = price_dispensing([LineRequest("INS", 10, unit)], None, NO_FEE)
    assert priced.lines[0].price == 1235  # 1234.565 cents rounds half up
    unit = parse_unit_price("0.000001", 2)
    priced = price_dispensing([LineRequest("INS", 3, unit)], None, NO_FEE)
    assert priced.lines[0].price == 0


def test_rounding_is_half_up_at_exactly_one_half() -> None:
    priced = price_dispensing([line("MET500", 5, "0.5")], scheme(50), NO_FEE)
    # price 2.5 -> 3; subsidy 3 * 50 % = 1.5 -> 2
    assert amounts(priced) == [(3, 2, 1)]


def test_the_dispensing_cap_is_consumed_line_by_line_in_request_order() -> None:
    priced = price_dispensing(
        [line("A", 10, 100), line("B", 10, 100), line("C", 10, 100)],
        scheme(50, cap_per_dispensing=1200),
        NO_FEE,
    )
    assert [p.subsidy for p in priced.lines] == [500, 500, 200]
    assert priced.total_subsidy == 1200


def test_the_monthly_cap_counts_the_subsidy_already_used_that_month() -> None:
    priced = price_dispensing(
        [line("A", 10, 100), line("B", 10, 100)],
        scheme(50, cap_per_patient_month=2000),
        NO_FEE,
        subsidy_used_in_month=1300,
    )
    assert [p.subsidy for p in priced.lines] == [500, 200]


def test_a_monthly_cap_already_spent_gives_no_subsidy() -> None:
    priced = price_dispensing(
        [line("A", 10, 100)], scheme(50, cap_per_patient_month=1000), NO_FEE, 1500
    )
    assert amounts(priced) == [(1000, 0, 1000)]


def test_the_tighter_of_both_caps_wins_line_by_line() -> None:
    priced = price_dispensing(
        [line("A", 10, 100), line("B", 10, 100), line("C", 10, 100)],
        scheme(50, cap_per_dispensing=1200, cap_per_patient_month=1500),
        NO_FEE,
        subsidy_used_in_month=600,
    )
    assert [p.subsidy for p in priced.lines] == [500, 400, 0]


def test_cash_rounding_rounds_the_copayment_down_and_raises_the_subsidy_on_the_last_line() -> None:
    priced = price_dispensing(
        [line("A", 10, 100), line("B", 1, 230)], scheme(50, cash_rounding=100), NO_FEE
    )
    # raw: (1000, 500, 500), (230, 115, 115); co-payment 615 -> 600
    assert amounts(priced) == [(1000, 500, 500), (230, 130, 100)]
    assert priced.total_copayment == 600


def test_cash_rounding_rounds_the_copayment_up_at_one_half_and_lowers_the_subsidy() -> None:
    priced = price_dispensing(
        [line("A", 10, 100), line("B", 1, 300)], scheme(50, cash_rounding=100), NO_FEE
    )
    # raw co-payment 500 + 150 = 650 -> 700
    assert amounts(priced) == [(1000, 500, 500), (300, 100, 200)]


def test_cash_rounding_never_raises_the_copayment_above_the_total_price() -> None:
    priced = price_dispensing([line("A", 1, 1060)], scheme(0, cash_rounding=100), NO_FEE)
    # co-payment 1060 -> 1100, clamped to the price 1060
    assert amounts(priced) == [(1060, 0, 1060)]


def test_cash_rounding_can_bring_the_copayment_down_to_zero() -> None:
    priced = price_dispensing([line("A", 1, 1060)], scheme(96, cash_rounding=100), NO_FEE)
    # subsidy round(1017.6) = 1018, co-payment 42 -> 0: the scheme pays all
    assert amounts(priced) == [(1060, 1060, 0)]


def test_cash_rounding_spills_to_earlier_lines_when_the_last_cannot_absorb_a_raise() -> None:
    priced = price_dispensing(
        [line("A", 10, 100), line("B", 1, 10)],
        scheme(50, eligible=frozenset({"A"}), cash_rounding=1000),
        NO_FEE,
    )
    # co-payment 500 + 10 = 510 -> 1000: B has no subsidy to give, A gives 490
    assert amounts(priced) == [(1000, 10, 990), (10, 0, 10)]


def test_cash_rounding_spills_to_earlier_lines_when_the_last_cannot_absorb_a_cut() -> None:
    priced = price_dispensing(
        [line("A", 1, 140), line("B", 1, 20)],
        scheme(90, eligible=frozenset({"B"}), cash_rounding=100),
        NO_FEE,
    )
    # co-payment 140 + 2 = 142 -> 100: B's 2 goes to subsidy, then 40 from A
    assert amounts(priced) == [(140, 40, 100), (20, 20, 0)]


def test_a_percent_fee_is_a_rounded_share_of_the_total_price() -> None:
    priced = price_dispensing(
        [line("A", 1, 1005), line("B", 1, 10)], None, FeeRule("percent", Fraction(10))
    )
    assert priced.fee == 102  # 101.5 -> 102


def test_a_per_line_fee_is_the_value_times_the_number_of_lines() -> None:
    priced = price_dispensing(
        [line("A", 1, 10), line("B", 1, 10), line("C", 1, 10)],
        None,
        FeeRule("per_line", Fraction(250)),
    )
    assert priced.fee == 750


def test_a_per_dispensing_fee_is_the_value_whatever_the_lines() -> None:
    priced = price_dispensing(
        [line("A", 1, 10), line("B", 1, 10)], None, FeeRule("per_dispensing", Fraction(500))
    )
    assert priced.fee == 500


def test_a_per_line_or_per_dispensing_fee_must_be_whole_minor_units() -> None:
    with pytest.raises(ValueError):
        FeeRule("per_line", Fraction(1, 2))
    with pytest.raises(InvalidFeeRule):
        FeeRule("per_dispensing", Fraction(101, 100))
    FeeRule("percent", Fraction(25, 2))  # a percent may be fractional


def test_floats_and_malformed_terms_are_refused() -> None:
    with pytest.raises(InvalidFeeRule):
        FeeRule("percent", 10.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidFeeRule):
        FeeRule("per_unit", Fraction(1))
    with pytest.raises(InvalidSchemeTerms):
        scheme(101)
    with pytest.raises(InvalidSchemeTerms):
        scheme(50, payer="donor")
    with pytest.raises(InvalidSchemeTerms):
        scheme(50, cash_rounding=0)
    with pytest.raises(InvalidLine):
        LineRequest("A", 0, Fraction(1))
    with pytest.raises(InvalidLine):
        LineRequest("A", 1, 0.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidLine):
        price_dispensing([], None, NO_FEE)


def test_every_pricing_error_is_a_value_error() -> None:
    assert issubclass(PricingError, ValueError)
    assert issubclass(ReturnExceedsDispensed, PricingError)


# --------------------------------------------------------------------------- returns


def test_returning_price_1000_over_3_units_one_by_one_reverses_it_exactly() -> None:
    original = price_dispensing(
        [line("A", 3, Fraction(1000, 3))], scheme(50), FeeRule("percent", Fraction(10))
    )
    assert amounts(original) == [(1000, 500, 500)] and original.fee == 100
    lots = [[LotTaken("L1", 3, 700)]]
    parts = [return_now(original, lots, [k], [1], "percent") for k in range(3)]
    assert [p.total_price for p in parts] == [333, 334, 333]
    assert [p.total_subsidy for p in parts] == [167, 166, 167]
    assert [p.total_copayment for p in parts] == [166, 168, 166]
    assert [p.total_cost for p in parts] == [233, 234, 233]
    assert [p.fee for p in parts] == [33, 34, 33]
    assert sum(p.total_price for p in parts) == 1000
    assert sum(p.fee for p in parts) == 100


def test_a_return_in_one_go_reverses_the_dispensing_exactly() -> None:
    original = price_dispensing(
        [line("A", 7, "0.125"), line("B", 11, 37)],
        scheme(33, cash_rounding=10),
        FeeRule("per_line", Fraction(200)),
    )
    lots = [[LotTaken("L1", 7, 5)], [LotTaken("L2", 4, 100), LotTaken("L3", 7, 91)]]
    back = return_now(original, lots, [0, 0], [7, 11], "per_line")
    assert [(r.price, r.subsidy, r.copayment) for r in back.lines] == amounts(original)
    assert back.total_cost == 196
    assert back.fee == original.fee == 400


def test_units_go_back_to_the_latest_picked_lot_first_at_the_value_they_left_with() -> None:
    original = price_dispensing([line("A", 10, 10)], None, NO_FEE)
    lots = [[LotTaken("EARLY", 4, 400), LotTaken("LATE", 6, 900)]]
    first = return_now(original, lots, [0], [5], "per_dispensing")
    assert first.lines[0].lots == (LotTaken("LATE", 5, 750),)
    second = return_now(original, lots, [5], [3], "per_dispensing")
    assert second.lines[0].lots == (LotTaken("LATE", 1, 150), LotTaken("EARLY", 2, 200))
    third = return_now(original, lots, [8], [2], "per_dispensing")
    assert third.lines[0].lots == (LotTaken("EARLY", 2, 200),)
    assert first.total_cost + second.total_cost + third.total_cost == 1300


def test_a_percent_fee_is_reversed_in_proportion_to_the_price_returned() -> None:
    original = price_dispensing(
        [line("A", 4, 250), line("B", 1, 1000)], None, FeeRule("percent", Fraction(10))
    )
    assert original.fee == 200
    lots = [[LotTaken("L1", 4, 0)], [LotTaken("L2", 1, 0)]]
    first = return_now(original, lots, [0, 0], [1, 0], "percent")
    assert first.total_price == 250 and first.fee == 25
    second = return_now(original, lots, [1, 0], [3, 1], "percent")
    assert second.fee == 175


def test_a_per_dispensing_fee_is_reversed_only_by_the_return_that_completes_it() -> None:
    original = price_dispensing([line("A", 4, 250)], None, FeeRule("per_dispensing", Fraction(300)))
    lots = [[LotTaken("L1", 4, 40)]]
    assert return_now(original, lots, [0], [3], "per_dispensing").fee == 0
    assert return_now(original, lots, [3], [1], "per_dispensing").fee == 300


def test_returning_more_than_remains_raises_and_names_the_medicine() -> None:
    original = price_dispensing([line("MET500", 4, 250)], None, NO_FEE)
    lots = [[LotTaken("L1", 4, 40)]]
    with pytest.raises(ReturnExceedsDispensed, match="MET500") as caught:
        return_now(original, lots, [3], [2], "per_dispensing")
    assert (caught.value.remaining, caught.value.requested) == (1, 2)
    assert isinstance(caught.value, ValueError)


def test_a_return_of_nothing_or_with_lots_that_do_not_add_up_is_refused() -> None:
    original = price_dispensing([line("A", 4, 250)], None, NO_FEE)
    with pytest.raises(InvalidReturn):
        return_now(original, [[LotTaken("L1", 4, 40)]], [0], [0], "per_dispensing")
    with pytest.raises(InvalidReturn):
        return_now(original, [[LotTaken("L1", 3, 40)]], [0], [1], "per_dispensing")
    with pytest.raises(InvalidReturn):
        return_now(original, [[LotTaken("L1", 4, 40)]], [0], [1], "per_unit")


def test_the_callers_return_history_is_checked_against_the_rules() -> None:
    original = price_dispensing([line("A", 4, 250)], None, FeeRule("percent", Fraction(10)))
    lots = [[LotTaken("E", 2, 20), LotTaken("L", 2, 20)]]
    ok = price_return(original, lots, [1], [1], [[0, 1]], "percent", 25)
    assert ok.fee == 25
    with pytest.raises(InconsistentReturnHistory):
        price_return(original, lots, [1], [1], [[1, 0]], "percent", 25)
    with pytest.raises(InconsistentReturnHistory):
        price_return(original, lots, [1], [1], [[0, 1]], "percent", 0)


# --------------------------------------------------------------------------- properties

MEDICINES = ["A", "B", "C", "D"]

line_requests = st.lists(
    st.builds(
        LineRequest,
        medicine=st.sampled_from(MEDICINES),
        quantity=st.integers(1, 500),
        unit_price=st.builds(Fraction, st.integers(0, 10**9), st.sampled_from([1, 10**6])),
    ),
    min_size=1,
    max_size=6,
)

schemes = st.none() | st.builds(
    SchemeTerms,
    code=st.just("S"),
    payer=st.sampled_from(["external", "fund"]),
    percent=st.builds(Fraction, st.integers(0, 10_000), st.just(100)),
    cap_per_dispensing=st.none() | st.integers(0, 10**6),
    cap_per_patient_month=st.none() | st.integers(0, 10**6),
    eligible_medicines=st.none() | st.frozensets(st.sampled_from(MEDICINES)),
    cash_rounding=st.none() | st.sampled_from([1, 7, 50, 100, 500, 1000]),
)

fee_rules = st.one_of(
    st.builds(FeeRule, st.just("percent"), st.builds(Fraction, st.integers(0, 3000), st.just(100))),
    st.builds(FeeRule, st.just("per_line"), st.builds(Fraction, st.integers(0, 1000))),
    st.builds(FeeRule, st.just("per_dispensing"), st.builds(Fraction, st.integers(0, 1000))),
)


@settings(max_examples=300, deadline=None)
@given(lines=line_requests, terms=schemes, fee=fee_rules, used=st.integers(0, 2 * 10**6))
def test_every_priced_dispensing_sums_back_and_respects_its_caps(
    lines: list[LineRequest], terms: SchemeTerms | None, fee: FeeRule, used: int
) -> None:
    priced = price_dispensing(lines, terms, fee, used)
    for request, p in zip(lines, priced.lines, strict=True):
        assert p.price == p.subsidy + p.copayment
        assert min(p.price, p.subsidy, p.copayment) >= 0
        assert p.price == (request.unit_price * request.quantity + Fraction(1, 2)).__floor__()
    assert priced.total_price == sum(p.price for p in priced.lines)
    assert priced.total_subsidy == sum(p.subsidy for p in priced.lines)
    assert priced.total_copayment == sum(p.copayment for p in priced.lines)
    assert priced.fee >= 0
    if terms is None:
        assert priced.total_subsidy == 0
        return
    # Cash rounding moves the co-payment by less than R/2 towards the subsidy; the caps bind
    # the subsidy before that move.
    slack = (terms.cash_rounding - 1) // 2 if terms.cash_rounding else 0
    if terms.cap_per_dispensing is not None:
        assert priced.total_subsidy <= terms.cap_per_dispensing + slack
    if terms.cap_per_patient_month is not None:
        assert priced.total_subsidy <= max(0, terms.cap_per_patient_month - used) + slack
    if terms.cash_rounding:
        r = terms.cash_rounding
        assert priced.total_copayment % r == 0 or priced.total_copayment == priced.total_price
    else:
        for p in priced.lines:
            eligible = terms.is_eligible(p.medicine)
            raw = (p.price * terms.percent / 100 + Fraction(1, 2)).__floor__() if eligible else 0
            assert p.subsidy <= raw


ReturnCase = tuple[PricedDispensing, list[list[LotTaken]], list[list[int]], str]


@st.composite
def dispensing_with_returns(draw: st.DrawFn) -> ReturnCase:
    lines = draw(line_requests)
    terms = draw(schemes)
    fee = draw(fee_rules)
    priced = price_dispensing(lines, terms, fee, draw(st.integers(0, 10**6)))
    lots_per_line: list[list[LotTaken]] = []
    for k, p in enumerate(priced.lines):
        cuts = (
            sorted(draw(st.sets(st.integers(1, p.quantity - 1), max_size=3)))
            if p.quantity > 1
            else []
        )
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, p.quantity], strict=True)]
        lots_per_line.append(
            [
                LotTaken(f"L{k}.{j}", size, draw(st.integers(0, 10**7)))
                for j, size in enumerate(sizes)
            ]
        )
    events = draw(st.integers(1, 5))
    per_event: list[list[int]] = [[0] * len(priced.lines) for _ in range(events)]
    for k, p in enumerate(priced.lines):
        cuts = sorted(
            draw(st.lists(st.integers(0, p.quantity), min_size=events - 1, max_size=events - 1))
        )
        for e, (a, b) in enumerate(zip([0, *cuts], [*cuts, p.quantity], strict=True)):
            per_event[e][k] = b - a
    returns = [event for event in per_event if any(event)]
    return priced, lots_per_line, returns, fee.kind


@settings(max_examples=300, deadline=None)
@given(case=dispensing_with_returns())
def test_any_partition_of_a_full_return_reverses_every_amount_exactly(case: ReturnCase) -> None:
    original, lots_per_line, returns, kind = case
    before = [0] * len(original.lines)
    lots_before = [[0] * len(lots) for lots in lots_per_line]
    fee_before = 0
    price = [0] * len(original.lines)
    subsidy = [0] * len(original.lines)
    copayment = [0] * len(original.lines)
    value: dict[str, int] = {}
    units: dict[str, int] = {}
    fee = 0
    for event in returns:
        back = price_return(original, lots_per_line, before, event, lots_before, kind, fee_before)
        assert back.total_price == back.total_subsidy + back.total_copayment
        assert back.total_cost == sum(r.cost for r in back.lines)
        for r in back.lines:
            assert r.price == r.subsidy + r.copayment
            assert r.price >= 0 and r.subsidy >= 0
            price[r.line_index] += r.price
            subsidy[r.line_index] += r.subsidy
            copayment[r.line_index] += r.copayment
            for taken in r.lots:
                value[taken.lot] = value.get(taken.lot, 0) + taken.value
                units[taken.lot] = units.get(taken.lot, 0) + taken.quantity
                names = [lt.lot for lt in lots_per_line[r.line_index]]
                lots_before[r.line_index][names.index(taken.lot)] += taken.quantity
        fee += back.fee
        fee_before += back.fee
        before = [b + n for b, n in zip(before, event, strict=True)]
    assert [(p, s, c) for p, s, c in zip(price, subsidy, copayment, strict=True)] == amounts(
        original
    )
    for lots in lots_per_line:
        for lt in lots:
            assert units[lt.lot] == lt.quantity
            assert value[lt.lot] == lt.value
    assert fee == original.fee
    with pytest.raises(ReturnExceedsDispensed):
        one_more = [1] + [0] * (len(before) - 1)
        price_return(original, lots_per_line, before, one_more, None, kind, None)
