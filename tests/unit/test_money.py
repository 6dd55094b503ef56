"""ledger.money: exact amounts at the edge, rounding half-up, splits that sum back."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.money import (
    MAX_AMOUNT_MINOR,
    AmountError,
    format_amount,
    lot_value_taken,
    parse_amount,
    ratio_split,
    round_half_up,
)

FAST = settings(max_examples=60, deadline=None)


@pytest.mark.parametrize(
    ("text", "exponent", "minor"),
    [
        ("3000", 0, 3000),
        ("-3000", 0, -3000),
        ("12.50", 2, 1250),
        ("12.5", 2, 1250),
        ("0.01", 2, 1),
        ("-0.01", 2, -1),
        ("12", 2, 1200),
        ("0", 0, 0),
    ],
)
def test_parses_decimal_strings_into_minor_units(text: str, exponent: int, minor: int) -> None:
    assert parse_amount(text, exponent) == minor


def test_parses_json_integers_as_major_units() -> None:
    assert parse_amount(12, 2) == 1200
    assert parse_amount(-7, 0) == -7


@given(minor=st.integers(-MAX_AMOUNT_MINOR, MAX_AMOUNT_MINOR), exponent=st.sampled_from([0, 2]))
@FAST
def test_format_then_parse_gives_back_the_same_minor_units(minor: int, exponent: int) -> None:
    text = format_amount(minor, exponent)
    assert parse_amount(text, exponent) == minor
    if exponent:
        assert len(text.split(".")[1]) == exponent


@pytest.mark.parametrize(
    ("minor", "exponent", "text"),
    [
        (1250, 2, "12.50"),
        (1, 2, "0.01"),
        (-1, 2, "-0.01"),
        (-105, 2, "-1.05"),
        (0, 2, "0.00"),
        (3000, 0, "3000"),
        (-3000, 0, "-3000"),
    ],
)
def test_formats_minor_units_with_exactly_the_currency_decimals(
    minor: int, exponent: int, text: str
) -> None:
    assert format_amount(minor, exponent) == text


@pytest.mark.parametrize("text", ["3000.5", "3000.0", "1.", ".5"])
def test_refuses_decimals_for_khr(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text, 0)


@pytest.mark.parametrize("text", ["12.505", "0.001", "-1.000"])
def test_refuses_three_decimals_for_usd(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text, 2)


@pytest.mark.parametrize(
    "value",
    [
        "1e3",
        "1E3",
        "1e-2",
        "Infinity",
        "NaN",
        "inf",
        "",
        " ",
        " 12",
        "12 ",
        "+12",
        "1,000",
        "0x10",
        "١٢",
        "１２",
        "12\n",
        "--1",
        "1_000",
        "12.",
        12.5,
        1.0,
        True,
        False,
        None,
        [],
        {},
        b"12",
    ],
)
def test_refuses_exponents_floats_booleans_and_blanks(value: object) -> None:
    with pytest.raises(AmountError):
        parse_amount(value, 2)


def test_accepts_the_largest_amount_and_refuses_one_more() -> None:
    assert parse_amount(str(MAX_AMOUNT_MINOR), 0) == MAX_AMOUNT_MINOR
    assert parse_amount(str(-MAX_AMOUNT_MINOR), 0) == -MAX_AMOUNT_MINOR
    with pytest.raises(AmountError):
        parse_amount(str(MAX_AMOUNT_MINOR + 1), 0)
    with pytest.raises(AmountError):
        parse_amount(str(-MAX_AMOUNT_MINOR - 1), 0)
    with pytest.raises(AmountError):
        parse_amount(format_amount(MAX_AMOUNT_MINOR + 1, 2), 2)
    with pytest.raises(AmountError):
        parse_amount(MAX_AMOUNT_MINOR, 2)  # a JSON integer is in major units
    with pytest.raises(AmountError):
        parse_amount("9" * 400, 0)


def test_refuses_negative_amounts_when_asked() -> None:
    with pytest.raises(AmountError):
        parse_amount("-1", 0, allow_negative=False)


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(1, 2), 1),
        (Fraction(-1, 2), -1),
        (Fraction(5, 2), 3),
        (Fraction(-5, 2), -3),
        (Fraction(3, 2), 2),
        (Fraction(-3, 2), -2),
        (Fraction(249, 100), 2),
        (Fraction(-249, 100), -2),
        (Fraction(251, 100), 3),
        (0, 0),
        (7, 7),
    ],
)
def test_rounds_halves_away_from_zero(value: Fraction, rounded: int) -> None:
    assert round_half_up(value) == rounded


@given(
    total=st.integers(-(10**12), 10**12),
    weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
)
@FAST
def test_ratio_split_always_sums_back_to_the_whole(total: int, weights: list[int]) -> None:
    parts = ratio_split(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    for part, w in zip(parts, weights, strict=True):
        if w == 0:
            assert part == 0
        # each part is within one unit of its exact share
        assert abs(Fraction(part) - Fraction(total * w, sum(weights))) <= 1


def test_ratio_split_refuses_weights_that_sum_to_zero() -> None:
    with pytest.raises(ValueError):
        ratio_split(100, [0, 0])


def test_lot_value_taken_follows_the_design_example() -> None:
    assert lot_value_taken(35000, 1000, 400) == 14000
    assert lot_value_taken(14000, 400, 60) == 2100
    assert lot_value_taken(10, 3, 1) == 3
    assert lot_value_taken(10, 4, 1) == 3  # 2.5 rounds half up
    assert lot_value_taken(10, 3, 3) == 10


@pytest.mark.parametrize("taken", [0, -1, 4])
def test_lot_value_taken_refuses_impossible_takes(taken: int) -> None:
    with pytest.raises(ValueError):
        lot_value_taken(10, 3, taken)


@given(
    value=st.integers(0, 10**12),
    units=st.integers(1, 5000),
    data=st.data(),
)
@FAST
def test_lot_units_and_value_reach_zero_together_whatever_the_takes(
    value: int, units: int, data: st.DataObject
) -> None:
    value_left, units_left = value, units
    while units_left:
        q = data.draw(st.integers(1, units_left))
        taken = lot_value_taken(value_left, units_left, q)
        assert 0 <= taken <= value_left
        value_left -= taken
        units_left -= q
        if units_left:
            assert value_left >= 0
    assert value_left == 0
