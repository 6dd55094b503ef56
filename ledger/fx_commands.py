"""Typed command of the rates: what the edge (``api/fx.py``, the pages, the demo) asks
``ledger.fx_rates.record_rate`` to do. A plain frozen dataclass, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ledger.fx import BASE, QUOTE


@dataclass(frozen=True)
class RecordRate:
    """The rate of a date: ``rate`` quote units (KHR) per one base unit (USD), as the client
    wrote it (a decimal text, <= 6 decimals, > 0)."""

    on: date
    rate: str
    base: str = BASE
    quote: str = QUOTE
