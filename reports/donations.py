"""The donor report and the donated side of fund health (DESIGN.md "Funders").

Donor report (``donation_report``): for each lot a donor gave (``lots.funding = donated``),
per place that held it, the units and the value that moved through the place's inventory
account (``chart.inventory(place)``) in the period, by what moved them (the source of the
entry):

* ``received`` — ``stock-receipt:…``;
* ``transferred_in`` / ``transferred_out`` — ``stock-transfer:…`` (in: a debit, out: a credit);
* ``dispensed`` — ``dispensing:…`` (what left); ``returned`` — ``return:…`` (what came back);
* ``written_off`` — ``stock-write-off:…``;
* ``count_difference`` — ``stock-count:…`` (signed: + found, − lost);
* ``other`` — anything else (a manual entry, a reversal), signed as it came in.

``opening`` is what the place held before the period, ``on_hand`` what it held at its end,
and for every place, in units and in value, to the unit and the riel::

    on_hand = opening + received + transferred_in − transferred_out − dispensed + returned
              − written_off + count_difference + other

so, from an empty start and with no counts, the central store's ``received =
transferred_out + written_off + on_hand`` and each pharmacy's ``transferred_in = dispensed −
returned + written_off + on_hand``. Dates are accounting dates (the books' periods), as the
stock on hand reads them. Values are in the fund currency (lots are valued in it).

Donated side of fund health (``donated_health``):

* ``donated_cost`` — the value of donated lots consumed in the period (dispensed net of
  returns, written off, counted lost; a sale of donated stock to a purchase-model pharmacy is
  not included) — part of the fund's total cost at fair value;
* ``cost_recovery_excluding_donated`` — revenue ÷ (total cost − donated cost): what the
  fund recovers of the costs it paid for;
* the **replacement gap** — the donated units dispensed in the period (net of returns), per
  medicine, times the fund's latest purchase unit cost of that medicine (the latest
  *purchased* receipt on or before the period's end: its value ÷ its units, the gap
  ``round_half_up(units × value ÷ quantity)`` per medicine); a medicine the fund never
  bought has no purchase price yet: it is listed under ``no_purchase_price`` with its units
  and left out of the gap (the gap is then a lower bound).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import chart
from ledger.fx import Rate, convert
from ledger.money import format_amount, format_unit_price, round_half_up
from ledger.queries import exponents
from ledger.settings import functional_currency
from ledger.tables import Account, Entry, Lot, Posting
from reports.pdf import Column, Document, KeyValueSection, TableSection, shown_amount
from reports.tabular import Col, Report, Section
from stock.donations import DONATED, PURCHASED, donated_lots

#: The movements of a place, in the order of the answer.
FIGURES = (
    "opening",
    "received",
    "transferred_in",
    "transferred_out",
    "dispensed",
    "returned",
    "written_off",
    "count_difference",
    "other",
    "on_hand",
)
#: The sign each figure adds to ``on_hand`` with.
SIGNS = {
    "opening": 1,
    "received": 1,
    "transferred_in": 1,
    "transferred_out": -1,
    "dispensed": -1,
    "returned": 1,
    "written_off": -1,
    "count_difference": 1,
    "other": 1,
}


def _kind(source: str | None, amount: int) -> str:
    prefix = (source or "").split(":", 1)[0]
    if prefix == "stock-receipt":
        return "received"
    if prefix == "stock-transfer":
        return "transferred_in" if amount > 0 else "transferred_out"
    if prefix == "dispensing":
        return "dispensed"
    if prefix == "return":
        return "returned"
    if prefix == "stock-write-off":
        return "written_off"
    if prefix == "stock-count":
        return "count_difference"
    return "other"


@dataclass
class PlaceFigures:
    """Units and value of one lot at one place, per figure (on_hand derived)."""

    units: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIGURES, 0))
    value: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIGURES, 0))

    def add(self, kind: str, is_units: bool, amount: int) -> None:
        target = self.units if is_units else self.value
        sign = SIGNS[kind]
        target[kind] += amount * sign  # every figure but the signed ones is positive
        target["on_hand"] += amount

    def moved(self) -> bool:
        return any(self.units.values()) or any(self.value.values())


def _inventory_accounts(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Account.code).where(Account.parent == chart.INVENTORY, ~Account.is_header)
        )
    )


def _lot_movements(
    session: Session, lots: Sequence[Lot], end: date | None
) -> list[tuple[int, str, str, str | None, date, int]]:
    """(lot id, account, commodity, entry source, accounting date, amount) summed per entry,
    for the inventory postings of ``lots`` up to ``end``."""
    if not lots:
        return []
    ids = [lot.id for lot in lots]
    out: list[tuple[int, str, str, str | None, date, int]] = []
    accounts = _inventory_accounts(session)
    for i in range(0, len(ids), 500):
        q = (
            select(
                Posting.lot_id,
                Posting.account_code,
                Posting.commodity,
                Entry.source,
                Posting.accounting_date,
                func.sum(Posting.amount),
            )
            .join(Entry, Entry.id == Posting.entry_id)
            .where(Posting.lot_id.in_(ids[i : i + 500]), Posting.account_code.in_(accounts))
            .group_by(
                Posting.lot_id,
                Posting.account_code,
                Posting.commodity,
                Entry.id,
                Entry.source,
                Posting.accounting_date,
            )
        )
        if end is not None:
            q = q.where(Posting.accounting_date <= end)
        for lot_id, account, commodity, source, on, amount in session.execute(q):
            if lot_id is not None and int(amount) != 0:
                out.append((int(lot_id), account, commodity, source, on, int(amount)))
    return out


def donation_figures(
    session: Session, donor: str | None, start: date | None, end: date | None
) -> tuple[list[Lot], dict[tuple[int, str], PlaceFigures]]:
    """The donated lots (of ``donor``, or all) and their figures per (lot id, place)."""
    fund = functional_currency(session)
    lots = list(donated_lots(session, donor))
    by_id = {lot.id: lot for lot in lots}
    cur = fund
    figures: dict[tuple[int, str], PlaceFigures] = {}
    for lot_id, account, commodity, source, on, amount in _lot_movements(session, lots, end):
        lot = by_id[lot_id]
        if commodity not in (lot.commodity, cur):
            continue
        place = chart.party_of(account) or account
        kind = "opening" if start is not None and on < start else _kind(source, amount)
        figures.setdefault((lot_id, place), PlaceFigures()).add(
            kind, commodity == lot.commodity, amount
        )
    return lots, figures


def _place_order(place: str) -> tuple[int, str]:
    return (0 if place == chart.CENTRAL else 1, place)


def donation_report(
    session: Session, donor: str | None, start: date | None, end: date | None
) -> dict[str, Any]:
    """The donor report's JSON (see the module doc); ``lots`` per medicine and lot, each with
    its places and its totals."""
    fund = functional_currency(session)
    exp = exponents(session)[fund]
    lots, figures = donation_figures(session, donor, start, end)

    def pair(f: PlaceFigures, name: str) -> dict[str, Any]:
        return {"units": f.units[name], "value": format_amount(f.value[name], exp)}

    out_lots = []
    for lot in lots:
        places = sorted((p for (lid, p) in figures if lid == lot.id), key=_place_order)
        total = PlaceFigures()
        rows = []
        for place in places:
            f = figures[(lot.id, place)]
            for name in FIGURES:
                total.units[name] += f.units[name]
                total.value[name] += f.value[name]
            rows.append({"location": place, **{name: pair(f, name) for name in FIGURES}})
        out_lots.append(
            {
                "medicine": lot.commodity,
                "lot": lot.lot_code,
                "expiry": lot.expiry_on,
                "donor": lot.donor,
                "places": rows,
                "totals": {name: pair(total, name) for name in FIGURES},
            }
        )
    return {
        "donor": donor,
        "from_": start,
        "to": end,
        "currency": fund,
        "lots": out_lots,
    }


# --------------------------------------------------------------------------- tables, PDF

REPORT_COLS = [
    Col("donor"),
    Col("medicine"),
    Col("lot"),
    Col("expiry", "date"),
    Col("location"),
    *[Col(f"{name}_units", "quantity") for name in FIGURES],
]


def donation_rows(out: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One flat row per lot and place (the CSV/XLSX rows), from the JSON answer."""
    rows = []
    for lot in out["lots"]:
        for place in [*lot["places"], {"location": "TOTAL", **lot["totals"]}]:
            row: dict[str, Any] = {
                "donor": lot["donor"],
                "medicine": lot["medicine"],
                "lot": lot["lot"],
                "expiry": lot["expiry"],
                "location": place["location"],
            }
            for name in FIGURES:
                row[f"{name}_units"] = place[name]["units"]
                row[f"{name}_value"] = place[name]["value"]
            rows.append(row)
    return rows


