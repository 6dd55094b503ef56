"""Aged balances by bucket, and FIFO derivation of open items from an account's history."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from reports.aging import (
    BUCKETS,
    OpenItem,
    age_account,
    age_balances,
    bucket_for,
    fifo_open_items,
    unapplied_credit,
)

AS_OF = date(2024, 6, 30)


def days_ago(n: int) -> date:
    return AS_OF - timedelta(days=n)


ZERO = {"0-30": 0, "31-60": 0, "61-90": 0, "90+": 0, "total": 0}


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (0, "0-30"),
        (30, "0-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
        (4000, "90+"),
    ],
)
def test_each_item_falls_in_its_bucket_at_the_boundaries(days: int, bucket: str) -> None:
    result = age_balances([OpenItem("P1", days_ago(days), 100)], AS_OF)
    assert result["P1"][bucket] == 100
    assert result["P1"]["total"] == 100
    assert sum(result["P1"][b] for b in BUCKETS) == 100


def test_bucket_names_are_in_report_order() -> None:
    assert BUCKETS == ("0-30", "31-60", "61-90", "90+")


def test_bucket_for_refuses_a_negative_age() -> None:
    with pytest.raises(ValueError):
        bucket_for(-1)


def test_balances_are_summed_per_counterparty_with_every_bucket_present() -> None:
    items = [
        OpenItem("P1", days_ago(5), 1000),
        OpenItem("P1", days_ago(30), 500),
        OpenItem("P1", days_ago(31), 200),
        OpenItem("P1", days_ago(91), 7),
        OpenItem("HEF", days_ago(60), 3000),
        OpenItem("HEF", days_ago(61), 40),
    ]
    assert age_balances(items, AS_OF) == {
        "P1": {"0-30": 1500, "31-60": 200, "61-90": 0, "90+": 7, "total": 1707},
        "HEF": {"0-30": 0, "31-60": 3000, "61-90": 40, "90+": 0, "total": 3040},
    }


def test_no_items_give_no_counterparties() -> None:
    assert age_balances([], AS_OF) == {}


def test_an_item_dated_after_the_aging_date_is_refused() -> None:
    with pytest.raises(ValueError, match="after the aging date"):
        age_balances([OpenItem("P1", AS_OF + timedelta(days=1), 100)], AS_OF)


def test_a_negative_item_is_an_unapplied_credit_counted_in_total_only() -> None:
    items = [OpenItem("P1", days_ago(100), 300), OpenItem("P1", days_ago(2), -500)]
    assert age_balances(items, AS_OF)["P1"] == {
        "0-30": 0,
        "31-60": 0,
        "61-90": 0,
        "90+": 300,
        "total": -200,
    }


# --- FIFO ---------------------------------------------------------------------------------


def test_fifo_without_credits_leaves_every_debit_open_oldest_first() -> None:
    debits = [(date(2024, 3, 1), 200), (date(2024, 1, 1), 100)]
    assert fifo_open_items(debits, 0) == [(date(2024, 1, 1), 100), (date(2024, 3, 1), 200)]


def test_fifo_credits_settle_the_oldest_debits_first() -> None:
    debits = [(date(2024, 3, 1), 300), (date(2024, 1, 1), 100), (date(2024, 2, 1), 200)]
    assert fifo_open_items(debits, 300) == [(date(2024, 3, 1), 300)]


def test_fifo_partial_payment_keeps_the_remainder_on_its_date() -> None:
    debits = [(date(2024, 1, 1), 100), (date(2024, 2, 1), 200), (date(2024, 3, 1), 300)]
    assert fifo_open_items(debits, 150) == [(date(2024, 2, 1), 150), (date(2024, 3, 1), 300)]


def test_fifo_exact_payment_leaves_nothing_open() -> None:
    debits = [(date(2024, 1, 1), 100), (date(2024, 2, 1), 200)]
    assert fifo_open_items(debits, 300) == []
    assert unapplied_credit(debits, 300) == 0


def test_fifo_overpayment_leaves_no_open_items_and_an_unapplied_credit() -> None:
    debits = [(date(2024, 1, 1), 100), (date(2024, 2, 1), 200)]
    assert fifo_open_items(debits, 450) == []
    assert unapplied_credit(debits, 450) == 150


def test_fifo_debits_of_the_same_date_are_settled_in_the_order_given() -> None:
    debits = [(date(2024, 1, 1), 100), (date(2024, 1, 1), 200)]
    assert fifo_open_items(debits, 150) == [(date(2024, 1, 1), 150)]
    assert fifo_open_items(debits, 50) == [(date(2024, 1, 1), 50), (date(2024, 1, 1), 200)]


def test_fifo_refuses_negative_credits_and_non_positive_debits() -> None:
    with pytest.raises(ValueError):
        fifo_open_items([(date(2024, 1, 1), 100)], -1)
    with pytest.raises(ValueError):
        fifo_open_items([(date(2024, 1, 1), 0)], 0)
    with pytest.raises(ValueError):
        fifo_open_items([(date(2024, 1, 1), -5)], 0)


# --- from history to aged balance ---------------------------------------------------------


def test_an_account_partly_paid_is_aged_on_what_remains() -> None:
    debits = [(days_ago(120), 1000), (days_ago(45), 2000), (days_ago(10), 500)]
    assert age_account("P1", debits, 1500, AS_OF) == {
        "0-30": 500,
        "31-60": 1500,
        "61-90": 0,
        "90+": 0,
        "total": 2000,
    }


def test_an_overpaid_account_has_empty_buckets_and_a_negative_total() -> None:
    debits = [(days_ago(120), 1000), (days_ago(10), 500)]
    assert age_account("P1", debits, 1800, AS_OF) == {
        "0-30": 0,
        "31-60": 0,
        "61-90": 0,
        "90+": 0,
        "total": -300,
    }


def test_a_settled_account_is_all_zero() -> None:
    assert age_account("P1", [(days_ago(3), 100)], 100, AS_OF) == ZERO
    assert age_account("P1", [], 0, AS_OF) == ZERO


def test_an_account_total_always_equals_debits_minus_credits() -> None:
    debits = [(days_ago(d), 100 + d) for d in (0, 30, 31, 60, 61, 90, 91, 400)]
    owed = sum(a for _, a in debits)
    for credits in (0, 1, 131, 500, owed - 1, owed, owed + 1, owed * 2):
        aged = age_account("P1", debits, credits, AS_OF)
        assert aged["total"] == owed - credits
        assert all(aged[b] >= 0 for b in BUCKETS)
