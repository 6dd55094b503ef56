"""PDF documents of the fund: statements, invoices, the trial balance. Pure: no Flask, no DB.

Build a :class:`Document` of sections and call :func:`render_pdf`. Every page carries the fund
name, the title, the period, "Made <UTC time>", "Seal <hash>" (or "not sealed") and
"Page N of M". Tables stream their rows a page at a time (10,000 rows render in well under a
second or two), repeat their header row on every page, right-align figure columns, and print
the totals row in bold. A4 portrait, or landscape when a table has more than 7 columns.

Khmer script, precisely:

* Cells, headings and page furniture containing text that WinAnsi (cp1252) cannot encode are
  drawn in Noto Sans Khmer from the ``fontpkg-noto-sans-khmer`` package, embedded as a subset.
  reportlab 5.1 loads that variable TTF as its default instance (Regular, normal width); the
  weight and width axes are ignored, so "bold" Khmer is emboldened by stroking the glyphs.
* Shaping: reportlab 5.1 shapes TrueType text with HarfBuzz when ``uharfbuzz`` is importable.
  Khmer runs are shaped here run by run (the script is set per run, so mixed Latin/Khmer cells
  shape correctly): subscript consonants (coeng), pre-base vowels and stacked marks come out
  as a Khmer reader expects. Without ``uharfbuzz`` the same text is drawn with the right glyphs
  in logical order but unshaped (coeng forms and pre-base vowels misplaced) - readable for a
  Khmer reader only with effort; nothing crashes.
* Text extraction/search of shaped Khmer is imperfect: glyphs that have no Unicode code point of
  their own (e.g. a subscript RO) are mapped to private-use characters in the PDF, so copying a
  shaped Khmer name out of the PDF may not give back the original string. Western text and all
  figures extract exactly.
* Characters covered by neither Helvetica (WinAnsi) nor Noto Sans Khmer (e.g. CJK, emoji) are
  drawn as the font's missing-glyph box. Long left-aligned cells are shrunk and then cut with
  an ellipsis; right-aligned figures are only ever shrunk, never cut.

Table row iterables are consumed once, lazily; at most about a page of rows is buffered.
"""

from .amounts import display_amount, shown_amount
from .fonts import khmer_font_available, khmer_shaping_available
from .model import BarChartSection, Column, Document, KeyValueSection, Section, TableSection
from .render import cell_width, render_pdf

__all__ = [
    "BarChartSection",
    "Column",
    "Document",
    "KeyValueSection",
    "Section",
    "cell_width",
    "TableSection",
    "display_amount",
    "khmer_font_available",
    "khmer_shaping_available",
    "render_pdf",
    "shown_amount",
]
