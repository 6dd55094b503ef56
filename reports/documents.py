"""PDF documents of the ledger's reports: the trial balance and the account statement.

Each document is built from the dict the JSON answer of the same request carries (computed
by the same code in :mod:`ledger.api`), so a PDF's figures are the API's figures: amounts
come in as the JSON's decimal strings, go back to integer minor units with
:func:`ledger.money.parse_amount` and out with :func:`invoices.pdf.display_amount`.

The seal printed is the seal of the last entry the document covers
(:func:`ledger.sealing.last_seal`): the sealed entry with the highest ``seal_seq`` whose
accounting date is on or before the document's end date, everything committed being sealed
first; "not sealed" when nothing is sealed yet.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

from ledger.money import parse_amount
from reports.pdf import Column, Document, KeyValueSection, TableSection, display_amount


def shown(amount: str, exponent: int) -> str:
    """A JSON amount string as printed: ``"1234.50"`` → ``"1,234.50"``."""
    return display_amount(parse_amount(amount, exponent), exponent)


def trial_balance_document(
    out: Mapping[str, Any],
    exponents: Mapping[str, int],
    *,
    fund_name: str,
    made_at: datetime,
    seal: str | None,
    as_of: date,
) -> Document:
    """One table per commodity (accounts with their debit or credit), totals in bold."""
    by_commodity: dict[str, list[Mapping[str, Any]]] = {}
    for r in out["rows"]:
        by_commodity.setdefault(r["commodity"], []).append(r)
    totals = {t["commodity"]: t for t in out["totals"]}
    columns = [
        Column("Account", width=1.2),
        Column("Name", width=3.2),
        Column("Type", width=1.0),
        Column("Debit", "right", 1.6),
        Column("Credit", "right", 1.6),
    ]
    sections: list[Any] = []
    for commodity in sorted(by_commodity):
        exp = exponents[commodity]
        rows = [
            [
                r["account"],
                r["name"],
                r["type"],
                shown(r["debit"], exp) if parse_amount(r["debit"], exp) else "",
                shown(r["credit"], exp) if parse_amount(r["credit"], exp) else "",
            ]
            for r in by_commodity[commodity]
        ]
        t = totals[commodity]
        sections.append(
            TableSection(
                heading=f"{commodity}",
                columns=columns,
                rows=rows,
                totals=[
                    f"Total {commodity}",
                    "",
                    "",
                    shown(t["debit"], exp),
                    shown(t["credit"], exp),
                ],
            )
        )
    if not sections:
        sections.append(KeyValueSection("Balances", [("Accounts with a balance", "none")]))
    balanced = "yes" if out["balanced"] else "NO"
    return Document(
        fund_name=fund_name,
        title="Trial balance",
        period=f"as of {as_of.isoformat()}",
        made_at=made_at,
        seal=seal,
        subtitle=[f"Debits equal credits in every commodity: {balanced}"],
        sections=sections,
    )


def statement_document(
    out: Mapping[str, Any],
    exponent: int,
    *,
    fund_name: str,
    made_at: datetime,
    seal: str | None,
) -> Document:
    """Summary block, then every posting with its running balance; totals row at the end.

    ``out["items"]`` may be an iterator: it is consumed once, a page of rows at a time.
    """
    commodity = out["commodity"]

    def amount(text: str) -> str:
        return shown(text, exponent) if parse_amount(text, exponent) else ""

    def rows() -> Iterator[list[str]]:
        for i in out["items"]:
            yield [
                i["date"].isoformat() if isinstance(i["date"], date) else str(i["date"]),
                i["entry_id"],
                i["memo"],
                i["source"] or "",
                i["lot"] or "",
                amount(i["debit"]),
                amount(i["credit"]),
                shown(i["balance"], exponent),
            ]

    start, end = out["from_"], out["to"]
    return Document(
        fund_name=fund_name,
        title=f"Statement of account {out['account']}",
        period=f"{start.isoformat()} to {end.isoformat()}",
        made_at=made_at,
        seal=seal,
        subtitle=[f"{out['account']} {out['name']}, amounts in {commodity}"],
        sections=[
            KeyValueSection(
                "Summary",
                [
                    ("Opening balance", shown(out["opening"], exponent)),
                    ("Total debits", shown(out["total_debit"], exponent)),
                    ("Total credits", shown(out["total_credit"], exponent)),
                    ("Closing balance", shown(out["closing"], exponent)),
                ],
            ),
            TableSection(
                heading="Postings",
                columns=[
                    Column("Date", width=1.1),
                    Column("Entry", width=0.7),
                    Column("Memo", width=3.0),
                    Column("Source", width=1.4),
                    Column("Lot", width=0.8),
                    Column("Debit", "right", 1.3),
                    Column("Credit", "right", 1.3),
                    Column("Balance", "right", 1.4),
                ],
                rows=rows(),
                totals=[
                    "Totals",
                    "",
                    "",
                    "",
                    "",
                    shown(out["total_debit"], exponent),
                    shown(out["total_credit"], exponent),
                    shown(out["closing"], exponent),
                ],
            ),
        ],
    )
