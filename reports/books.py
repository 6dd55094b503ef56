"""Tabular reports of the books, built from the very dicts the JSON answers carry.

The views compute the JSON answer once and hand it here, so a CSV, an XLSX and the JSON of
the same request can never disagree: these functions only re-shape, they never recompute.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reports.tabular import Col, Report, Section

TRIAL_BALANCE_COLUMNS = [
    Col("account"),
    Col("name"),
    Col("type"),
    Col("commodity"),
    Col("debit", "money"),
    Col("credit", "money"),
]
TOTALS_COLUMNS = [Col("commodity"), Col("debit", "money"), Col("credit", "money")]

STATEMENT_SUMMARY_COLUMNS = [
    Col("account"),
    Col("name"),
    Col("commodity"),
    Col("from", "date"),
    Col("to", "date"),
    Col("opening", "money"),
    Col("total_debit", "money"),
    Col("total_credit", "money"),
    Col("closing", "money"),
]
STATEMENT_LINE_COLUMNS = [
    Col("date", "date"),
    Col("service_date", "date"),
    Col("entry_id"),
    Col("memo"),
    Col("source"),
    Col("lot"),
    Col("amount", "money"),
    Col("debit", "money"),
    Col("credit", "money"),
    Col("balance", "money"),
]


def trial_balance_report(out: dict[str, Any]) -> Report:
    """Sections ``Trial balance`` (one row per account and commodity) and ``Totals``."""
    as_of = out.get("as_of")
    title = f"Trial balance as of {as_of}" if as_of else "Trial balance"
    rows = [[r[c.name] for c in TRIAL_BALANCE_COLUMNS] for r in out["rows"]]
    totals = [[t[c.name] for c in TOTALS_COLUMNS] for t in out["totals"]]
    return Report(
        title,
        [
            Section("Trial balance", TRIAL_BALANCE_COLUMNS, rows),
            Section("Totals", TOTALS_COLUMNS, totals),
        ],
    )


def statement_report(out: dict[str, Any]) -> Report:
    """Sections ``Summary`` (one row) and ``Postings`` (every line, streamed)."""
    summary = {**out, "from": out["from_"]}

    def lines() -> Iterator[list[Any]]:
        for item in out["items"]:
            yield [item[c.name] for c in STATEMENT_LINE_COLUMNS]

    return Report(
        f"Statement of account {out['account']} {out['commodity']}",
        [
            Section(
                "Summary",
                STATEMENT_SUMMARY_COLUMNS,
                [[summary[c.name] for c in STATEMENT_SUMMARY_COLUMNS]],
            ),
            Section("Postings", STATEMENT_LINE_COLUMNS, lines()),
        ],
    )
