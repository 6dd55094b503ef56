"""Proportion of days covered and overdue refills worked by hand (care/pdc.py: no
database). Each figure below is counted on a calendar in the comment beside it."""

from __future__ import annotations

from datetime import date

import pytest

from care.pdc import (
    Adherence,
    Interval,
    Overdue,
    Supply,
    adherence,
    intervals,
    line_days,
    mean_ratio,
    overdue,
    ran_out_on,
    ratio_text,
    usual_pharmacy,
)

D = date


def s(on: date, days: int, order: int = 0) -> Supply:
    return Supply(on, days, (order, 0))


def test_a_gap_is_not_covered() -> None:
    # Jan 1 +30 days: Jan 1-30; Feb 15 +30 days: Feb 15-Mar 16. Window Jan 1-Mar 31:
    # from the first dispensing (Jan 1) to Mar 31 = 31 + 28 + 31 = 90 days; covered 30 + 30.
    a = adherence(
        [s(D(2026, 1, 1), 30, 1), s(D(2026, 2, 15), 30, 2)], D(2026, 1, 1), D(2026, 3, 31)
    )
    assert a == Adherence(60, 90, "0.6667", D(2026, 1, 1), False)


def test_an_early_refill_is_carried_forward_not_overlapped() -> None:
    # Jan 1 +10: Jan 1-10; Jan 5 +10 starts when the first runs out: Jan 11-20.
    # Window Jan 1-31: 20 of 31 days (overlapping would give 14).
    supplies = [s(D(2026, 1, 1), 10, 1), s(D(2026, 1, 5), 10, 2)]
    assert intervals(supplies) == [Interval(D(2026, 1, 1), D(2026, 1, 20))]
    a = adherence(supplies, D(2026, 1, 1), D(2026, 1, 31))
    assert (a.days_covered, a.days_in_window, a.pdc) == (20, 31, "0.6452")


def test_a_return_removes_the_days_it_returns() -> None:
    # 60 tablets for 30 days, 20 returned: 30 - round(30 * 20 / 60) = 20 days: Jan 1-20.
    assert line_days(30, None, 60, 20) == 20
    a = adherence([s(D(2026, 1, 1), line_days(30, None, 60, 20))], D(2026, 1, 1), D(2026, 1, 31))
    assert (a.days_covered, a.days_in_window, a.pdc) == (20, 31, "0.6452")


@pytest.mark.parametrize(
    ("days", "default", "quantity", "returned", "left"),
    [
        (30, None, 60, 0, 30),
        (30, None, 60, 1, 29),  # 30 * 1 / 60 = 0.5 -> 1 removed (half up)
        (7, None, 3, 1, 5),  # 7 / 3 = 2.33 -> 2 removed
        (7, None, 3, 2, 2),  # 14 / 3 = 4.67 -> 5 removed
        (30, None, 60, 60, 0),  # everything back: no day left
        (None, 28, 56, 0, 28),  # the medicine's default
        (None, 28, 56, 28, 14),
        (10, 28, 56, 0, 10),  # the line's own days win
        (None, None, 60, 0, 0),  # neither: counts no days
    ],
)
def test_days_of_a_line(
    days: int | None, default: int | None, quantity: int, returned: int, left: int
) -> None:
    assert line_days(days, default, quantity, returned) == left


def test_returns_in_parts_remove_what_one_return_would() -> None:
    # Days are computed from the units returned so far: 1 then 1 = 2 at once.
    assert line_days(7, None, 3, 1 + 1) == line_days(7, None, 3, 2) == 2


def test_supply_carrying_into_the_window_counts_from_the_window_start() -> None:
    # Jan 20 +30: Jan 20-Feb 18 (18 days of February); Feb 25 +30: Feb 25-Mar 26 (4 days).
    # Supply carries in, so the denominator is all of February: 22 / 28.
    a = adherence(
        [s(D(2026, 1, 20), 30, 1), s(D(2026, 2, 25), 30, 2)], D(2026, 2, 1), D(2026, 2, 28)
    )
    assert a == Adherence(22, 28, "0.7857", D(2026, 2, 1), True)


def test_stacked_early_refills_before_the_window_carry_in() -> None:
    # Jan 25 +10: Jan 25-Feb 3; Jan 28 +10 carried: Feb 4-13. February: 13 / 28.
    a = adherence(
        [s(D(2026, 1, 25), 10, 1), s(D(2026, 1, 28), 10, 2)], D(2026, 2, 1), D(2026, 2, 28)
    )
    assert (a.days_covered, a.days_in_window, a.pdc, a.carried_in) == (13, 28, "0.4643", True)


def test_supply_that_ended_before_the_window_does_not_carry_in() -> None:
    # Jan 1 +30 ends Jan 30; Feb 10 +30. From Feb 10 to Feb 28 = 19 days, all covered.
    a = adherence(
        [s(D(2026, 1, 1), 30, 1), s(D(2026, 2, 10), 30, 2)], D(2026, 2, 1), D(2026, 2, 28)
    )
    assert a == Adherence(19, 19, "1.0000", D(2026, 2, 10), False)


