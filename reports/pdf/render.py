"""Layout: page furniture, tables streamed a page at a time, key/value blocks, bar charts."""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from reportlab.lib.colors import HexColor, white
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate, Spacer

from . import fonts
from .model import BarChartSection, Column, Document, KeyValueSection, TableSection

INK = HexColor("#1F2933")
MUTED = HexColor("#52606D")
RULE = HexColor("#9AA5B1")
HAIRLINE = HexColor("#D9DEE3")
HEADER_FILL = HexColor("#E4E8ED")
ZEBRA = HexColor("#F4F6F8")
BAR = HexColor("#3E6A8A")
REFERENCE = HexColor("#B5473A")

MARGIN_X = 40.0
MARGIN_Y = 30.0
CELL_SIZE = 8.0
CELL_PAD = 4.0
ROW_H = 13.0
HEADER_H = 16.0
HEADING_SIZE = 10.5
HEADING_H = 20.0
MIN_ROWS_ON_PAGE = 3
MIN_CELL_SIZE = 5.5
SEAL_SIZE = 7.0
SEAL_CHARS_PER_LINE = 96
LANDSCAPE_ABOVE_COLUMNS = 7


def render_pdf(doc: Document) -> bytes:
    """Render ``doc`` to PDF bytes. Table row iterables are consumed once."""
    sections = list(doc.sections)
    _check(doc, sections)
    wide = any(
        isinstance(s, TableSection) and len(s.columns) > LANDSCAPE_ABOVE_COLUMNS for s in sections
    )
    pagesize = landscape(A4) if (doc.landscape if doc.landscape is not None else wide) else A4
    page_w, page_h = pagesize
    furniture = _Furniture(doc, page_w, page_h)

    buffer = io.BytesIO()
    template = BaseDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_Y,
        bottomMargin=MARGIN_Y,
        title=f"{doc.title} — {doc.period}",
        author=doc.fund_name,
        subject=doc.period,
        creator="RDF Ledger",
        # Reproducible bytes (a fixed document id), and the metadata's CreationDate set to
        # the time printed on the page (``made_at``) by the canvas, not reportlab's 2000-01-01.
        invariant=True,
    )
    frame = Frame(
        MARGIN_X,
        MARGIN_Y + furniture.footer_height,
        page_w - 2 * MARGIN_X,
        page_h - 2 * MARGIN_Y - furniture.header_height - furniture.footer_height,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="body",
    )
    template.addPageTemplates([PageTemplate(id="page", frames=[frame])])

    story: list[Flowable] = [Spacer(1, 4)]
    for section in sections:
        if isinstance(section, TableSection):
            story.append(_TableStream.for_table(section))
        elif isinstance(section, KeyValueSection):
            story.append(_TableStream.for_pairs(section))
        else:
            story.append(_BarChart(section))
        story.append(Spacer(1, 14))

    def canvasmaker(*args: Any, **kwargs: Any) -> Canvas:
        return _NumberedCanvas(*args, decorate=furniture.draw, made_at=doc.made_at, **kwargs)

    template.build(story, canvasmaker=canvasmaker)
    return buffer.getvalue()


def _check(doc: Document, sections: Sequence[object]) -> None:
    for section in sections:
        if isinstance(section, TableSection):
            if not section.columns:
                raise ValueError(f"table {section.heading!r} has no columns")
            if section.totals is not None and len(section.totals) != len(section.columns):
                raise ValueError(
                    f"table {section.heading!r}: totals have {len(section.totals)} cells, "
                    f"expected {len(section.columns)}"
                )
            for column in section.columns:
                if column.align not in ("left", "right") or not column.width > 0:
                    raise ValueError(f"table {section.heading!r}: bad column {column!r}")
        elif isinstance(section, BarChartSection):
            if len(section.labels) != len(section.values_percent):
                raise ValueError(
                    f"bar chart {section.heading!r}: {len(section.labels)} labels but "
                    f"{len(section.values_percent)} values"
                )
        elif not isinstance(section, KeyValueSection):
            raise TypeError(f"not a document section: {section!r}")


