"""Aged balances: what each counterparty owes, by how long it has been owed.

An open item is a debit not yet settled. Items are put in buckets by the number of days
from the item's date to ``as_of``: ``0-30`` (0 to 30 days inclusive), ``31-60``, ``61-90``
and ``90+`` (91 days or more); ``total`` is the counterparty's whole balance.

Aged balances come from a ledger account's history by :func:`fifo_open_items`: the
account's credits (payments received) settle its oldest debits first, and what is left
open keeps its own date, a partly paid debit keeping its remainder on its date.

Overpayment (decision): when credits exceed all debits, nothing is open, so every bucket is
zero, and the unapplied credit is reported as a negative ``total``. :func:`age_balances`
accepts such a credit as an :class:`OpenItem` with a negative amount, which counts in
``total`` only and is never aged; :func:`age_account` does the whole derivation for one
account. Amounts are ints in minor units throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

#: Bucket names in report order, then the total.
BUCKETS: tuple[str, ...] = ("0-30", "31-60", "61-90", "90+")
TOTAL = "total"


@dataclass(frozen=True)
class OpenItem:
    """Something owed by ``counterparty`` since ``date``: a debit not yet settled.

    A negative amount is an unapplied credit (an overpayment): it lowers ``total`` but is
    not put in any bucket.
    """

    counterparty: str
    date: date
    amount_minor: int


def bucket_for(days: int) -> str:
    """Name of the bucket for an item ``days`` old (0 or more)."""
    if days < 0:
        raise ValueError(f"an item cannot be {days} days old")
    if days <= 30:
        return "0-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "90+"


def age_balances(items: Sequence[OpenItem], as_of: date) -> dict[str, dict[str, int]]:
    """Aged balance of each counterparty as of a date.

    Returns ``{counterparty: {"0-30": .., "31-60": .., "61-90": .., "90+": .., "total": ..}}``
    with every key present. An item dated after ``as_of`` did not exist yet on that date
    and is refused with ``ValueError``: the caller chooses the items as of the date.
    """
    result: dict[str, dict[str, int]] = {}
    for item in items:
        days = (as_of - item.date).days
        if days < 0:
            raise ValueError(
                f"item of {item.counterparty!r} dated {item.date.isoformat()} is after "
                f"the aging date {as_of.isoformat()}"
            )
        row = result.setdefault(item.counterparty, _empty_row())
        if item.amount_minor > 0:
            row[bucket_for(days)] += item.amount_minor
        row[TOTAL] += item.amount_minor
    return result


def fifo_open_items(
    debits: Sequence[tuple[date, int]], credits_total: int
) -> list[tuple[date, int]]:
    """Apply ``credits_total`` to the oldest debits first; return what is still open.

    Debits are ``(date, amount)`` with amount > 0; equal dates keep their given order.
    The result is oldest first, a partly settled debit keeping its remainder on its date.
    When credits cover every debit the result is empty (see :func:`unapplied_credit`).
    """
    if credits_total < 0:
        raise ValueError(f"credits total must not be negative, got {credits_total}")
    for when, amount in debits:
        if amount <= 0:
            raise ValueError(f"debit of {when.isoformat()} must be positive, got {amount}")
    remaining = credits_total
    open_items: list[tuple[date, int]] = []
    for when, amount in sorted(debits, key=lambda d: d[0]):
        settled = min(amount, remaining)
        remaining -= settled
        if amount > settled:
            open_items.append((when, amount - settled))
    return open_items


def unapplied_credit(debits: Sequence[tuple[date, int]], credits_total: int) -> int:
    """Credits left over after settling every debit (0 unless the account is overpaid)."""
    return max(0, credits_total - sum(amount for _, amount in debits))


def age_account(
    counterparty: str,
    debits: Sequence[tuple[date, int]],
    credits_total: int,
    as_of: date,
) -> dict[str, int]:
    """Aged balance of one account from its history: debits and the sum of its credits.

    ``total`` always equals debits minus credits, so an overpaid account shows all buckets
    at zero and a negative total.
    """
    open_debits = fifo_open_items(debits, credits_total)
    items = [OpenItem(counterparty, when, amount) for when, amount in open_debits]
    credit = unapplied_credit(debits, credits_total)
    if credit:
        items.append(OpenItem(counterparty, as_of, -credit))
    return age_balances(items, as_of).get(counterparty, _empty_row())


def _empty_row() -> dict[str, int]:
    return {name: 0 for name in (*BUCKETS, TOTAL)}
