"""Fonts and text drawing: Helvetica for Western text, Noto Sans Khmer for everything else.

Text that WinAnsi (cp1252) can encode is drawn in the PDF base-14 Helvetica family: fast, and
needs no embedding. Any other text (Khmer above all) is drawn in Noto Sans Khmer, embedded as a
subset; that font also covers Latin, so mixed strings such as ``"P1 សុខ សុភា"`` work. Khmer runs
are shaped with HarfBuzz through reportlab's own shaping support when ``uharfbuzz`` is
importable; otherwise they are drawn glyph by glyph, unshaped (see the package docstring).
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, shapeStr
from reportlab.pdfgen.canvas import Canvas

REGULAR = "Helvetica"
BOLD = "Helvetica-Bold"
MONO = "Courier"
KHMER = "RDFNotoSansKhmer"

_KHMER_RUN = re.compile("[\u1780-\u17ff\u19e0-\u19ff\u200b-\u200d]+")
_lock = threading.Lock()
_khmer_state: dict[str, bool] = {}


def _font_path() -> Path | None:
    try:
        import fontpkg

        return Path(fontpkg.path("Noto Sans Khmer"))
    except Exception:  # noqa: BLE001 - any failure means "look in the package folder"
        pass
    try:
        import fontpkg_noto_sans_khmer
    except ImportError:
        return None
    files = sorted((Path(fontpkg_noto_sans_khmer.__file__).parent / "files").glob("*.ttf"))
    return files[0] if files else None


def khmer_font_available() -> bool:
    """Register Noto Sans Khmer once; False when the font package is missing or unreadable."""
    with _lock:
        if "ok" not in _khmer_state:
            ok = False
            path = _font_path()
            if path is not None:
                try:
                    pdfmetrics.registerFont(TTFont(KHMER, str(path)))
                    ok = True
                except Exception:  # noqa: BLE001 - a broken font must not break documents
                    ok = False
            _khmer_state["ok"] = ok
        return _khmer_state["ok"]


def khmer_shaping_available() -> bool:
    """True when Khmer runs are shaped (reportlab found ``uharfbuzz``)."""
    return khmer_font_available() and bool(pdfmetrics.getFont(KHMER).shapable)


@functools.cache
def helvetica_widths() -> tuple[int, ...]:
    """Helvetica glyph widths (1/1000 em) indexed by WinAnsi (cp1252) byte."""
    return tuple(int(w) for w in pdfmetrics.getFont(REGULAR).widths)


_ESCAPES = {ord("("): "\\(", ord(")"): "\\)", ord("\\"): "\\\\"}


_PLAIN = re.compile(rb"[\x20-\x27\x2a-\x5b\x5d-\x7e]*")


def pdf_escape(encoded: bytes) -> str:
    """A PDF literal string body for WinAnsi bytes: escape parens/backslash, octal for the rest."""
    if _PLAIN.fullmatch(encoded):
        return encoded.decode("ascii")
    return "".join(_ESCAPES.get(b) or (chr(b) if 32 <= b < 127 else f"\\{b:03o}") for b in encoded)


def is_winansi(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class _Run:
    text: str  # a ShapedStr for shaped Khmer runs
    font: str
    width: float
    embolden: bool  # bold asked for but the font has no bold: stroke the glyphs


def _plain_runs(text: str, size: float, bold: bool) -> list[_Run]:
    """Western text in Helvetica; anything else WinAnsi lacks (e.g. ``→``) in the Noto font."""
    runs: list[_Run] = []
    for part in re.split(r"([^\x00-\x7f]+)", text):
        if not part:
            continue
        if is_winansi(part):
            font = BOLD if bold else REGULAR
            runs.append(_Run(part, font, pdfmetrics.stringWidth(part, font, size), False))
        else:
            runs.append(_Run(part, KHMER, pdfmetrics.stringWidth(part, KHMER, size), bold))
    return runs


def _runs(text: str, size: float, bold: bool) -> list[_Run]:
    """Split non-WinAnsi text into runs; Khmer runs are shaped one by one (script per run)."""
    shaping = khmer_shaping_available()
    runs: list[_Run] = []
    pos = 0
    for match in _KHMER_RUN.finditer(text):
        runs.extend(_plain_runs(text[pos : match.start()], size, bold))
        khmer = match.group()
        shaped = shapeStr(khmer, KHMER, size) if shaping else khmer
        data = getattr(shaped, "__shapeData__", None)
        if data is not None:
            width = sum(d.x_advance for d in data) * size / 1000
        else:
            width = pdfmetrics.stringWidth(khmer, KHMER, size)
        runs.append(_Run(shaped, KHMER, width, bold))
        pos = match.end()
    runs.extend(_plain_runs(text[pos:], size, bold))
    return runs


def text_width(text: str, size: float, bold: bool = False, mono: bool = False) -> float:
    if mono:
        return float(pdfmetrics.stringWidth(text, MONO, size))
    if is_winansi(text) or not khmer_font_available():
        return float(pdfmetrics.stringWidth(text, BOLD if bold else REGULAR, size))
    return sum(run.width for run in _runs(text, size, bold))


def draw_text(
    canvas: Canvas,
    x: float,
    y: float,
    text: str,
    size: float,
    *,
    bold: bool = False,
    mono: bool = False,
    align: str = "left",
) -> float:
    """Draw one line of text with its left (or right) edge at ``x``; return its width."""
    if mono:
        font = MONO
    elif is_winansi(text) or not khmer_font_available():
        font = BOLD if bold else REGULAR
    else:
        return _draw_khmer(canvas, x, y, text, size, bold=bold, align=align)
    width = pdfmetrics.stringWidth(text, font, size)
    canvas.setFont(font, size)
    canvas.drawString(x - width if align == "right" else x, y, text)
    return float(width)


def _draw_khmer(
    canvas: Canvas, x: float, y: float, text: str, size: float, *, bold: bool, align: str
) -> float:
    runs = _runs(text, size, bold)
    width = sum(run.width for run in runs)
    cursor = x - width if align == "right" else x
    canvas.saveState()
    if bold:  # the variable font loads as its Regular instance only
        canvas.setLineWidth(size * 0.035)
        canvas.setStrokeColor(canvas._fillColorObj)
    for run in runs:
        text_object = canvas.beginText(cursor, y)
        text_object.setFont(run.font, size)
        if run.embolden:
            text_object.setTextRenderMode(2)
        text_object.textOut(run.text)
        if run.embolden:
            text_object.setTextRenderMode(0)
        canvas.drawText(text_object)
        cursor += run.width
    canvas.restoreState()
    return width


def fit_text(
    text: str, width: float, size: float, bold: bool, min_size: float
) -> tuple[str, float]:
    """Shrink the font to fit ``width`` down to ``min_size``, then cut with an ellipsis."""
    current = size
    while current > min_size and text_width(text, current, bold) > width:
        current = max(min_size, current - 0.5)
    if text_width(text, current, bold) <= width:
        return text, current
    cut = text
    while cut and text_width(cut + "…", current, bold) > width:
        cut = cut[:-1]
    return cut.rstrip() + "…", current
