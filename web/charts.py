"""The desk's charts: SVG drawn on the server by pygal (no script in the SVG, shown with
``<img>`` and a text alternative; every chart's figures are also a table on its page)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

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
#: The chart's own Content-Security-Policy: pygal styles its SVG inline, and nothing else
#: may load (no script: ``js=[]``).
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"
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
    out: bytes = chart.render()
    return SCRIPT.sub(b"", out)