def utc_stamp(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


# --------------------------------------------------------------------------- page furniture


def _stamp(canvas: Canvas, made_at: datetime) -> None:
    """The PDF's CreationDate and ModDate: ``made_at`` in UTC, as printed on every page.
    (In invariant mode reportlab writes 2000-01-01; its time stamp object is what the
    document's Info dictionary formats, so it is set here.)"""
    moment = made_at.astimezone(UTC) if made_at.tzinfo is not None else made_at
    ts = canvas._doc._timeStamp
    ts.YMDhms = (
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )
    ts.dhh = ts.dmm = 0


class _NumberedCanvas(Canvas):
    """Holds every page until the end so each can say "Page N of M" (the two-pass pattern)."""

    def __init__(
        self,
        *args: Any,
        decorate: Callable[[Canvas, int, int], None],
        made_at: datetime,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._decorate = decorate
        self._held_pages: list[dict[str, Any]] = []
        _stamp(self, made_at)

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._held_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._held_pages)
        for state in self._held_pages:
            self.__dict__.update(state)
            self._decorate(self, self._pageNumber, total)
            super().showPage()
        super().save()


class _Furniture:
    """The header and footer every page carries."""

    def __init__(self, doc: Document, page_w: float, page_h: float) -> None:
        self.doc = doc
        self.page_w = page_w
        self.page_h = page_h
        self.made = f"Made {utc_stamp(doc.made_at)}"
        seal = doc.seal if doc.seal else None
        if seal is None:
            self.seal_lines = ["not sealed"]
        else:
            self.seal_lines = [
                seal[i : i + SEAL_CHARS_PER_LINE] for i in range(0, len(seal), SEAL_CHARS_PER_LINE)
            ]
        self.subtitle = list(doc.subtitle)
        self.header_height = 16 + 16 + 13 + 12 * len(self.subtitle) + 12
        self.footer_height = 14 + 9 * len(self.seal_lines)

    def draw(self, canvas: Canvas, page: int, total: int) -> None:
        doc = self.doc
        left, right = MARGIN_X, self.page_w - MARGIN_X
        canvas.saveState()
        canvas.setFillColor(INK)
        y = self.page_h - MARGIN_Y - 12
        made_w = fonts.text_width(self.made, 8)
        fund = fonts.fit_text(doc.fund_name, right - left - made_w - 12, 13, True, 8)
        fonts.draw_text(canvas, left, y, fund[0], fund[1], bold=True)
        canvas.setFillColor(MUTED)
        fonts.draw_text(canvas, right, y + 1, self.made, 8, align="right")
        y -= 16
        canvas.setFillColor(INK)
        title = fonts.fit_text(doc.title, right - left, 11.5, True, 8)
        fonts.draw_text(canvas, left, y, title[0], title[1], bold=True)
        y -= 13
        label_w = fonts.draw_text(canvas, left, y, "Period ", 9, bold=True)
        fonts.draw_text(canvas, left + label_w, y, doc.period, 9)
        canvas.setFillColor(MUTED)
        for line in self.subtitle:
            y -= 12
            text, size = fonts.fit_text(line, right - left, 9, False, 6)
            fonts.draw_text(canvas, left, y, text, size)
        y -= 7
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.75)
        canvas.line(left, y, right, y)

        y = MARGIN_Y + self.footer_height - 6
        canvas.setLineWidth(0.5)
        canvas.line(left, y, right, y)
        y -= 10
        canvas.setFillColor(MUTED)
        label_w = fonts.draw_text(canvas, left, y, "Seal ", SEAL_SIZE, bold=True)
        for line in self.seal_lines:
            fonts.draw_text(
                canvas, left + label_w, y, line, SEAL_SIZE, mono=self.doc.seal is not None
            )
            y -= 9
        canvas.setFillColor(INK)
        fonts.draw_text(
            canvas,
            right,
            MARGIN_Y + self.footer_height - 16,
            f"Page {page} of {total}",
            8,
            align="right",
        )
        canvas.restoreState()


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class _Grid:
    heading: str
    columns: tuple[Column, ...]
    show_header: bool
    totals: tuple[str, ...] | None
    zebra: bool
    empty_text: str
    max_width: float | None = None

    def x_positions(self, width: float) -> list[tuple[float, float]]:
        widths = _column_widths(self.columns, width)
        out, x = [], 0.0
        for w in widths:
            out.append((x, w))
            x += w
        return out


