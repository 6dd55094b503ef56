"""The desk's charts: SVG drawn on the server by pygal (no script in the SVG, shown with
``<img>`` and a text alternative; every chart's figures are also a table on its page)."""

from __future__ import annotations

import base64
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import pygal
from pygal.style import Style

# pygal puts an import hook for its optional map plugins (``pygal.maps.*``) on
# ``sys.meta_path``; it has no ``find_spec`` and so warns on every later import. No map is
# used here: the hook is taken off again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

#: Colours with enough contrast on white, in the banner's blue first.
STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#555555",
    colors=("#0b4f8a", "#b35900", "#2d6a36", "#7a1f7a", "#8a1010"),
    font_family="Noto Sans Khmer, system-ui, sans-serif",
    label_font_size=14,
    major_label_font_size=14,
    value_font_size=14,
    legend_font_size=14,
    title_font_size=18,
)
#: The chart's own Content-Security-Policy: pygal styles its SVG inline, the Khmer font is
#: embedded (a data: URL), and nothing else may load (no script: ``js=[]``).
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; font-src data:"
#: An SVG shown with ``<img>`` loads no web font of its page: a chart with Khmer text
#: carries the vendored Noto Sans Khmer (Khmer subset, 23 KB) as a data: URL, or its
#: labels would be boxes wherever the system has no Khmer font.
KHMER_FONT = (
    Path(__file__).resolve().parent
    / "static/vendor/noto-sans-khmer-5.3.0/files/noto-sans-khmer-khmer-400-normal.woff2"
)
KHMER = re.compile("[\u1780-\u17ff\u19e0-\u19ff]")
#: pygal writes its configuration into a ``<script>`` even without scripts to load.
SCRIPT = re.compile(rb"<script\b.*?</script>", re.S)


def _config(chart: pygal.Graph, title: str) -> pygal.Graph:
    chart.config.js = []
    chart.config.title = title
    chart.config.style = STYLE
    chart.config.width = 800
    chart.config.height = 400
    chart.config.legend_at_bottom = True
    chart.config.print_values = False
    chart.config.x_label_rotation = 30
    return chart


def line_chart(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]]
) -> bytes:
    """One line per series over ``labels`` (a missing figure leaves a gap)."""
    chart = _config(pygal.Line(allow_interruptions=True), title)
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return _svg(chart)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], name: str) -> bytes:
    """One bar per label."""
    chart = _config(pygal.Bar(), title)
    chart.x_labels = list(labels)
    chart.add(name, list(values))
    return _svg(chart)


def stacked_bar_chart(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[str]]
) -> bytes:
    """One stacked bar per label, a segment per series. The values are decimal strings
    (money as the API writes it): each segment's figure in the SVG is that very string;
    the bar's height is drawn from it."""
    chart = _config(pygal.StackedBar(), title)
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, [{"value": Decimal(v), "formatter": _exactly(v)} for v in values])
    return _svg(chart)


def _exactly(text: str) -> Callable[[object], str]:
    return lambda _value: text


def _svg(chart: pygal.Graph) -> bytes:
    out: bytes = SCRIPT.sub(b"", chart.render())
    if KHMER.search(out.decode("utf-8")):
        out = out.replace(b"<defs>", b"<defs>" + _khmer_face(), 1)
    return out


@lru_cache(maxsize=1)
def _khmer_face() -> bytes:
    data = base64.b64encode(KHMER_FONT.read_bytes()).decode("ascii")
    return (
        '<style type="text/css">@font-face { font-family: "Noto Sans Khmer"; '
        f'src: url(data:font/woff2;base64,{data}) format("woff2"); '
        "unicode-range: U+1780-17FF, U+19E0-19FF, U+200C-200D, U+25CC; }</style>"
    ).encode("ascii")
