"""The document model: what a PDF says, with no opinion on how it looks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True)
class Column:
    """One table column. ``width`` is relative to the other columns of the same table;
    ``min_points``: the column is never narrower than this (points), the other columns
    share what is left (a column of codes sized with :func:`reports.pdf.cell_width` to its
    longest code is never shrunk or cut)."""

    title: str
    align: Literal["left", "right"] = "left"
    width: float = 1.0
    min_points: float = 0.0


@dataclass(frozen=True)
class TableSection:
    """A table of already-formatted cell strings.

    ``rows`` may be a generator; it is consumed once, lazily, about a page at a time.
    ``totals`` is printed in bold under the last row and must have one cell per column.
    """

    heading: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[str]]
    totals: Sequence[str] | None = None


@dataclass(frozen=True)
class KeyValueSection:
    """Labelled figures, e.g. opening balance, closing balance."""

    heading: str
    pairs: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class BarChartSection:
    """Percentages drawn as labelled bars, with an optional reference line (e.g. 100 %)."""

    heading: str
    labels: Sequence[str]
    values_percent: Sequence[Decimal]
    reference_line: Decimal | None = None


Section = TableSection | KeyValueSection | BarChartSection


@dataclass(frozen=True)
class Document:
    """A whole PDF document.

    ``made_at`` is printed in UTC (a naive datetime is taken to be UTC already).
    ``seal`` is the hex hash of the last journal entry covered; ``None`` prints "not sealed".
    ``landscape``: ``None`` chooses landscape A4 when a table has more than 7 columns.
    """

    fund_name: str
    title: str
    period: str
    made_at: datetime
    seal: str | None
    subtitle: Sequence[str] = ()
    sections: Sequence[Section] = ()
    landscape: bool | None = None