#: A column given its ``min_points`` takes at most this share of the table's width.
MAX_MIN_SHARE = 0.6


def _column_widths(columns: Sequence[Column], width: float) -> list[float]:
    """Widths in points: shares of ``width`` by relative width, except that a column with
    ``min_points`` gets at least that much (up to :data:`MAX_MIN_SHARE` of the table), the
    others sharing the rest in their proportions."""
    total = sum(c.width for c in columns)
    widths = [c.width * width / total for c in columns]
    fixed = {
        i: min(c.min_points, width * MAX_MIN_SHARE)
        for i, c in enumerate(columns)
        if c.min_points > widths[i]
    }
    if not fixed:
        return widths
    rest = width - sum(fixed.values())
    free = sum(c.width for i, c in enumerate(columns) if i not in fixed)
    return [
        fixed[i] if i in fixed else (c.width * rest / free if free else 0.0)
        for i, c in enumerate(columns)
    ]


def cell_width(text: str, bold: bool = False) -> float:
    """The width in points a table cell needs to show ``text`` at the normal size, uncut."""
    return fonts.text_width(text, CELL_SIZE, bold) + 2 * CELL_PAD + 0.5


class _TableStream(Flowable):
    """A table whose rows are pulled from an iterator about one page at a time.

    platypus asks it to ``wrap`` into the space left; when the rest of the rows do not fit it
    ``split``s off a :class:`_Chunk` of the rows that do (each chunk draws its own header row)
    and stays behind holding the iterator. At most one page of rows is buffered.
    """

    def __init__(
        self,
        grid: _Grid,
        rows: Iterator[Sequence[str]],
        first: bool = True,
        buffer: deque[tuple[str, ...]] | None = None,
        counter: list[int] | None = None,
    ):
        super().__init__()
        self.grid = grid
        self.rows = rows
        self.first = first
        self.buffer: deque[tuple[str, ...]] = buffer if buffer is not None else deque()
        self.counter = counter if counter is not None else [0]
        self.exhausted = False
        self._whole: _Chunk | None = None

    @classmethod
    def for_table(cls, section: TableSection) -> _TableStream:
        grid = _Grid(
            heading=section.heading,
            columns=tuple(section.columns),
            show_header=True,
            totals=tuple(section.totals) if section.totals is not None else None,
            zebra=True,
            empty_text="No entries in this period.",
        )
        return cls(grid, iter(section.rows))

    @classmethod
    def for_pairs(cls, section: KeyValueSection) -> _TableStream:
        grid = _Grid(
            heading=section.heading,
            columns=(Column("", "left", 3.0), Column("", "right", 2.0)),
            show_header=False,
            totals=None,
            zebra=False,
            empty_text="Nothing to show.",
            max_width=340.0,
        )
        return cls(grid, iter(section.pairs))

    def _fill(self, wanted: int) -> None:
        width = len(self.grid.columns)
        while len(self.buffer) < wanted and not self.exhausted:
            try:
                raw = next(self.rows)
            except StopIteration:
                self.exhausted = True
                break
            self.counter[0] += 1
            row = tuple(raw)
            if len(row) != width:
                raise ValueError(
                    f"table {self.grid.heading!r}: row {self.counter[0]} has {len(row)} cells, "
                    f"expected {width}"
                )
            for cell in row:
                if not isinstance(cell, str):
                    raise TypeError(
                        f"table {self.grid.heading!r}: row {self.counter[0]} has a "
                        f"{type(cell).__name__} cell; cells must be formatted strings"
                    )
            self.buffer.append(row)

    def _fixed_height(self) -> float:
        return HEADING_H + (HEADER_H if self.grid.show_header else 0.0)

    def _rows_fitting(self, height: float) -> int:
        # The last chunk is 2 pt taller (the closing rule): count it so a chunk said to fit
        # really fits, else platypus raises a splitting error.
        return max(0, int((height - self._fixed_height() - 2.0 + 1e-6) // ROW_H))

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        self.width = availWidth
        fit = self._rows_fitting(availHeight)
        self._fill(fit + 2)
        if self.exhausted:
            self._whole = self._chunk(list(self.buffer), last=True)
            height = self._whole.wrap(availWidth, availHeight)[1]
        else:
            self._whole = None
            height = availHeight + ROW_H * 2  # more rows than room: platypus will split
        self.height = height
        return availWidth, height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        fit = self._rows_fitting(availHeight)
        self._fill(fit + 2)
        extra = 1 if self.grid.totals is not None else 0
        remaining = len(self.buffer)
        # An empty table still draws one row ("No entries…").
        if self.exhausted and max(remaining, 1) + extra <= fit:
            return [self._chunk(list(self.buffer), last=True)]
        take = min(fit, remaining)
        if self.exhausted and take == remaining:
            take = remaining - 1  # keep the totals row with at least one row of figures
        if take < min(MIN_ROWS_ON_PAGE, remaining):
            return []  # start the table on the next page rather than leave a stub here
        rows = [self.buffer.popleft() for _ in range(take)]
        rest = _TableStream(self.grid, self.rows, False, self.buffer, self.counter)
        rest.exhausted = self.exhausted
        return [self._chunk(rows, last=False), rest]

    def _chunk(self, rows: list[tuple[str, ...]], last: bool) -> _Chunk:
        return _Chunk(self.grid, rows, heading=self.first, last=last)

    def draw(self) -> None:
        if self._whole is not None:
            self._whole.drawOn(self.canv, 0, 0)


class _Chunk(Flowable):
    """Rows that fit on one page, drawn straight onto the canvas (no platypus Table)."""

    def __init__(self, grid: _Grid, rows: list[tuple[str, ...]], heading: bool, last: bool):
        super().__init__()
        self.grid = grid
        self.rows = rows
        self.heading = heading
        self.last = last

    def _height(self) -> float:
        n = len(self.rows) or (1 if self.last else 0)
        if self.last and self.grid.totals is not None:
            n += 1
        return (
            HEADING_H
            + (HEADER_H if self.grid.show_header else 0.0)
            + n * ROW_H
            + (2.0 if self.last else 0.0)
        )

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        self.width = availWidth
        self.height = self._height()
        return availWidth, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        return []

    def draw(self) -> None:
        canvas = self.canv
        grid = self.grid
        width = min(self.width, grid.max_width or self.width)
        spans = grid.x_positions(width)
        y = self.height
        canvas.setFillColor(INK)
        text, size = fonts.fit_text(grid.heading, width, HEADING_SIZE, True, 7)
        drawn = fonts.draw_text(canvas, 0, y - 13, text, size, bold=True)
        if not self.heading:  # a continuation on a later page
            canvas.setFillColor(MUTED)
            fonts.draw_text(canvas, drawn + 4, y - 13, "(continued)", 8)
        y -= HEADING_H
        if grid.show_header:
            canvas.setFillColor(HEADER_FILL)
            canvas.rect(0, y - HEADER_H, width, HEADER_H, stroke=0, fill=1)
            canvas.setStrokeColor(RULE)
            canvas.setLineWidth(0.75)
            canvas.line(0, y - HEADER_H, width, y - HEADER_H)
            canvas.setFillColor(INK)
            for column, (x, w) in zip(grid.columns, spans, strict=True):
                _cell(canvas, column.title, x, w, y - HEADER_H + 5, column.align, True)
            y -= HEADER_H

        if grid.zebra:
            canvas.setFillColor(ZEBRA)
            stripes = [
                f"0 {y - (i + 1) * ROW_H:.2f} {width:.2f} {ROW_H:g} re"
                for i in range(1, len(self.rows), 2)
            ]
            if stripes:
                canvas.addLiteral("\n".join(stripes) + " f")
        else:
            canvas.setStrokeColor(HAIRLINE)
            canvas.setLineWidth(0.4)
            for i in range(1, len(self.rows) + 1):
                canvas.line(0, y - i * ROW_H, width, y - i * ROW_H)
        canvas.setFillColor(INK)
        _rows(canvas, grid.columns, spans, self.rows, y)
        y -= len(self.rows) * ROW_H

        if self.last and not self.rows:
            canvas.setFillColor(MUTED)
            fonts.draw_text(canvas, CELL_PAD, y - ROW_H + 4, grid.empty_text, CELL_SIZE)
            y -= ROW_H
        if self.last and grid.totals is not None:
            canvas.setStrokeColor(INK)
            canvas.setLineWidth(0.9)
            canvas.line(0, y, width, y)
            canvas.setFillColor(INK)
            for column, cell, (x, w) in zip(grid.columns, grid.totals, spans, strict=True):
                _cell(canvas, cell, x, w, y - ROW_H + 4, column.align, True)
            y -= ROW_H
            canvas.setLineWidth(0.5)
            canvas.line(0, y - 1.5, width, y - 1.5)
            canvas.line(0, y - 3, width, y - 3)
        elif grid.show_header:
            canvas.setStrokeColor(RULE)
            canvas.setLineWidth(0.5)
            canvas.line(0, y, width, y)


def _cell(
    canvas: Canvas, text: str, x: float, w: float, baseline: float, align: str, bold: bool
) -> None:
    room = w - 2 * CELL_PAD
    if align == "right":  # a figure is never cut: only made smaller
        size = CELL_SIZE
        while size > 4.0 and fonts.text_width(text, size, bold) > room:
            size -= 0.5
        fonts.draw_text(canvas, x + w - CELL_PAD, baseline, text, size, bold=bold, align="right")
    else:
        cut, size = fonts.fit_text(text, room, CELL_SIZE, bold, MIN_CELL_SIZE)
        fonts.draw_text(canvas, x + CELL_PAD, baseline, cut, size, bold=bold)


def _rows(
    canvas: Canvas,
    columns: Sequence[Column],
    spans: list[tuple[float, float]],
    rows: list[tuple[str, ...]],
    top: float,
) -> None:
    """The hot loop: all WinAnsi cells that fit go into one raw PDF text object per chunk.

    Widths come from Helvetica's WinAnsi metrics table and strings are escaped here, so the
    loop does not depend on reportlab's optional C accelerator. Anything else (Khmer, cells
    that need shrinking or cutting) is drawn afterwards by :func:`_cell`.
    """
    widths = fonts.helvetica_widths()
    scale = CELL_SIZE / 1000
    font = canvas._doc.getInternalFontName(fonts.REGULAR)
    ops = [f"BT {font} {CELL_SIZE:g} Tf"]
    add = ops.append
    slow: list[tuple[str, float, float, float, str]] = []
    layout = [
        (column.align == "right", x + CELL_PAD, x + w - CELL_PAD, w - 2 * CELL_PAD)
        for column, (x, w) in zip(columns, spans, strict=True)
    ]
    baseline = top - ROW_H + 4
    for row in rows:
        for (right, left_x, right_x, room), cell in zip(layout, row, strict=True):
            if not cell:
                continue
            try:
                encoded = cell.encode("cp1252")
            except UnicodeEncodeError:
                encoded = None
            if encoded is not None:
                width = sum(map(widths.__getitem__, encoded)) * scale
                if width <= room:
                    x = right_x - width if right else left_x
                    add(f"1 0 0 1 {x:.2f} {baseline:.2f} Tm ({fonts.pdf_escape(encoded)}) Tj")
                    continue
            slow.append(
                (
                    cell,
                    left_x - CELL_PAD,
                    room + 2 * CELL_PAD,
                    baseline,
                    "right" if right else "left",
                )
            )
        baseline -= ROW_H
    add("ET")
    canvas.addLiteral("\n".join(ops))
    for cell, x, w, base, align in slow:
        _cell(canvas, cell, x, w, base, align, False)


# --------------------------------------------------------------------------- bar chart


class _BarChart(Flowable):
    HEIGHT = 200.0

    def __init__(self, section: BarChartSection) -> None:
        super().__init__()
        self.section = section

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        self.width = availWidth
        self.height = self.HEIGHT
        return availWidth, self.HEIGHT

    def draw(self) -> None:
        canvas = self.canv
        section = self.section
        values = [Decimal(v) for v in section.values_percent]
        canvas.setFillColor(INK)
        text, size = fonts.fit_text(section.heading, self.width, HEADING_SIZE, True, 7)
        fonts.draw_text(canvas, 0, self.height - 13, text, size, bold=True)
        if not values:
            canvas.setFillColor(MUTED)
            fonts.draw_text(canvas, 0, self.height - 34, "No data for this period.", CELL_SIZE)
            return

        axis_w = 34.0
        left, right = axis_w, self.width - 30
        bottom, top = 34.0, self.height - 36
        high = max(
            [Decimal(0), *values]
            + ([section.reference_line] if section.reference_line is not None else [])
        )
        low = min([Decimal(0), *values])
        step = _nice_step(float(high - low))
        y_max = step * (int(float(high) // step) + 1)
        y_min = -step * (int(float(-low) // step) + (1 if low < 0 else 0))

        def y_of(v: float) -> float:
            return bottom + (v - y_min) / (y_max - y_min) * (top - bottom)

        canvas.setLineWidth(0.4)
        for k in range(round(y_min / step), round(y_max / step) + 1):
            tick = k * step
            canvas.setStrokeColor(HAIRLINE)
            canvas.line(left, y_of(tick), right, y_of(tick))
            canvas.setFillColor(MUTED)
            label = f"{tick:g}%" if k else "0%"
            fonts.draw_text(canvas, left - 4, y_of(tick) - 2.5, label, 7, align="right")

        if section.reference_line is not None:
            ref_y = y_of(float(section.reference_line))
            canvas.saveState()
            canvas.setStrokeColor(REFERENCE)
            canvas.setLineWidth(1.0)
            canvas.setDash(4, 2)
            canvas.line(left, ref_y, right, ref_y)
            canvas.restoreState()
            canvas.setFillColor(REFERENCE)
            fonts.draw_text(
                canvas, right + 3, ref_y - 2.5, f"{format(section.reference_line, 'f')}%", 7
            )
        slot = (right - left) / len(values)
        bar_w = min(slot * 0.62, 42.0)
        zero = y_of(0.0)
        label_size = 7.0 if slot >= 30 else 6.0
        rotate = max(fonts.text_width(lbl, label_size) for lbl in section.labels) > slot - 2
        for i, (label, value) in enumerate(zip(section.labels, values, strict=True)):
            centre = left + slot * (i + 0.5)
            top_y = y_of(float(value))
            canvas.setFillColor(BAR)
            canvas.rect(
                centre - bar_w / 2, min(zero, top_y), bar_w, abs(top_y - zero), stroke=0, fill=1
            )
            shown = f"{format(value, 'f')}%"
            canvas.setFillColor(INK)
            value_size = 7.0 if fonts.text_width(shown, 7) <= slot else 5.5
            shown_w = fonts.text_width(shown, value_size)
            label_y = top_y + 3 if value >= 0 else top_y - 9
            canvas.setFillColor(white)  # keep the label readable over the reference line
            canvas.rect(
                centre - shown_w / 2 - 1.5,
                label_y - 2,
                shown_w + 3,
                value_size + 2.5,
                stroke=0,
                fill=1,
            )
            canvas.setFillColor(INK)
            fonts.draw_text(canvas, centre - shown_w / 2, label_y, shown, value_size)
            canvas.setFillColor(MUTED)
            if rotate:
                canvas.saveState()
                canvas.translate(centre + 2, bottom - 6)
                canvas.rotate(45)
                fonts.draw_text(canvas, 0, 0, label, label_size, align="right")
                canvas.restoreState()
            else:
                fonts.draw_text(
                    canvas,
                    centre - fonts.text_width(label, label_size) / 2,
                    bottom - 11,
                    label,
                    label_size,
                )
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.75)
        canvas.line(left, zero, right, zero)


def _nice_step(span: float) -> float:
    span = max(span, 1.0)
    raw = span / 5
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


__all__ = ["render_pdf", "utc_stamp"]
