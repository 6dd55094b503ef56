"""A report is sections of typed rows; one model, rendered as JSON (unchanged), CSV or XLSX.

This module builds the bytes (:func:`to_csv`, :func:`to_xlsx`, :func:`file_bytes`); the
content negotiation and the HTTP answer live at the edge (``api/tabular.py``: ``respond``).

Cell values by column kind (``None`` is an empty cell everywhere):

* ``text``: anything, written with ``str``. A text that a spreadsheet would read as a
  formula (it begins with ``= + - @``, a tab or a carriage return: OWASP's "CSV injection"
  list) is neutralised (:func:`neutralised`): in CSV it gets a leading ``'``; in XLSX every
  text cell is typed as a string (never a formula) and such a cell also carries Excel's
  "quote prefix" style, so editing it does not turn it into a formula either. A plain
  decimal number written as text (``-1500``, ``+12.50``, ``-1,234.50``) is a number to a
  spreadsheet, not a formula: it is left as it is.
* ``money``: a :class:`Money` (integer minor units + exponent), an ``int`` of minor units when
  the column has an ``exponent``, or a decimal ``str``/``Decimal`` as the JSON answers carry
  (``"12.50"``; its decimals give the exponent unless the column has one). Never a float.
  XLSX: a number (``Decimal`` = minor / 10**exponent, exact) with the currency's format:
  ``#,##0`` for exponent 0 (KHR), ``#,##0.00`` for 2 (USD). CSV: the plain decimal, no
  separators (``12.50``), as in the JSON.
* ``quantity``: an ``int`` (or a string of one). XLSX format ``#,##0``.
* ``date``: a ``date`` or an ISO string. XLSX: a real date cell, format ``yyyy-mm-dd``.
* ``percent``: a percentage as a decimal ``str``/``Decimal``/``int`` (``"85.5"`` = 85.5 %).
  XLSX: the fraction (value / 100, exact ``Decimal``) formatted ``0.00%``. CSV: as given.

CSV layout: a report of one section is a plain CSV (header row, then rows). A report of
several sections writes each as a line ``# <section name>``, its header row and its rows,
with one blank line between sections (readers that skip ``#`` comment lines and blank lines
get the sections back; :func:`parse_csv_sections` does it). UTF-8, ``\\r\\n`` line ends.

XLSX: one sheet per section (named after it, cut to Excel's 31 characters), header row bold
and frozen, autofilter on the header, column widths fitted to the header and to the first
:data:`WIDTH_SAMPLE_ROWS` rows. Written with openpyxl's write-only workbook, rows streamed:
memory grows with the sample, not with the row count.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from ledger.money import format_amount

Kind = Literal["text", "money", "quantity", "date", "percent"]
Format = Literal["json", "csv", "xlsx"]

JSON_MIME = "application/json"
CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIMES: dict[Format, str] = {"json": JSON_MIME, "csv": CSV_MIME, "xlsx": XLSX_MIME}

#: What a spreadsheet reads as the start of a formula (OWASP, "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")

#: Rows read ahead to fit the XLSX column widths.
WIDTH_SAMPLE_ROWS = 500
MAX_WIDTH = 60


@dataclass(frozen=True)
class Money:
    """An amount in integer minor units of a currency with ``exponent`` decimals."""

    minor: int
    exponent: int
    currency: str | None = None

    def decimal(self) -> Decimal:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError(f"Money.minor must be an int, not {type(self.minor).__name__}")
        return Decimal(self.minor).scaleb(-self.exponent)

    def text(self) -> str:
        return format_amount(self.minor, self.exponent)


@dataclass(frozen=True)
class Col:
    """A column: its header, the kind of its cells, and for money its currency/exponent."""

    name: str
    kind: Kind = "text"
    currency: str | None = None
    exponent: int | None = None


@dataclass(frozen=True)
class Section:
    """A table of the report. ``rows`` may be a generator: it is consumed once."""

    name: str
    columns: Sequence[Col]
    rows: Iterable[Sequence[Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    title: str
    sections: Sequence[Section]


ReportLike = Report | Callable[[], Report]


def rows_of(columns: Sequence[Col], items: Iterable[Mapping[str, Any]]) -> list[list[Any]]:
    """The rows of ``columns`` from dicts keyed by column name (a missing key: empty)."""
    return [[item.get(c.name) for c in columns] for item in items]


def filename_of(text: str) -> str:
    """A safe file name (without extension) for a report titled ``text``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower() or "report"


def file_bytes(report: Report, fmt: Literal["csv", "xlsx"]) -> bytes:
    """The bytes of the report as CSV (UTF-8) or XLSX."""
    if fmt == "csv":
        return to_csv(report).encode("utf-8")
    if fmt == "xlsx":
        return to_xlsx(report)
    raise ValueError(fmt)


# --------------------------------------------------------------------------- cell values


def _money(value: Any, col: Col) -> Money | None:
    if value is None or value == "":
        return None
    if isinstance(value, Money):
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"column {col.name!r}: money must not be a {type(value).__name__}")
    if isinstance(value, int):
        if col.exponent is None:
            raise ValueError(f"column {col.name!r}: an int of minor units needs Col.exponent")
        return Money(value, col.exponent, col.currency)
    dec = value if isinstance(value, Decimal) else Decimal(str(value))
    if not dec.is_finite():
        raise ValueError(f"column {col.name!r}: {value!r} is not an amount")
    exp_found = max(0, -int(dec.as_tuple().exponent))
    exponent = col.exponent if col.exponent is not None else exp_found
    if exp_found > exponent:
        raise ValueError(f"column {col.name!r}: {value!r} has more than {exponent} decimals")
    return Money(int(dec.scaleb(exponent)), exponent, col.currency)


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _quantity(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"a quantity must be an int, not {type(value).__name__}")
    return int(value)


