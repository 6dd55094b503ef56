"""The plain rules of payments, without a database: accounts and signs of each kind."""

from __future__ import annotations

import pytest

from invoices.payments import PaymentRefused, due_position, plan_payment
from ledger.model import PostingDraft


@pytest.mark.parametrize(
    ("kind", "direction", "bank", "other"),
    [
        ("pharmacy", "in", 5000, ("1200-P1", -5000)),
        ("pharmacy", "out", -5000, ("2100-P1", 5000)),
        ("scheme", "in", 5000, ("1300-P1", -5000)),
        ("supplier", "out", -5000, ("2000-P1", 5000)),
        ("donor", "in", 5000, ("3000", -5000)),
    ],
)
def test_each_kind_and_direction_posts_bank_and_counterparty_with_opposite_signs(
    kind: str, direction: str, bank: int, other: tuple[str, int]
) -> None:
    plan = plan_payment(kind, direction, "P1", 5000, "KHR", "1010")
    assert plan.counterparty_account == other[0]
    assert plan.postings == (
        PostingDraft("1010", "KHR", bank),
        PostingDraft(other[0], "KHR", other[1]),
    )


@pytest.mark.parametrize(
    ("kind", "direction", "currency", "field"),
    [
        ("scheme", "out", "KHR", "direction"),
        ("supplier", "in", "KHR", "direction"),
        ("donor", "out", "KHR", "direction"),
        ("pharmacy", "in", "USD", "currency"),
        ("supplier", "out", "USD", "currency"),
        ("pharmacy", "in", "KHR", "amount"),
    ],
)
def test_payments_that_make_no_sense_are_refused_naming_the_field(
    kind: str, direction: str, currency: str, field: str
) -> None:
    amount = 0 if field == "amount" else 100
    with pytest.raises(PaymentRefused) as info:
        plan_payment(kind, direction, "X", amount, currency, "1020")
    assert info.value.errors is not None and field in info.value.errors


def test_a_donor_may_pay_in_usd() -> None:
    plan = plan_payment("donor", "in", "Friends", 1005, "USD", "1020")
    assert plan.postings[0] == PostingDraft("1020", "USD", 1005)


def test_what_is_due_reads_each_account_in_its_normal_direction() -> None:
    assert due_position("1200-P1", 2000) == (2000, "owing")
    assert due_position("1200-P1", -500) == (-500, "overpaid")
    assert due_position("1300-HEF", 0) == (0, "settled")
    assert due_position("2000-S1", -15000) == (15000, "owing")
    assert due_position("2100-P1", 300) == (-300, "overpaid")
    assert due_position("3000", -100) == (0, "capital")
