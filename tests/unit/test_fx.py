"""The pure rules of two currencies (DESIGN.md "Two currencies"), to the riel and the cent."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.fx import (
    Rate,
    RateError,
    convert,
    format_rate,
    implied_rate,
    parse_rate,
)
from ledger.money import AmountError


def test_a_rate_is_kept_in_millionths_exactly() -> None:
    assert parse_rate("4100").micro == 4_100_000_000
    assert parse_rate("4100.5").micro == 4_100_500_000
    assert parse_rate("4080.123456").micro == 4_080_123_456
    assert parse_rate("0.000001").micro == 1
    assert parse_rate("4100.500000").text == "4100.5"
    assert parse_rate("4100").text6 == "4100.000000"
    assert format_rate(4_080_000_000) == "4080"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0", "greater than zero"),
        ("0.000000", "greater than zero"),
        ("-4100", "greater than zero"),
        ("4100.1234567", "7 decimals"),
        ("4,100", "not a decimal"),
        ("1e3", "not a decimal"),
        ("", "not a decimal"),
        (" 4100", "not a decimal"),
        ("4100\n", "not a decimal"),
        ("99999999999", "larger"),
    ],
)
def test_bad_rates_are_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(RateError) as info:
        parse_rate(text)
    assert why in str(info.value)


@pytest.mark.parametrize("value", [4100.5, True, None, [], {}])
def test_a_rate_is_a_string_never_a_float(value: object) -> None:
    with pytest.raises(RateError):
        parse_rate(value)


def test_design_exchange_example() -> None:
    # 1,000.00 USD for 4,080,000 KHR: rate 4080, both ways exact.
    assert implied_rate(4_080_000, 100_000).text6 == "4080.000000"
    assert convert(100_000, "USD", "KHR", parse_rate("4080")) == 4_080_000
    assert convert(4_080_000, "KHR", "USD", parse_rate("4080")) == 100_000


def test_design_receipt_example() -> None:
    # a line of 250.00 USD at 4,100 is 1,025,000 KHR.
    assert convert(25_000, "USD", "KHR", parse_rate("4100")) == 1_025_000


def test_a_rate_with_six_decimals() -> None:
    rate = parse_rate("4087.654321")
    # 123.45 USD = 12345 cents * 4087.654321 / 100 = 504620.925927... riel
    assert convert(12_345, "USD", "KHR", rate) == 504_621
    assert Fraction(12_345) * rate.value / 100 == Fraction(504_620_925_927_450, 10**9)
    # 1,000,000 KHR = 100,000,000 / 4087.654321 cents = 24463.92...
    assert convert(1_000_000, "KHR", "USD", rate) == 24_464


def test_the_half_up_boundary_usd_to_khr() -> None:
    rate = parse_rate("4100.5")
    # 1 cent at 4100.5 = 41.005 riel -> 41; 10 cents = 410.05 -> 410; 100 cents = 4100.5 -> 4101
    assert convert(1, "USD", "KHR", rate) == 41
    assert convert(100, "USD", "KHR", rate) == 4101
    assert convert(-100, "USD", "KHR", rate) == -4101
    # exactly .5 below and above
    assert convert(50, "USD", "KHR", parse_rate("1")) == 1  # 0.5 riel rounds up
    assert convert(49, "USD", "KHR", parse_rate("1")) == 0


def test_the_half_up_boundary_khr_to_usd() -> None:
    rate = parse_rate("4000")
    # 20 riel = 0.5 cent -> 1 cent; 19 riel = 0.475 -> 0
    assert convert(20, "KHR", "USD", rate) == 1
    assert convert(19, "KHR", "USD", rate) == 0
    assert convert(60, "KHR", "USD", rate) == 2  # 1.5 -> 2
    assert convert(-60, "KHR", "USD", rate) == -2


def test_implied_rates_round_half_up_to_six_decimals() -> None:
    # 1 KHR for 3 cents: 33.3333333... -> 33.333333
    assert implied_rate(1, 3).text6 == "33.333333"
    # 2 KHR for 3 cents = 66.6666666... -> 66.666667
    assert implied_rate(2, 3).text6 == "66.666667"
    with pytest.raises(RateError):
        implied_rate(0, 100)


def test_same_currency_is_unchanged_and_unknown_currencies_refused() -> None:
    assert convert(123, "KHR", "KHR", parse_rate("4100")) == 123
    with pytest.raises(AmountError):
        convert(1, "EUR", "KHR", parse_rate("4100"))


def test_a_rate_cannot_be_zero_even_when_built_directly() -> None:
    with pytest.raises(RateError):
        Rate(0)


@given(
    cents=st.integers(min_value=-(10**12), max_value=10**12),
    micro=st.integers(min_value=1, max_value=10**16),
)
def test_conversion_is_exact_half_up(cents: int, micro: int) -> None:
    rate = Rate(micro)
    exact = Fraction(cents * micro, 100 * 10**6)
    got = convert(cents, "USD", "KHR", rate)
    assert abs(Fraction(got) - exact) <= Fraction(1, 2)
    if abs(Fraction(got) - exact) == Fraction(1, 2):
        assert abs(got) > abs(exact)  # halves away from zero
    assert convert(-cents, "USD", "KHR", rate) == -got
