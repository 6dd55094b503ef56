"""What the desk pages (finance, audit, admin) share: the chosen month, pages of a list,
and the page frame of :mod:`web.views`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import request

from ledger import clock
from ledger.model import month_bounds

T = TypeVar("T")
MONTH_RE = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
PER_PAGE = 20


def this_month() -> str:
    return clock.today().strftime("%Y-%m")


def last_month() -> str:
    return (clock.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def chosen_month(default: str | None = None, arg: str = "month") -> str:
    """``?month=YYYY-MM`` when well formed (years 2000-2999), else ``default`` (this month)."""
    asked = request.args.get(arg, "")
    m = MONTH_RE.fullmatch(asked)
    if m and 2000 <= int(m.group(1)) <= 2999:
        return asked
    return default or this_month()


def bounds(month: str) -> tuple[date, date]:
    start, end = month_bounds(month)
    return start, end


def months_back(month: str, count: int) -> list[str]:
    """The ``count`` months ending with ``month``, oldest first."""
    y, m = int(month[:4]), int(month[5:])
    out = []
    for _i in range(count):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return list(reversed(out))


@dataclass(frozen=True)
class Page:
    """One page of a list shown on a page: its rows and the links to the pages around it."""

    rows: list[Any]
    number: int
    pages: int
    total: int
    arg: str

    def link(self, number: int) -> str:
        args = request.args.to_dict()
        args[self.arg] = str(number)
        return request.path + "?" + urlencode(args)

    @property
    def previous(self) -> str | None:
        return self.link(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.link(self.number + 1) if self.number < self.pages else None


def paginate(rows: Sequence[T], arg: str = "page", per_page: int = PER_PAGE) -> Page:
    """The ``?<arg>=N`` page of ``rows`` (1 when missing or out of range)."""
    pages = max(1, -(-len(rows) // per_page))
    try:
        number = int(request.args.get(arg, "1"))
    except ValueError:
        number = 1
    number = min(max(number, 1), pages)
    start = (number - 1) * per_page
    return Page(list(rows[start : start + per_page]), number, pages, len(rows), arg)
