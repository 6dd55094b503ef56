"""The pharmacy monthly statement, and the documents of settlements and claims.

One dict is computed per request (the JSON answer); the CSV/XLSX report and the PDF are
built from that same dict, so every figure in a download equals the API's figure.

The statement is on the books' basis: what was booked in the month (accounting date), with
each record's service date shown. Units per medicine: opening + received + returned −
dispensed − lost − transferred out = closing, all read from the pharmacy's inventory
account (``1400-P``).
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.orm import Session

from dispensing.tables import Dispensing, DispensingLine, DispensingReturn
from invoices.settlement_tables import Settlement
from ledger import chart
from ledger.errors import NotFound
from ledger.model import month_bounds
from ledger.money import format_amount, parse_amount
from ledger.periods import parse_period
from ledger.queries import account_balances, exponents
from ledger.settings import functional_currency
from ledger.tables import Account, Commodity, Entry, Lot, Posting
from reports.fund import fund_figures, fund_ratios
from reports.pdf import (
    BarChartSection,
    Column,
    Document,
    KeyValueSection,
    TableSection,
    shown_amount,
)
from reports.tabular import Col, Report, Section
from stock.tables import Medicine, Pharmacy


def _kind(source: str | None) -> str:
    return (source or "manual").split(":", 1)[0]


def pharmacy_statement(session: Session, pharmacy: str, period: str) -> dict[str, Any]:
    fund = functional_currency(session)
    parse_period(period)
    if session.get(Account, chart.inventory(pharmacy)) is None or pharmacy == chart.CENTRAL:
        raise NotFound(f"no pharmacy {pharmacy!r}")
    start, end = month_bounds(period)
    before = date.fromordinal(start.toordinal() - 1)
    cur = fund
    exp = exponents(session)[cur]
    fmt = lambda v: format_amount(v, exp)  # noqa: E731
    due_from, due_to, inv = (
        chart.due_from_pharmacy(pharmacy),
        chart.due_to_pharmacy(pharmacy),
        chart.inventory(pharmacy),
    )

    dispensing_rows: list[dict[str, Any]] = []
    totals = {"price": 0, "subsidy": 0, "copayment": 0, "fee": 0}
    q = (
        select(Dispensing, DispensingLine)
        .join(DispensingLine, DispensingLine.dispensing_id == Dispensing.id)
        .where(
            Dispensing.pharmacy == pharmacy,
            Dispensing.accounting_date >= start,
            Dispensing.accounting_date <= end,
        )
        .order_by(Dispensing.accounting_date, Dispensing.id, DispensingLine.line_no)
    )
    for d, ln in session.execute(q).yield_per(1000):
        first = ln.line_no == 0
        dispensing_rows.append(
            {
                "dispensing_id": str(d.id),
                "service_date": d.service_date.isoformat(),
                "accounting_date": d.accounting_date.isoformat(),
                "member_code": d.patient,
                "medicine": ln.medicine,
                "quantity": ln.quantity,
                "price": fmt(ln.price),
                "subsidy": fmt(ln.subsidy),
                "copayment": fmt(ln.copayment),
                "fee": fmt(d.fee if first else 0),
            }
        )
        totals["price"] += ln.price
        totals["subsidy"] += ln.subsidy
        totals["copayment"] += ln.copayment
        totals["fee"] += d.fee if first else 0

    returns = []
    rtot = {"price": 0, "subsidy": 0, "copayment": 0, "fee": 0}
    for r, d in session.execute(
        select(DispensingReturn, Dispensing)
        .join(Dispensing, Dispensing.id == DispensingReturn.dispensing_id)
        .where(
            Dispensing.pharmacy == pharmacy,
            DispensingReturn.accounting_date >= start,
            DispensingReturn.accounting_date <= end,
        )
        .order_by(DispensingReturn.accounting_date, DispensingReturn.id)
    ):
        returns.append(
            {
                "return_id": str(r.id),
                "dispensing_id": str(d.id),
                "date": r.return_date.isoformat(),
                "member_code": d.patient,
                "price": fmt(r.total_price),
                "subsidy": fmt(r.total_subsidy),
                "copayment": fmt(r.total_copayment),
                "fee": fmt(r.fee),
            }
        )
        rtot["price"] += r.total_price
        rtot["subsidy"] += r.total_subsidy
        rtot["copayment"] += r.total_copayment
        rtot["fee"] += r.fee

    medicines = set(session.scalars(select(Commodity.code).where(Commodity.kind == "medicine")))
    movements = []
    for e, p, lot in session.execute(
        select(Entry, Posting, Lot.lot_code)
        .join(Posting, Posting.entry_id == Entry.id)
        .outerjoin(Lot, Lot.id == Posting.lot_id)
        .where(
            Posting.account_code == inv,
            Posting.accounting_date >= start,
            Posting.accounting_date <= end,
            Posting.commodity.in_(medicines),
            ~Entry.source.like("dispensing:%"),
            ~Entry.source.like("return:%"),
        )
        .order_by(Posting.accounting_date, Posting.id)
    ):
        movements.append(
            {
                "date": e.accounting_date.isoformat(),
                "entry_id": str(e.id),
                "kind": _kind(e.source),
                "medicine": p.commodity,
                "lot": lot,
                "quantity": int(p.amount),
                "memo": e.memo,
            }
        )

    # Payment entries of the month first, through the partial index ix_entries_payments
    # (revision 0008: payment entries by date; the pattern a literal, so both databases
    # match the index's predicate), then their postings: a few rows, where reading the
    # month's postings of both accounts (or, on PostgreSQL, every entry) grew with the books.
    payments = []
    for e, p in session.execute(
        select(Entry, Posting)
        .join(Posting, Posting.entry_id == Entry.id)
        .where(
            Entry.source.like(literal_column("'payment:%'")),
            Entry.accounting_date >= start,
            Entry.accounting_date <= end,
            Posting.account_code.in_([due_from, due_to]),
            Posting.commodity == cur,
            Posting.accounting_date >= start,
            Posting.accounting_date <= end,
        )
        .order_by(Posting.accounting_date, Posting.id)
    ):
        payments.append(
            {
                "date": e.accounting_date.isoformat(),
                "entry_id": str(e.id),
                "memo": e.memo,
                "account": p.account_code,
                "amount": fmt(int(p.amount)),
            }
        )

    kind = case(
        (Entry.source.like("dispensing:%"), "dispensed"),
        (Entry.source.like("return:%"), "returned"),
        (Entry.source.like("stock-write-off:%"), "lost"),
        (Entry.source.like("stock-count:%"), "lost"),
        (and_(Posting.amount > 0), "received"),
        else_="transferred_out",
    )
    flows: dict[str, dict[str, int]] = {}
    for med, k, total in session.execute(
        select(Posting.commodity, kind, func.sum(Posting.amount))
        .join(Entry, Entry.id == Posting.entry_id)
        .where(
            Posting.account_code == inv,
            Posting.commodity.in_(medicines),
            Posting.accounting_date >= start,
            Posting.accounting_date <= end,
        )
        .group_by(Posting.commodity, kind)
    ):
        flows.setdefault(med, {})[k] = int(total)
    # Opening and closing balances of the three accounts, in one statement (bounded reads:
    # kept balances less the kept month totals after each date, ``ledger.queries``).
    at = account_balances(session, [due_from, due_to, inv], [before, end])
    opening_units = {
        c: v
        for (d, a, c), v in sorted(at.items())
        if d == before and a == inv and c in medicines and v
    }
    closing_units = {
        c: v
        for (d, a, c), v in sorted(at.items())
        if d == end and a == inv and c in medicines and v
    }
    units = []
    for med in sorted(set(flows) | set(opening_units) | set(closing_units)):
        f = flows.get(med, {})
        row: dict[str, Any] = {
            "medicine": med,
            "opening": opening_units.get(med, 0),
            "received": f.get("received", 0),
            "dispensed": -f.get("dispensed", 0),
            "returned": f.get("returned", 0),
            "lost": -f.get("lost", 0),
            "transferred_out": -f.get("transferred_out", 0),
            "closing": closing_units.get(med, 0),
        }
        assert (
            row["opening"]
            + row["received"]
            + row["returned"]
            - row["dispensed"]
            - row["lost"]
            - row["transferred_out"]
            == row["closing"]
        ), row
        units.append(row)

    settlement = session.scalars(
        select(Settlement).where(Settlement.pharmacy == pharmacy, Settlement.period == period)
    ).first()
    name = session.scalar(select(Pharmacy.name).where(Pharmacy.code == pharmacy))
    shown = (
        {r["medicine"] for r in dispensing_rows}
        | {m["medicine"] for m in movements}
        | {u["medicine"] for u in units}
    )
    medicine_names = {
        code: f"{mname} {strength}".strip()
        for code, mname, strength in session.execute(
            select(Medicine.code, Medicine.name, Medicine.strength)
            .where(Medicine.code.in_(shown))
            .order_by(Medicine.code)
        )
    }
    return {
        "pharmacy": pharmacy,
        "name": name,
        "period": period,
        "currency": cur,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "opening": {
            "due_from_pharmacy": fmt(at.get((before, due_from, cur), 0)),
            "due_to_pharmacy": fmt(-at.get((before, due_to, cur), 0)),
        },
        "dispensings": dispensing_rows,
        "dispensing_totals": {k: fmt(v) for k, v in totals.items()},
        "dispensing_count": len({r["dispensing_id"] for r in dispensing_rows}),
        "returns": returns,
        "return_totals": {k: fmt(v) for k, v in rtot.items()},
        "stock_movements": movements,
        "payments": payments,
        "settlement": None
        if settlement is None
        else {
            "id": str(settlement.id),
            "status": settlement.status,
            "netted": fmt(settlement.netted),
            "net_due": fmt(abs(settlement.net_due)),
            "net_due_by": "pharmacy"
            if settlement.net_due > 0
            else ("fund" if settlement.net_due < 0 else None),
        },
        "closing": {
            "due_from_pharmacy": fmt(at.get((end, due_from, cur), 0)),
            "due_to_pharmacy": fmt(-at.get((end, due_to, cur), 0)),
        },
        "units": units,
        "medicine_names": medicine_names,
    }


# --------------------------------------------------------------------------- CSV / XLSX


def pharmacy_statement_report(out: dict[str, Any]) -> Report:
    money = lambda name: Col(name, "money")  # noqa: E731
    return Report(
        f"Pharmacy statement {out['pharmacy']} {out['period']}",
        [
            Section(
                "Summary",
                [Col("item"), money("amount")],
                [
                    ["opening due from pharmacy", out["opening"]["due_from_pharmacy"]],
                    ["opening due to pharmacy", out["opening"]["due_to_pharmacy"]],
                    ["total price", out["dispensing_totals"]["price"]],
                    ["total subsidy", out["dispensing_totals"]["subsidy"]],
                    ["total co-payment", out["dispensing_totals"]["copayment"]],
                    ["total fees", out["dispensing_totals"]["fee"]],
                    ["closing due from pharmacy", out["closing"]["due_from_pharmacy"]],
                    ["closing due to pharmacy", out["closing"]["due_to_pharmacy"]],
                ],
            ),
            Section(
                "Dispensings",
                [
                    Col("dispensing_id"),
                    Col("service_date", "date"),
                    Col("member_code"),
                    Col("medicine"),
                    Col("quantity", "quantity"),
                    money("price"),
                    money("subsidy"),
                    money("copayment"),
                    money("fee"),
                ],
                [
                    [
                        r["dispensing_id"],
                        r["service_date"],
                        r["member_code"],
                        r["medicine"],
                        r["quantity"],
                        r["price"],
                        r["subsidy"],
                        r["copayment"],
                        r["fee"],
                    ]
                    for r in out["dispensings"]
                ],
            ),
            Section(
                "Returns",
                [
                    Col("return_id"),
                    Col("dispensing_id"),
                    Col("date", "date"),
                    money("price"),
                    money("subsidy"),
                    money("copayment"),
                    money("fee"),
                ],
                [
                    [
                        r["return_id"],
                        r["dispensing_id"],
                        r["date"],
                        r["price"],
                        r["subsidy"],
                        r["copayment"],
                        r["fee"],
                    ]
                    for r in out["returns"]
                ],
            ),
            Section(
                "Stock movements",
                [
                    Col("date", "date"),
                    Col("kind"),
                    Col("medicine"),
                    Col("lot"),
                    Col("quantity", "quantity"),
                ],
                [
                    [m["date"], m["kind"], m["medicine"], m["lot"], m["quantity"]]
                    for m in out["stock_movements"]
                ],
            ),
            Section(
                "Payments",
                [Col("date", "date"), Col("memo"), Col("account"), money("amount")],
                [[p["date"], p["memo"], p["account"], p["amount"]] for p in out["payments"]],
            ),
            Section(
                "Units",
                [Col("medicine")]
                + [
                    Col(k, "quantity")
                    for k in (
                        "opening",
                        "received",
                        "dispensed",
                        "returned",
                        "lost",
                        "transferred_out",
                        "closing",
                    )
                ],
                [
                    [
                        u["medicine"],
                        u["opening"],
                        u["received"],
                        u["dispensed"],
                        u["returned"],
                        u["lost"],
                        u["transferred_out"],
                        u["closing"],
                    ]
                    for u in out["units"]
                ],
            ),
        ],
    )


# --------------------------------------------------------------------------- PDF


def pharmacy_statement_document(
    out: dict[str, Any], *, fund_name: str, made_at: datetime, seal: str | None
) -> Document:
    exp = 0 if out["currency"] == "KHR" else 2
    s = lambda v: shown_amount(v, exp)  # noqa: E731
    t = out["dispensing_totals"]
    summary = [
        ("Opening: due from the pharmacy", s(out["opening"]["due_from_pharmacy"])),
        ("Opening: due to the pharmacy", s(out["opening"]["due_to_pharmacy"])),
        ("Dispensings", str(out["dispensing_count"])),
        ("Closing: due from the pharmacy", s(out["closing"]["due_from_pharmacy"])),
        ("Closing: due to the pharmacy", s(out["closing"]["due_to_pharmacy"])),
    ]
    if out["settlement"]:
        st = out["settlement"]
        by = {"pharmacy": " (due by the pharmacy)", "fund": " (due by the fund)"}.get(
            st["net_due_by"] or "", ""
        )
        summary.append((f"Settlement {st['id']} ({st['status']})", s(st["net_due"]) + by))
    right = lambda title, w=1.2: Column(title, "right", w)  # noqa: E731
    names: dict[str, str] = out.get("medicine_names") or {}
    medicine = lambda code: f"{code} {names[code]}" if code in names else code  # noqa: E731

    def rows() -> Iterator[list[str]]:
        """A line per medicine; a dispensing's fee (for the whole dispensing, not a line)
        on a row of its own under its lines, so the Fee column still adds up to the total."""
        fee: tuple[str, str] | None = None  # (dispensing id, fee) still to be shown
        for r in out["dispensings"]:
            if fee is not None and fee[0] != r["dispensing_id"]:
                yield _fee_row(fee, s)
                fee = None
            if fee is None and parse_amount(r["fee"], exp):
                fee = (r["dispensing_id"], r["fee"])
            yield [
                r["service_date"],
                r["member_code"] or "walk-in",
                medicine(r["medicine"]),
                str(r["quantity"]),
                s(r["price"]),
                s(r["subsidy"]),
                s(r["copayment"]),
                "",
            ]
        if fee is not None:
            yield _fee_row(fee, s)

    sections: list[Any] = [
        KeyValueSection(f"Summary ({out['currency']})", summary),
        TableSection(
            "Dispensings",
            [
                Column("Date", width=1.1),
                Column("Member", width=1.2),
                Column("Medicine", width=2.4),
                right("Qty", 0.7),
                right("Price"),
                right("Subsidy"),
                right("Co-payment"),
                right("Fee", 0.9),
            ],
            rows(),
            totals=[
                "Total",
                "",
                "",
                "",
                s(t["price"]),
                s(t["subsidy"]),
                s(t["copayment"]),
                s(t["fee"]),
            ],
        ),
    ]
    if out["returns"]:
        rt = out["return_totals"]
        sections.append(
            TableSection(
                "Returns",
                [
                    Column("Date"),
                    Column("Dispensing"),
                    right("Price"),
                    right("Subsidy"),
                    right("Co-payment"),
                    right("Fee"),
                ],
                [
                    [
                        r["date"],
                        r["dispensing_id"],
                        s(r["price"]),
                        s(r["subsidy"]),
                        s(r["copayment"]),
                        s(r["fee"]),
                    ]
                    for r in out["returns"]
                ],
                totals=[
                    "Total",
                    "",
                    s(rt["price"]),
                    s(rt["subsidy"]),
                    s(rt["copayment"]),
                    s(rt["fee"]),
                ],
            )
        )
    sections.append(
        TableSection(
            "Stock received and sent",
            [
                Column("Date"),
                Column("Kind"),
                Column("Medicine", width=2.4),
                Column("Lot"),
                right("Units"),
            ],
            [
                [m["date"], m["kind"], medicine(m["medicine"]), m["lot"] or "", str(m["quantity"])]
                for m in out["stock_movements"]
            ],
        )
    )
    sections.append(
        TableSection(
            "Payments",
            [Column("Date"), Column("Memo", width=3), Column("Account"), right("Amount")],
            [[p["date"], p["memo"], p["account"], s(p["amount"])] for p in out["payments"]],
        )
    )
    sections.append(
        TableSection(
            "Units per medicine",
            [Column("Medicine", width=2.4)]
            + [
                right(h, 1.0)
                for h in (
                    "Opening",
                    "Received",
                    "Dispensed",
                    "Returned",
                    "Lost",
                    "Sent out",
                    "Closing",
                )
            ],
            [
                [
                    medicine(u["medicine"]),
                    str(u["opening"]),
                    str(u["received"]),
                    str(u["dispensed"]),
                    str(u["returned"]),
                    str(u["lost"]),
                    str(u["transferred_out"]),
                    str(u["closing"]),
                ]
                for u in out["units"]
            ],
        )
    )
    return Document(
        fund_name=fund_name,
        title="Pharmacy monthly statement",
        period=f"{out['period']} ({out['from']} to {out['to']})",
        made_at=made_at,
        seal=seal,
        subtitle=[f"Pharmacy {out['pharmacy']} — {out['name']}", f"Currency {out['currency']}"],
        sections=sections,
    )


def _fee_row(fee: tuple[str, str], shown: Callable[[str], str]) -> list[str]:
    return ["", "", f"Fee of dispensing {fee[0]}", "", "", "", "", shown(fee[1])]


def settlement_document(
    out: dict[str, Any], *, fund_name: str, made_at: datetime, seal: str | None
) -> Document:
    s = lambda v: shown_amount(v, 0)  # noqa: E731
    by = {"pharmacy": "due by the pharmacy", "fund": "due by the fund"}.get(
        out["net_due_by"] or "", "nothing due"
    )
    right = lambda title: Column(title, "right", 1.2)  # noqa: E731
    return Document(
        fund_name=fund_name,
        title=f"Settlement {out['id']}",
        period=out["period"],
        made_at=made_at,
        seal=seal,
        subtitle=[
            f"Pharmacy {out['pharmacy']}",
            f"Status {out['status']}",
            f"Currency {out['currency']}",
        ],
        sections=[
            KeyValueSection(
                "Account",
                [
                    ("Co-payments collected by the pharmacy", s(out["copayments_collected"])),
                    ("Fees owed to the pharmacy", s(out["fees_owed"])),
                    ("Subsidy reimbursements owed to the pharmacy", s(out["subsidy_owed"])),
                    ("Netted", s(out["netted"])),
                    ("Net amount", f"{s(out['net_due'])} ({by})"),
                    ("Paid so far", s(out["paid"])),
                ],
            ),
            TableSection(
                "Dispensings covered",
                [
                    Column("Date"),
                    Column("Member"),
                    right("Price"),
                    right("Subsidy"),
                    right("Co-payment"),
                    right("Fee"),
                    Column("Late", width=0.6),
                ],
                [
                    [
                        d["service_date"],
                        d["patient"] or "walk-in",
                        s(d["total_price"]),
                        s(d["subsidy"]),
                        s(d["copayment"]),
                        s(d["fee"]),
                        "yes" if d["late"] else "",
                    ]
                    for d in out["dispensings"]
                ],
            ),
        ],
    )


def claim_report(out: dict[str, Any]) -> Report:
    """The subsidy claim as a table: its lines, then its total, paid and outstanding."""
    return Report(
        f"Subsidy claim {out['id']}",
        [
            Section(
                "Lines",
                [
                    Col("date", "date"),
                    Col("pharmacy"),
                    Col("member_code"),
                    Col("medicine"),
                    Col("quantity", "quantity"),
                    Col("subsidy", "money"),
                ],
                [
                    [
                        ln["date"],
                        ln["pharmacy"],
                        ln["member_code"],
                        ln["medicine"],
                        ln["quantity"],
                        ln["subsidy"],
                    ]
                    for ln in out["lines"]
                ],
            ),
            Section(
                "Total",
                [Col("total", "money"), Col("paid", "money"), Col("outstanding", "money")],
                [[out["total"], out["paid"], out["outstanding"]]],
            ),
        ],
    )


def claim_document(
    out: dict[str, Any], *, fund_name: str, made_at: datetime, seal: str | None
) -> Document:
    s = lambda v: shown_amount(v, 0)  # noqa: E731
    return Document(
        fund_name=fund_name,
        title=f"Subsidy claim {out['id']} — invoice",
        period=out["period"],
        made_at=made_at,
        seal=seal,
        subtitle=[
            f"Scheme {out['scheme']}",
            f"Issued {out['issued_on']}",
            f"Currency {out['currency']}",
        ],
        sections=[
            TableSection(
                "Subsidised dispensings",
                [
                    Column("Date"),
                    Column("Pharmacy"),
                    Column("Member"),
                    Column("Medicine"),
                    Column("Qty", "right", 0.7),
                    Column("Subsidy", "right", 1.2),
                ],
                [
                    [
                        ln["date"],
                        ln["pharmacy"],
                        ln["member_code"] or "",
                        ln["medicine"],
                        str(ln["quantity"]),
                        s(ln["subsidy"]),
                    ]
                    for ln in out["lines"]
                ],
                totals=["Total", "", "", "", "", s(out["total"])],
            ),
            KeyValueSection(
                "Amount due",
                [
                    ("Total claimed", s(out["total"])),
                    ("Paid", s(out["paid"])),
                    ("Outstanding", s(out["outstanding"])),
                ],
            ),
        ],
    )


def cost_recovery_by_month(session: Session, start: date, end: date) -> list[tuple[str, Any]]:
    """Cost recovery (in %) of each calendar month of the range, by the same rule as the
    fund-health report; ``None`` for a month without costs."""
    out: list[tuple[str, Any]] = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):  # by (year, month): 9999-12 has no month after it
        m_start, m_end = date(y, m, 1), date(y, m, monthrange(y, m)[1])
        ratio = fund_ratios(fund_figures(session, max(start, m_start), min(end, m_end)))
        value = ratio["cost_recovery"]
        out.append((f"{y:04d}-{m:02d}", None if value is None else Decimal(value) * 100))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def fund_health_document(
    out: dict[str, Any],
    by_month: list[tuple[str, Any]],
    *,
    fund_name: str,
    made_at: datetime,
    seal: str | None,
) -> Document:
    s = lambda v: shown_amount(v, 0)  # noqa: E731
    ratio_names = {
        "cost_recovery": "Cost recovery",
        "capital_preservation": "Capital preservation",
        "months_of_stock": "Months of stock",
        "expiry_loss_share": "Expiry losses / cost",
        "count_loss_share": "Count differences / cost",
    }
    ratios = [
        (ratio_names.get(k, k), v if v is not None else "n/a") for k, v in out["ratios"].items()
    ]
    figures = [(k.replace("_", " ").capitalize(), s(v)) for k, v in out["figures"].items()]
    shown_months = [(m, v) for m, v in by_month if v is not None]
    prices = out["price_vs_replacement_cost"]
    sections: list[Any] = [
        KeyValueSection("Ratios", ratios),
        KeyValueSection(f"Figures ({out['currency']})", figures),
    ]
    if shown_months:
        sections.append(
            BarChartSection(
                "Cost recovery by month (%)",
                [m for m, _ in shown_months],
                [v.quantize(Decimal("0.01")) for _, v in shown_months],
                reference_line=Decimal(100),
            )
        )
    sections.append(
        TableSection(
            "Prices against replacement cost",
            [
                Column("Price list"),
                Column("Medicine"),
                Column("Price", "right"),
                Column("Replacement cost", "right"),
                Column("Price / cost", "right"),
                Column("Below cost", width=0.8),
            ],
            [
                [
                    p["price_list"],
                    p["medicine"],
                    p["unit_price"],
                    p["replacement_cost"] or "n/a",
                    p["price_to_cost"] or "n/a",
                    "BELOW" if p["below_cost"] else "",
                ]
                for p in prices
            ],
        )
    )
    return Document(
        fund_name=fund_name,
        title="Fund health",
        period=f"{out['from_']} to {out['to']}",
        made_at=made_at,
        seal=seal,
        subtitle=[f"Currency {out['currency']}"],
        sections=sections,
    )
