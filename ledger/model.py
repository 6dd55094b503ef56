"""Plain rules of the journal: postings, entries and their validation.

Sign convention: a posting's ``amount`` is a signed integer in the smallest unit of its
commodity; positive is a debit, negative a credit. An entry is valid when it has at least
two postings, no posting is zero, and for every commodity the amounts sum to zero
(invariant 1). Nothing here imports Flask or SQLAlchemy: these rules are tested alone and
enforced again by the database (see ``ledger.tables``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from ledger.errors import InvalidRequest, UnbalancedEntry
from ledger.money import MAX_AMOUNT_MINOR, format_amount

#: How many stripes a hot kept balance (revenue 4000, a scheme's 1300-…) is spread over,
#: so that dispensings of different pharmacies do not queue on one balance row.
BALANCE_STRIPES = 16


@dataclass(frozen=True)
class PostingDraft:
    """One line of an entry to be posted: ``amount`` minor/base units, positive = debit."""

    account: str
    commodity: str
    amount: int
    lot_id: int | None = None


@dataclass(frozen=True)
class EntryDraft:
    """An entry to be posted by ``ledger.posting.post_entry``."""

    service_date: date
    memo: str
    postings: tuple[PostingDraft, ...]
    source: str | None = None
    reverses_id: int | None = None
    partition: str | None = None
    #: force the accounting date (still moved forward if its month is closed)
    accounting_date: date | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


def commodity_sums(postings: Iterable[PostingDraft]) -> dict[str, int]:
    sums: dict[str, int] = defaultdict(int)
    for p in postings:
        sums[p.commodity] += p.amount
    return dict(sums)


def validate_entry(draft: EntryDraft, exponents: Mapping[str, int] | None = None) -> None:
    """Refuse an entry that is empty, has zero or absurd amounts, or does not balance.

    ``exponents`` (commodity → decimal exponent) only makes the message readable.
    """
    if "\x00" in draft.memo or any(0xD800 <= ord(ch) <= 0xDFFF for ch in draft.memo):
        raise InvalidRequest(
            "the memo holds a character no database can store (NUL or a lone surrogate)",
            errors={"memo": ["unstorable character"]},
        )
    if len(draft.postings) < 2:
        raise UnbalancedEntry(
            "an entry needs at least two postings",
            errors={"postings": ["at least two postings are required"]},
        )
    errors: dict[str, list[str]] = {}
    for i, p in enumerate(draft.postings):
        if not isinstance(p.amount, int) or isinstance(p.amount, bool):
            errors[f"postings.{i}.amount"] = ["must be an integer number of minor units"]
        elif p.amount == 0:
            errors[f"postings.{i}.amount"] = ["must not be zero"]
        elif abs(p.amount) > MAX_AMOUNT_MINOR:
            errors[f"postings.{i}.amount"] = ["is larger than this service accepts"]
    if errors:
        raise InvalidRequest("some postings have invalid amounts", errors=errors)
    off = {c: s for c, s in commodity_sums(draft.postings).items() if s != 0}
    if off:
        exps = exponents or {}
        parts = ", ".join(
            f"{c} is off by {format_amount(s, exps.get(c, 0))}" for c, s in sorted(off.items())
        )
        raise UnbalancedEntry(
            f"debits and credits must be equal for each commodity: {parts}",
            unbalanced={c: format_amount(s, exps.get(c, 0)) for c, s in off.items()},
        )


def reversal_of(postings: Iterable[PostingDraft]) -> tuple[PostingDraft, ...]:
    """The postings that cancel ``postings`` exactly."""
    return tuple(PostingDraft(p.account, p.commodity, -p.amount, p.lot_id) for p in postings)


def stripe_for(partition: str | None, *, lot_key: int, nonneg: bool) -> int:
    """The stripe of a kept balance a posting updates.

    Lot balances that must never go negative live in one row (stripe 0) so one lock guards
    them. Other balances, with or without a lot (e.g. the cost of medicines sold, 5000, per
    lot: one lot is shared by every pharmacy it was transferred to), are spread by the
    entry's partition (its pharmacy), so the hot accounts every dispensing touches are not
    one row that serialises every writer.
    """
    del lot_key  # a lot alone does not need one row: only the non-negative rule does
    if nonneg or not partition:
        return 0
    # A stable hash (Python's hash() is salted per process).
    h = 0
    for ch in partition:
        h = (h * 31 + ord(ch)) % 1_000_003
    return h % BALANCE_STRIPES


def month_of(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def first_day_after(period: str) -> date:
    """The first day of the month after ``period`` (YYYY-MM)."""
    y, m = int(period[:4]), int(period[5:7])
    return date(y + (m == 12), 1 if m == 12 else m + 1, 1)


def month_bounds(period: str) -> tuple[date, date]:
    """First and last day of a month ``YYYY-MM``."""
    y, m = int(period[:4]), int(period[5:7])
    start = date(y, m, 1)
    nxt = first_day_after(period)
    return start, date.fromordinal(nxt.toordinal() - 1)
