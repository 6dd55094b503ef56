"""The monthly bank reconciliation as a table (CSV/XLSX).

The figures are :func:`invoices.reconciliation.reconciliation`'s; this module only re-shapes
its answer into sections, so the CSV, the XLSX and the JSON of a request agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.tabular import Col, Report, Section, rows_of

SUMMARY_COLS = [
    Col("currency"),
    Col("bank_account"),
    Col("bank_balance", "money"),
    Col("book_balance", "money"),
    Col("difference", "money"),
    Col("unmatched_bank_lines_total", "money"),
    Col("unmatched_payments_total", "money"),
    Col("unexplained", "money"),
]
LINE_COLS = [
    Col("id"),
    Col("statement_id"),
    Col("line_number", "quantity"),
    Col("date", "date"),
    Col("currency"),
    Col("amount", "money"),
    Col("reference"),
    Col("description"),
    Col("payment_id"),
    Col("match_kind"),
]
PAYMENT_COLS = [
    Col("id"),
    Col("date", "date"),
    Col("direction"),
    Col("counterparty_kind"),
    Col("counterparty"),
    Col("currency"),
    Col("amount", "money"),
    Col("reference"),
]


def _payment_row(p: dict[str, Any]) -> dict[str, Any]:
    return {
        **p,
        "counterparty_kind": p["counterparty"]["kind"],
        "counterparty": p["counterparty"]["code"],
    }


def reconciliation_report(out: Mapping[str, Any]) -> Report:
    """Sections Summary, Matched, Unmatched bank lines, Unmatched payments, from the JSON
    answer of the reconciliation (:func:`invoices.reconciliation.reconciliation`)."""
    matched_cols = [
        Col("bank_line_id"),
        Col("payment_id"),
        Col("date", "date"),
        Col("currency"),
        Col("amount", "money"),
        Col("reference"),
        Col("match_kind"),
    ]
    matched = [
        {
            "bank_line_id": m["bank_line"]["id"],
            "payment_id": m["payment"]["id"],
            "date": m["bank_line"]["date"],
            "currency": m["bank_line"]["currency"],
            "amount": m["bank_line"]["amount"],
            "reference": m["bank_line"]["reference"],
            "match_kind": m["match_kind"],
        }
        for m in out["matched"]
    ]
    return Report(
        f"Reconciliation {out['period']}",
        [
            Section("Summary", SUMMARY_COLS, rows_of(SUMMARY_COLS, out["currencies"])),
            Section("Matched", matched_cols, rows_of(matched_cols, matched)),
            Section(
                "Unmatched bank lines", LINE_COLS, rows_of(LINE_COLS, out["unmatched_bank_lines"])
            ),
            Section(
                "Unmatched payments",
                PAYMENT_COLS,
                rows_of(PAYMENT_COLS, map(_payment_row, out["unmatched_payments"])),
            ),
        ],
    )
