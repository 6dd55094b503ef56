"""ledger.model: an entry is valid only when it balances per commodity."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.errors import InvalidRequest, RdfError, UnbalancedEntry
from ledger.model import (
    BALANCE_STRIPES,
    EntryDraft,
    PostingDraft,
    first_day_after,
    month_bounds,
    month_of,
    reversal_of,
    stripe_for,
    validate_entry,
)
from ledger.money import MAX_AMOUNT_MINOR

D = date(2026, 10, 14)


def entry(*postings: tuple[str, str, int]) -> EntryDraft:
    return EntryDraft(D, "test", tuple(PostingDraft(a, c, amt) for a, c, amt in postings))


def test_accepts_an_entry_that_balances_per_commodity() -> None:
    validate_entry(
        entry(("1010", "KHR", 500), ("3000", "KHR", -500), ("1020", "USD", 1), ("3000", "USD", -1))
    )


def test_refuses_an_unbalanced_entry_and_says_by_how_much() -> None:
    with pytest.raises(UnbalancedEntry) as exc:
        validate_entry(entry(("1010", "KHR", 500), ("3000", "KHR", -400)), {"KHR": 0})
    assert "KHR is off by 100" in exc.value.detail
    assert exc.value.extra["unbalanced"] == {"KHR": "100"}


def test_refuses_an_entry_balanced_in_sum_but_not_per_commodity() -> None:
    with pytest.raises(UnbalancedEntry) as exc:
        validate_entry(entry(("1010", "KHR", 500), ("1020", "USD", -500)), {"KHR": 0, "USD": 2})
    assert exc.value.extra["unbalanced"] == {"KHR": "500", "USD": "-5.00"}


def test_refuses_a_zero_amount() -> None:
    with pytest.raises(InvalidRequest) as exc:
        validate_entry(entry(("1010", "KHR", 0), ("3000", "KHR", 0)))
    assert set(exc.value.errors or {}) == {"postings.0.amount", "postings.1.amount"}


def test_refuses_an_entry_with_one_posting_or_none() -> None:
    with pytest.raises(UnbalancedEntry):
        validate_entry(entry(("1010", "KHR", 500)))
    with pytest.raises(UnbalancedEntry):
        validate_entry(entry())


def test_refuses_absurd_amounts_and_non_integers() -> None:
    with pytest.raises(InvalidRequest):
        validate_entry(
            entry(("1010", "KHR", MAX_AMOUNT_MINOR + 1), ("3000", "KHR", -MAX_AMOUNT_MINOR - 1))
        )
    for bad in (True, 1.0):
        with pytest.raises(RdfError):
            validate_entry(entry(("1010", "KHR", bad), ("3000", "KHR", -1)))  # type: ignore[arg-type]


def test_a_reversal_cancels_every_posting_exactly() -> None:
    ps = (PostingDraft("1010", "KHR", 5, None), PostingDraft("1400-P1", "MET500", -5, 7))
    rev = reversal_of(ps)
    assert [p.amount for p in rev] == [-5, 5]
    assert rev[1].lot_id == 7 and rev[1].account == "1400-P1"


def test_stripe_is_stable_and_within_range() -> None:
    # Values are fixed: a salted hash would move balances between stripes across restarts.
    assert stripe_for("P1", lot_key=0, nonneg=False) == stripe_for("P1", lot_key=0, nonneg=False)
    assert stripe_for("P1", lot_key=0, nonneg=False) == (80 * 31 + 49) % BALANCE_STRIPES
    for code in ("P1", "P2", "CENTRAL", "PX", "a-long-pharmacy-code-0001"):
        assert 0 <= stripe_for(code, lot_key=0, nonneg=False) < BALANCE_STRIPES
    assert len({stripe_for(f"P{i}", lot_key=0, nonneg=False) for i in range(64)}) > 1


def test_non_negative_and_unpartitioned_balances_live_in_stripe_zero() -> None:
    # A lot balance that must not go negative is one row, so one lock guards it.
    assert stripe_for("P1", lot_key=3, nonneg=True) == 0
    assert stripe_for("P1", lot_key=0, nonneg=True) == 0
    # A lot balance without that rule (5000 per lot: one lot sold at many pharmacies) is
    # spread like any other, so pharmacies dispensing one lot do not queue on one row.
    assert stripe_for("P1", lot_key=3, nonneg=False) == stripe_for("P1", lot_key=0, nonneg=False)
    assert stripe_for("P1", lot_key=3, nonneg=False) != 0
    assert stripe_for(None, lot_key=0, nonneg=False) == 0
    assert stripe_for("", lot_key=0, nonneg=False) == 0


def test_month_helpers() -> None:
    assert month_of(date(2026, 1, 31)) == "2026-01"
    assert first_day_after("2026-12") == date(2027, 1, 1)
    assert first_day_after("2026-01") == date(2026, 2, 1)
    assert month_bounds("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert month_bounds("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))


def test_a_memo_no_database_can_store_is_refused() -> None:
    postings = (PostingDraft("1010", "KHR", 5), PostingDraft("3000", "KHR", -5))
    for memo in ("a\x00b", "lone \ud800 surrogate"):
        with pytest.raises(InvalidRequest):
            validate_entry(EntryDraft(service_date=date(2026, 10, 1), memo=memo, postings=postings))