def _percent(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"a percentage must not be a {type(value).__name__}")
    return value if isinstance(value, Decimal) else Decimal(str(value))


def formula_risk(text: str) -> bool:
    """``text`` would be read as a formula by a spreadsheet (and is not a plain number)."""
    return text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text)


def neutralised(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text: ``'`` before a formula start."""
    return "'" + text if formula_risk(text) else text


def money_format(exponent: int) -> str:
    """``#,##0`` for KHR (0 decimals), ``#,##0.00`` for USD (2)."""
    return "#,##0" + ("." + "0" * exponent if exponent else "")


def text_value(value: Any, col: Col) -> str:
    """The CSV text of a cell."""
    if value is None:
        return ""
    if col.kind == "money":
        m = _money(value, col)
        return "" if m is None else m.text()
    if col.kind == "quantity":
        q = _quantity(value)
        return "" if q is None else str(q)
    if col.kind == "date":
        d = _date(value)
        return "" if d is None else d.isoformat()
    if col.kind == "percent":
        p = _percent(value)
        return "" if p is None else str(p)
    return neutralised(str(value))


def typed_value(value: Any, col: Col) -> tuple[Any, str | None]:
    """The XLSX value of a cell and its number format."""
    if value is None:
        return None, None
    if col.kind == "money":
        m = _money(value, col)
        return (None, None) if m is None else (m.decimal(), money_format(m.exponent))
    if col.kind == "quantity":
        return _quantity(value), "#,##0"
    if col.kind == "date":
        return _date(value), "yyyy-mm-dd"
    if col.kind == "percent":
        p = _percent(value)
        return (None, None) if p is None else (p / 100, "0.00%")
    return str(value), None


def _shown_width(value: Any, col: Col) -> int:
    if value is None:
        return 0
    if col.kind == "money":
        m = _money(value, col)
        if m is None:
            return 0
        whole = f"{abs(m.minor) // 10**m.exponent:,}"
        return len(whole) + (m.exponent + 1 if m.exponent else 0) + 1
    if col.kind == "date":
        return 10
    return len(text_value(value, col))


# --------------------------------------------------------------------------- CSV


def csv_lines(report: Report) -> Iterator[str]:
    """The CSV text, one row at a time (see the module doc for the layout)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")

    def take() -> str:
        out = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return out

    several = len(report.sections) > 1
    for i, section in enumerate(report.sections):
        if several:
            if i:
                yield "\r\n"
            yield f"# {section.name}\r\n"
        writer.writerow([c.name for c in section.columns])
        yield take()
        for row in section.rows:
            writer.writerow([text_value(v, c) for v, c in zip(row, section.columns, strict=True)])
            yield take()


def to_csv(report: Report) -> str:
    return "".join(csv_lines(report))


def parse_csv_sections(text: str) -> dict[str, list[list[str]]]:
    """Read back :func:`to_csv`: ``{section name: [header, row, …]}`` (``""`` for one section)."""
    out: dict[str, list[list[str]]] = {}
    current = ""
    chunk: list[str] = []

    def flush() -> None:
        if chunk:
            out[current] = list(csv.reader(io.StringIO("".join(chunk))))

    for line in io.StringIO(text, newline=""):
        if line.startswith("# ") and not chunk:
            current = line[2:].rstrip("\r\n")
        elif line.strip("\r\n") == "" and chunk:
            flush()
            chunk = []
        else:
            chunk.append(line)
    flush()
    return out


# --------------------------------------------------------------------------- XLSX


def _sheet_title(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "-", name).strip("'") or "Sheet"
    base = base[:31]
    title, n = base, 2
    while title.lower() in used:
        suffix = f" ({n})"
        title = base[: 31 - len(suffix)] + suffix
        n += 1
    used.add(title.lower())
    return title


def _write_section(ws: WriteOnlyWorksheet, section: Section) -> None:
    cols = list(section.columns)
    rows = iter(section.rows)
    sample: list[Sequence[Any]] = []
    for row in rows:
        sample.append(row)
        if len(sample) >= WIDTH_SAMPLE_ROWS:
            break
    widths = [len(c.name) + 2 for c in cols]
    for row in sample:
        for j, (v, c) in enumerate(zip(row, cols, strict=True)):
            widths[j] = max(widths[j], _shown_width(v, c) + 2)
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = min(w, MAX_WIDTH)
    ws.freeze_panes = "A2"
    if cols:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}1"
    bold = Font(bold=True)
    header = []
    for c in cols:
        cell = WriteOnlyCell(ws, value=c.name)
        cell.data_type = "s"
        cell.font = bold
        header.append(cell)
    ws.append(header)

    def out(row: Sequence[Any]) -> list[Any]:
        cells = []
        for v, c in zip(row, cols, strict=True):
            value, fmt = typed_value(v, c)
            cell = WriteOnlyCell(ws, value=value)
            if c.kind == "text" and isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text begins with
                if formula_risk(value):
                    cell.quotePrefix = True
            if fmt is not None:
                cell.number_format = fmt
            cells.append(cell)
        return cells

    for row in sample:
        ws.append(out(row))
    for row in rows:
        ws.append(out(row))


def to_xlsx(report: Report) -> bytes:
    """The report as an XLSX workbook, one sheet per section."""
    wb = Workbook(write_only=True)
    wb.properties.title = report.title
    wb.properties.creator = "RDF Ledger"
    used: set[str] = set()
    sections = list(report.sections) or [Section(report.title, [Col("")], [])]
    for section in sections:
        ws = wb.create_sheet(_sheet_title(section.name, used))
        _write_section(ws, section)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