def donation_report_name(out: Mapping[str, Any]) -> str:
    return f"donations-{out['donor'] or 'all'}-{out['from_'] or 'start'}-{out['to'] or 'now'}"


def donation_table(out: Mapping[str, Any]) -> Report:
    """One section: a row per lot and place (and the lot's TOTAL), units then values."""
    cols = [
        *REPORT_COLS,
        *[Col(f"{name}_value", "money", currency=out["currency"]) for name in FIGURES],
    ]
    rows = [[r.get(c.name) for c in cols] for r in donation_rows(out)]
    return Report(donation_report_name(out), [Section("Donations", cols, rows)])


_SHORT = {
    "opening": "Opening",
    "received": "Received",
    "transferred_in": "Trf in",
    "transferred_out": "Trf out",
    "dispensed": "Dispensed",
    "returned": "Returned",
    "written_off": "Written off",
    "count_difference": "Count",
    "other": "Other",
    "on_hand": "On hand",
}


def donation_document(
    out: Mapping[str, Any],
    exponent: int,
    *,
    fund_name: str,
    made_at: datetime,
    seal: str | None,
) -> Document:
    """The donor report as a PDF: a table of units and one of values, a row per lot and
    place, the lot's totals in bold; every figure as the JSON answer has it."""
    columns = [Column("Medicine", width=1.3), Column("Lot", width=1.2), Column("Place", width=1.1)]
    columns += [Column(_SHORT[n], "right", 1.0) for n in FIGURES]
    sections: list[Any] = []
    for lot in out["lots"]:
        for what in ("units", "value"):

            def cell(figure: Mapping[str, Any], what: str = what) -> str:
                v = figure[what]
                return f"{v:,}" if what == "units" else shown_amount(v, exponent)

            rows = [
                [lot["medicine"], lot["lot"], p["location"], *[cell(p[n]) for n in FIGURES]]
                for p in lot["places"]
            ]
            sections.append(
                TableSection(
                    heading=f"{lot['medicine']} lot {lot['lot']} (expires {lot['expiry']}), "
                    f"donor {lot['donor']}: {'units' if what == 'units' else 'value, ' + out['currency']}",
                    columns=columns,
                    rows=rows,
                    totals=["Total", "", "", *[cell(lot["totals"][n]) for n in FIGURES]],
                )
            )
    if not sections:
        sections.append(KeyValueSection("Donated lots", [("Lots", "none")]))
    start = out["from_"].isoformat() if out["from_"] else "the start"
    end = out["to"].isoformat() if out["to"] else "now"
    return Document(
        fund_name=fund_name,
        title=f"Donated medicines: {out['donor'] or 'all donors'}",
        period=f"{start} to {end}",
        made_at=made_at,
        seal=seal,
        subtitle=[
            "On hand = opening + received + transferred in - transferred out - dispensed "
            "+ returned - written off + count difference + other, per place, in units and value"
        ],
        sections=sections,
        landscape=True,
    )


