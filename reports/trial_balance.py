"""The trial balance: figures, table (CSV/XLSX) and PDF document.

:func:`trial_balance_figures` reads every account's balance per commodity (as of a date,
for one commodity or all) with the debit and credit totals of each commodity. The HTTP edge
turns them into the JSON answer (``api.ledger.trial_balance_json``); the table and the
document are built from that very answer (:func:`trial_balance_report`,
:func:`trial_balance_document` only re-shape, they never recompute).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from ledger.errors import InvalidRequest
from ledger.money import parse_amount
from ledger.queries import TrialBalanceRow, exponents, trial_balance
from reports.pdf import (
    Column,
    Document,
    KeyValueSection,
    TableSection,
    cell_width,
    shown_amount,
)
from reports.tabular import Col, Report, Section


@dataclass(frozen=True)
class TrialBalance:
    """Rows by account and commodity; ``totals``: commodity -> (debit, credit), sorted."""

    as_of: date | None
    commodity: str | None
    rows: list[TrialBalanceRow]
    totals: dict[str, tuple[int, int]]
    exponents: dict[str, int]

    @property
    def balanced(self) -> bool:
        return all(d == cr for d, cr in self.totals.values())


def trial_balance_figures(
    session: Session, as_of: date | None, commodity: str | None
) -> TrialBalance:
    """The trial balance as of ``as_of`` (None: now), of ``commodity`` or of all."""
    exps = exponents(session)
    if commodity is not None and commodity not in exps:
        raise InvalidRequest(
            f"no commodity {commodity!r}", errors={"commodity": ["unknown commodity"]}
        )
    rows = trial_balance(session, as_of, commodity)
    totals: dict[str, list[int]] = {}
    for r in rows:
        t = totals.setdefault(r.commodity, [0, 0])
        t[0] += r.debit
        t[1] += r.credit
    return TrialBalance(
        as_of=as_of,
        commodity=commodity,
        rows=rows,
        totals={c: (d, cr) for c, (d, cr) in sorted(totals.items())},
        exponents=exps,
    )


# --------------------------------------------------------------------------- table


TRIAL_BALANCE_COLUMNS = [
    Col("account"),
    Col("name"),
    Col("type"),
    Col("commodity"),
    Col("debit", "money"),
    Col("credit", "money"),
]
TOTALS_COLUMNS = [Col("commodity"), Col("debit", "money"), Col("credit", "money")]


def trial_balance_report(out: Mapping[str, Any]) -> Report:
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


# --------------------------------------------------------------------------- document


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
    # A sub-account's code (up to 40 characters: "2000-" and a supplier's code) is shown
    # whole at the normal size: its column is as wide as the longest code, the name gives way.
    longest = max((cell_width(r["account"]) for r in out["rows"]), default=0.0)
    columns = [
        Column("Account", width=1.2, min_points=longest),
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
                shown_amount(r["debit"], exp) if parse_amount(r["debit"], exp) else "",
                shown_amount(r["credit"], exp) if parse_amount(r["credit"], exp) else "",
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
                    shown_amount(t["debit"], exp),
                    shown_amount(t["credit"], exp),
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
