"""Adherence from the dispensing record, as plain arithmetic (DESIGN.md "Care"): no
database, no Flask. Facts in (what each dispensing line supplied), frozen results out.

Rules, in the order they apply:

* **Days of a line.** A line carries ``days_supply`` (1-365), else its medicine's
  ``default_days_supply``; a line with neither counts no days (it is not supply at all).
* **Returns remove the days they return**, in proportion to the units:
  ``days left = days - round_half_up(days * returned / quantity)`` with ``returned`` the
  units returned so far from that line, all returns together (so returning in parts or in
  one go removes the same days; returning everything removes every day). The days are
  removed from the dispensing itself, whatever the return's date: the supply never was.
* **Supply intervals carry forward.** Lines are taken in service-date order (ties: the
  dispensing's id, then the line's); a line's days start on its service date, or on the
  first day not yet covered when an earlier supply still runs (an early refill does not
  overlap, it extends). Integer days; a line of ``n`` days covers ``n`` days.
* **Proportion of days covered** over a window ``[start, end]`` (both inclusive): the
  denominator runs from the window's start when supply carries in (the day ``start`` is
  covered by lines dispensed before it), else from the first dispensing in the window, to
  the window's end; the numerator is the covered days in that span. ``pdc`` is the ratio
  as a decimal string of :data:`PDC_DECIMALS` decimals, rounded half up (``"0.8333"``).
  A window with no dispensing and no supply carried in has nothing to measure:
  ``days_in_window = 0``, ``days_covered = 0`` and ``pdc = None`` (the row is kept, so a
  patient who stopped coming is not silently dropped from the list; the overdue list is
  where they show).
* **Ran out on** (as of a day): the first day after the last covered day of the supply
  dispensed on or before that day; **overdue** when ``as_of - ran_out_on > grace_days``.
* **Usual pharmacy**: the pharmacy of most dispensings; a tie goes to the one dispensed
  most recently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import NamedTuple

from ledger.money import round_half_up

#: Decimals of a PDC ratio (round half up).
PDC_DECIMALS = 4
#: Grace days of the overdue list when the caller names none.
DEFAULT_GRACE_DAYS = 7
MAX_DAYS_SUPPLY = 365


class Supply(NamedTuple):
    """Days of treatment one dispensing line put in a patient's hands, returns removed
    (immutable; a tuple, as thousands are made per answer)."""

    service_date: date
    days: int
    #: tie-break between lines of one day: (dispensing id, line number)
    order: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Interval:
    """Days ``first`` to ``last`` (inclusive) covered by supply."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class Adherence:
    days_covered: int
    days_in_window: int
    #: the ratio as a decimal string, None when there is nothing to measure
    pdc: str | None
    #: the first day of the denominator (None with nothing to measure)
    counted_from: date | None
    carried_in: bool


@dataclass(frozen=True)
class Overdue:
    ran_out_on: date
    days_overdue: int


def line_days(
    days_supply: int | None, default_days: int | None, quantity: int, returned: int
) -> int:
    """The days a line still supplies: its own days (else the medicine's default, else 0),
    less the days its returned units took (in proportion, round half up)."""
    days = days_supply if days_supply is not None else (default_days or 0)
    if days <= 0 or quantity <= 0 or returned >= quantity:
        return 0
    if returned <= 0:
        return days
    return days - round_half_up(Fraction(days * returned, quantity))


def intervals(supplies: Iterable[Supply]) -> list[Interval]:
    """The covered days, supply carried forward (no overlap), merged where they touch."""
    out: list[Interval] = []
    next_free: date | None = None
    for s in sorted(supplies, key=lambda s: (s.service_date, s.order)):
        if s.days <= 0:
            continue
        begin = s.service_date if next_free is None else max(s.service_date, next_free)
        last = begin + timedelta(days=s.days - 1)
        if out and begin == out[-1].last + timedelta(days=1):
            out[-1] = Interval(out[-1].first, last)
        else:
            out.append(Interval(begin, last))
        next_free = last + timedelta(days=1)
    return out


def ratio_text(numerator: int, denominator: int, decimals: int = PDC_DECIMALS) -> str:
    """``numerator / denominator`` as a decimal string, rounded half up."""
    scale = 10**decimals
    q = round_half_up(Fraction(numerator * scale, denominator))
    whole, frac = divmod(q, scale)
    return f"{whole}.{frac:0{decimals}d}" if decimals else str(whole)


def _overlap(iv: Interval, first: date, last: date) -> int:
    lo, hi = max(iv.first, first), min(iv.last, last)
    return (hi - lo).days + 1 if hi >= lo else 0


def adherence(supplies: Sequence[Supply], start: date, end: date) -> Adherence:
    """The proportion of days covered over ``[start, end]`` (module rules)."""
    if end < start:
        raise ValueError("the window ends before it starts")
    taken = [s for s in supplies if s.service_date <= end and s.days > 0]
    before = intervals(s for s in taken if s.service_date < start)
    carried_in = bool(before) and before[-1].last >= start
    in_window = [s.service_date for s in taken if s.service_date >= start]
    if carried_in:
        counted_from: date | None = start
    elif in_window:
        counted_from = min(in_window)
    else:
        return Adherence(0, 0, None, None, False)
    assert counted_from is not None
    days_in_window = (end - counted_from).days + 1
    covered = sum(_overlap(iv, counted_from, end) for iv in intervals(taken))
    return Adherence(
        covered, days_in_window, ratio_text(covered, days_in_window), counted_from, carried_in
    )


def ran_out_on(supplies: Iterable[Supply], as_of: date) -> date | None:
    """The first day no longer covered by the supply dispensed on or before ``as_of``
    (None: no supply at all)."""
    ivs = intervals(s for s in supplies if s.service_date <= as_of)
    return ivs[-1].last + timedelta(days=1) if ivs else None


def overdue(
    supplies: Iterable[Supply], as_of: date, grace_days: int = DEFAULT_GRACE_DAYS
) -> Overdue | None:
    """Overdue when ``as_of - ran_out_on > grace_days``; else None."""
    out = ran_out_on(supplies, as_of)
    if out is None:
        return None
    late = (as_of - out).days
    return Overdue(out, late) if late > grace_days else None


def usual_pharmacy(visits: Iterable[tuple[date, int, str]]) -> str | None:
    """The pharmacy of most dispensings ``(service_date, dispensing id, pharmacy)``; ties
    go to the pharmacy dispensed at most recently (date, then id)."""
    count: dict[str, int] = {}
    latest: dict[str, tuple[date, int]] = {}
    for on, order, pharmacy in visits:
        count[pharmacy] = count.get(pharmacy, 0) + 1
        latest[pharmacy] = max(latest.get(pharmacy, (on, order)), (on, order))
    if not count:
        return None
    return max(count, key=lambda p: (count[p], latest[p]))


def mean_ratio(ratios: Iterable[str | None], decimals: int = PDC_DECIMALS) -> str | None:
    """The mean of decimal-string ratios (None ignored), rounded half up; None if none.
    Exact: the strings are read as fractions, never floats."""
    values = [Fraction(r) for r in ratios if r is not None]
    if not values:
        return None
    total = sum(values, Fraction(0)) / len(values)
    return ratio_text(total.numerator, total.denominator, decimals)