# --------------------------------------------------------------------------- fund health


def purchase_unit_costs(session: Session, on: date) -> dict[str, tuple[int, int, date]]:
    """Per medicine, (units, value, date) of its latest purchased receipt on or before ``on``
    (the receipt entry with the latest service date, then the highest id)."""
    fund = functional_currency(session)
    rows = session.execute(
        select(
            Entry.id, Entry.service_date, Lot.commodity, Posting.commodity, func.sum(Posting.amount)
        )
        .join(Entry, Entry.id == Posting.entry_id)
        .join(Lot, Lot.id == Posting.lot_id)
        .where(
            Entry.source.like("stock-receipt:%"),
            Entry.service_date <= on,
            Lot.funding == PURCHASED,
            Posting.account_code.in_(_inventory_accounts(session)),
            Posting.amount > 0,
            (Posting.commodity == Lot.commodity) | (Posting.commodity == fund),
        )
        .group_by(Entry.id, Entry.service_date, Lot.commodity, Posting.commodity)
    ).all()
    per: dict[tuple[date, int, str], list[int]] = defaultdict(lambda: [0, 0])
    for entry_id, when, medicine, commodity, total in rows:
        per[(when, int(entry_id), medicine)][0 if commodity == medicine else 1] += int(total)
    latest: dict[str, tuple[int, int, date]] = {}
    for when, _eid, medicine in sorted(per):
        units, value = per[(when, _eid, medicine)]
        if units > 0:
            latest[medicine] = (units, value, when)
    return latest