def test_a_window_with_no_dispensing_and_nothing_carried_in_has_nothing_to_measure() -> None:
    a = adherence([s(D(2026, 1, 1), 10)], D(2026, 2, 1), D(2026, 2, 28))
    assert a == Adherence(0, 0, None, None, False)
    assert adherence([], D(2026, 2, 1), D(2026, 2, 28)) == Adherence(0, 0, None, None, False)


def test_supply_dispensed_after_the_window_is_ignored() -> None:
    a = adherence([s(D(2026, 1, 1), 10, 1), s(D(2026, 2, 2), 30, 2)], D(2026, 1, 1), D(2026, 1, 31))
    assert (a.days_covered, a.days_in_window) == (10, 31)


def test_a_line_with_no_days_is_not_a_dispensing_for_the_denominator() -> None:
    a = adherence([s(D(2026, 1, 1), 0, 1), s(D(2026, 1, 11), 10, 2)], D(2026, 1, 1), D(2026, 1, 31))
    assert (a.days_covered, a.days_in_window, a.counted_from) == (10, 21, D(2026, 1, 11))


def test_same_day_lines_stack_in_order() -> None:
    supplies = [s(D(2026, 1, 1), 10, 2), s(D(2026, 1, 1), 5, 1)]
    assert intervals(supplies) == [Interval(D(2026, 1, 1), D(2026, 1, 15))]


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError):
        adherence([], D(2026, 2, 1), D(2026, 1, 31))


# --------------------------------------------------------------------------- overdue


def test_ran_out_on_is_the_first_day_not_covered() -> None:
    # Jan 1 +30 covers Jan 1-30: it runs out on Jan 31.
    assert ran_out_on([s(D(2026, 1, 1), 30)], D(2026, 3, 1)) == D(2026, 1, 31)
    assert ran_out_on([], D(2026, 3, 1)) is None
    # A dispensing after the as-of day is not yet supply.
    assert ran_out_on([s(D(2026, 1, 1), 30, 1), s(D(2026, 3, 2), 30, 2)], D(2026, 3, 1)) == D(
        2026, 1, 31
    )


def test_exactly_grace_days_late_is_not_listed_one_more_is() -> None:
    supplies = [s(D(2026, 1, 1), 30)]  # runs out Jan 31
    assert overdue(supplies, D(2026, 2, 7), 7) is None  # Feb 7 - Jan 31 = 7: not > 7
    assert overdue(supplies, D(2026, 2, 8), 7) == Overdue(D(2026, 1, 31), 8)
    assert overdue(supplies, D(2026, 1, 31), 0) is None
    assert overdue(supplies, D(2026, 2, 1), 0) == Overdue(D(2026, 1, 31), 1)
    assert overdue(supplies, D(2026, 1, 20), 7) is None  # still covered


def test_a_return_shortens_the_supply_and_brings_the_visit_forward() -> None:
    # 60 tablets for 30 days from Jan 1; 30 returned: 15 days, Jan 1-15, out on Jan 16.
    full = [s(D(2026, 1, 1), line_days(30, None, 60, 0))]
    half = [s(D(2026, 1, 1), line_days(30, None, 60, 30))]
    assert overdue(full, D(2026, 1, 24), 7) is None
    assert overdue(half, D(2026, 1, 24), 7) == Overdue(D(2026, 1, 16), 8)
    assert overdue(half, D(2026, 1, 23), 7) is None


# --------------------------------------------------------------------------- helpers


def test_usual_pharmacy_is_the_one_of_most_dispensings_ties_to_the_latest() -> None:
    assert (
        usual_pharmacy(
            [(D(2026, 1, 1), 1, "P1"), (D(2026, 1, 5), 2, "P1"), (D(2026, 2, 1), 3, "P2")]
        )
        == "P1"
    )
    assert usual_pharmacy([(D(2026, 1, 1), 1, "P1"), (D(2026, 2, 1), 2, "P2")]) == "P2"
    assert usual_pharmacy([(D(2026, 2, 1), 9, "P1"), (D(2026, 2, 1), 3, "P2")]) == "P1"
    assert usual_pharmacy([]) is None


def test_ratio_text_rounds_half_up() -> None:
    assert ratio_text(2, 3) == "0.6667"
    assert ratio_text(1, 8) == "0.1250"
    assert ratio_text(1, 20000) == "0.0001"  # 0.00005 -> up
    assert ratio_text(1, 20001) == "0.0000"
    assert ratio_text(31, 31) == "1.0000"


def test_mean_ratio_is_exact_and_skips_nothing_to_measure() -> None:
    assert mean_ratio(["0.5000", "1.0000", None]) == "0.7500"
    assert mean_ratio(["0.3333", "0.3333", "0.3334"]) == "0.3333"
    assert mean_ratio([None]) is None