def donated_health(
    session: Session,
    start: date,
    end: date,
    revenue: int,
    total_cost: int,
    *,
    into: str | None = None,
    rate: Rate | None = None,
) -> dict[str, Any]:
    """The donated side of fund health (module doc), amounts formatted. A converted fund
    health (``?in=``) passes ``into`` and the rate: the donated amounts (in the fund
    currency) are converted at it, ``revenue`` and ``total_cost`` come converted."""
    fund = functional_currency(session)
    if into is None or rate is None:
        exp = exponents(session)[fund]

        def conv(amount: int) -> int:
            return amount

    else:
        exp = chart.exponent(into)
        into_, rate_ = into, rate

        def conv(amount: int) -> int:
            return convert(amount, fund, into_, rate_)

    lots, figures = donation_figures(session, None, start, end)
    medicine_of = {lot.id: lot.commodity for lot in lots}
    units_dispensed: dict[str, int] = defaultdict(int)
    donated_cost = 0
    for (lot_id, _place), f in figures.items():
        units_dispensed[medicine_of[lot_id]] += f.units["dispensed"] - f.units["returned"]
        donated_cost += (
            f.value["dispensed"]
            - f.value["returned"]
            + f.value["written_off"]
            - f.value["count_difference"]
        )
    costs = purchase_unit_costs(session, end)
    gap_rows = []
    missing = []
    gap = 0
    for medicine in sorted(units_dispensed):
        units = units_dispensed[medicine]
        if units == 0:
            continue
        if medicine not in costs:
            missing.append({"medicine": medicine, "units": units})
            continue
        q, v, when = costs[medicine]
        line_gap = conv(round_half_up(Fraction(units * v, q)))
        gap += line_gap
        gap_rows.append(
            {
                "medicine": medicine,
                "units": units,
                "unit_cost": format_unit_price(
                    Fraction(round_half_up(Fraction(conv(v), q) * 10**6), 10**6), exp
                ),
                "purchase_on": when.isoformat(),
                "gap": format_amount(line_gap, exp),
            }
        )
    donated_cost = conv(donated_cost)
    paid_cost = total_cost - donated_cost
    from_ratio = None
    if paid_cost != 0:  # 4 decimals, half up, as the other ratios of fund health
        scaled = round_half_up(Fraction(revenue, paid_cost) * 10**4)
        whole, frac = divmod(abs(scaled), 10**4)
        from_ratio = f"{'-' if scaled < 0 else ''}{whole}.{frac:04d}"
    return {
        "donated_cost": format_amount(donated_cost, exp),
        "cost_excluding_donated": format_amount(paid_cost, exp),
        "cost_recovery_excluding_donated": from_ratio,
        "replacement_gap": format_amount(gap, exp),
        "replacement_gap_lines": gap_rows,
        "no_purchase_price": missing,
    }


__all__ = [
    "DONATED",
    "FIGURES",
    "donated_health",
    "donation_document",
    "donation_report",
    "donation_table",
]
