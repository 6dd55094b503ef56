"""Financial reports: aged balances, balance sheet, income statement, fund health.

Every figure comes from the journal through :mod:`ledger.queries` (kept balances less what
was booked later), money commodities only. Pure arithmetic (ratios, grouping, CSV) is in
plain functions here, tested without a database.

Decisions:

- Aged balances age each ``1200-*`` (pharmacy) and ``1300-*`` (payer) account per currency:
  its debits by accounting date, its credits applied first-in first-out
  (:func:`invoices.aging.age_account`). An overpaid account shows a negative total.
- Balance sheet: ``current_surplus`` = income − expenses of all time up to ``as_of`` (the
  books do not yet carry a year-end closing entry to 3100); assets = liabilities + equity
  is asserted per currency.
- Fund health is computed in the fund currency (KHR). "Months in the range" counts calendar
  months from ``from``'s month to ``to``'s month inclusive. Ratios are decimal strings with 4
  decimals, rounded half up from exact fractions, or ``null`` when the denominator is zero.
- Price vs replacement cost: for each price list in the fund currency, the version in force
  on ``to``, each medicine's unit price against its replacement cost, the unit cost of its
  latest stock receipt on or before ``to`` (value ÷ units received into ``1400-*`` by the
  entries whose source is ``stock-receipt:…``; a receipt reversed later still counts).
  ``below_cost`` flags a price under that cost; a medicine never received has no cost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contracts.pricelists import version_in_force
from contracts.tables import PriceList, PriceListItem
from ledger import chart
from ledger.money import (
    AmountError,
    format_amount,
    format_unit_price,
    parse_unit_price,
    round_half_up,
)
from ledger.queries import TrialBalanceRow, balance_of, exponents, trial_balance
from ledger.settings import functional_currency
from ledger.tables import Account, Commodity, Entry, Lot, Posting
from reports.aging import BUCKETS, TOTAL, age_account
from reports.donations import donated_health
from reports.tabular import Col, Report, Section, rows_of

# --------------------------------------------------------------------------- pure helpers

#: the name the currency exchange (9100) goes by in a report (the balancing line of a
#: converted report; the exchange differences of a per-currency balance sheet)
EXCHANGE_DIFFERENCES = "Exchange differences"


def ratio_text(numerator: int, denominator: int, places: int = 4) -> str | None:
    """``numerator / denominator`` as a decimal string, half up; None if dividing by 0."""
    if denominator == 0:
        return None
    scaled = round_half_up(Fraction(numerator, denominator) * 10**places)
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"


def months_in_range(start: date, end: date) -> int:
    """Calendar months from ``start``'s month to ``end``'s month, both included."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


@dataclass(frozen=True)
class FundFigures:
    """Raw figures of fund health, minor units of the fund currency."""

    revenue: int
    cost_of_medicines: int
    fees: int
    expiry_losses: int
    fund_subsidies: int
    count_differences: int
    equity_now: int
    capital_contributed: int
    inventory_value: int
    months: int

    @property
    def total_cost(self) -> int:
        return (
            self.cost_of_medicines
            + self.fees
            + self.expiry_losses
            + self.fund_subsidies
            + self.count_differences
        )


def fund_ratios(f: FundFigures) -> dict[str, str | None]:
    """The fund's health ratios from its raw figures, as 4-decimal strings (exact)."""
    total = f.total_cost
    # months of stock = inventory ÷ (cost of medicines ÷ months) = inventory × months ÷ cost
    return {
        "cost_recovery": ratio_text(f.revenue, total),
        "capital_preservation": ratio_text(f.equity_now, f.capital_contributed),
        "months_of_stock": ratio_text(f.inventory_value * f.months, f.cost_of_medicines),
        "expiry_loss_share": ratio_text(f.expiry_losses, total),
        "count_loss_share": ratio_text(f.count_differences, total),
    }


def figures_text(f: FundFigures, exponent: int) -> dict[str, str]:
    """The fund's raw figures as amounts of ``exponent`` decimals (the report's "figures")."""
    fmt = partial(format_amount, exponent=exponent)
    return {
        "revenue": fmt(f.revenue),
        "cost_of_medicines": fmt(f.cost_of_medicines),
        "fees": fmt(f.fees),
        "expiry_losses": fmt(f.expiry_losses),
        "fund_subsidies": fmt(f.fund_subsidies),
        "count_differences": fmt(f.count_differences),
        "total_cost": fmt(f.total_cost),
        "equity_now": fmt(f.equity_now),
        "capital_contributed": fmt(f.capital_contributed),
        "inventory_value": fmt(f.inventory_value),
        "average_monthly_cost_of_medicines": fmt(
            round_half_up(Fraction(f.cost_of_medicines, f.months))
        ),
    }


def unit_cost_text(value: Fraction, exponent: int, places: int = 6) -> str:
    """An exact unit cost (fraction of minor units) as major units, at most 6 decimals."""
    scale = 10**places
    return format_unit_price(Fraction(round_half_up(value * scale), scale), exponent)


@dataclass(frozen=True)
class PriceCost:
    """A medicine's price on a list against its latest replacement cost (minor units)."""

    price_list: str
    medicine: str
    unit_price: Fraction
    replacement_cost: Fraction | None
    cost_on: date | None

    @property
    def below_cost(self) -> bool | None:
        if self.replacement_cost is None:
            return None
        return self.unit_price < self.replacement_cost

    @property
    def price_to_cost(self) -> str | None:
        cost = self.replacement_cost
        if cost is None or cost == 0:
            return None
        r = self.unit_price / cost
        return ratio_text(r.numerator, r.denominator)


def latest_unit_costs(
    receipts: Iterable[tuple[int, date, str, int, int]],
) -> dict[str, tuple[Fraction, date]]:
    """Per medicine, the unit cost of its latest receipt.

    ``receipts`` are ``(entry_id, date, medicine, units, value)`` per receipt entry and
    medicine; the latest is the greatest ``(date, entry_id)``; a receipt of zero units is
    ignored.
    """
    best: dict[str, tuple[tuple[date, int], Fraction]] = {}
    for entry_id, when, medicine, units, value in receipts:
        if units <= 0:
            continue
        key = (when, entry_id)
        if medicine not in best or key > best[medicine][0]:
            best[medicine] = (key, Fraction(value, units))
    return {m: (cost, key[0]) for m, (key, cost) in best.items()}


def balance_sheet_sections(
    rows: Iterable[TrialBalanceRow], money: set[str]
) -> dict[str, dict[str, Any]]:
    """Per currency: asset, liability, equity lines (natural sign) and the current surplus."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r.commodity not in money or (r.type == "memo" and r.account != chart.CURRENCY_EXCHANGE):
            continue
        cur = out.setdefault(
            r.commodity,
            {"asset": [], "liability": [], "equity": [], "income": 0, "expense": 0},
        )
        if r.account == chart.CURRENCY_EXCHANGE:  # two currencies: the trading account
            cur["exchange"] = cur.get("exchange", 0) - r.balance
        elif r.type == "asset":
            cur["asset"].append((r.account, r.name, r.balance))
        elif r.type in ("liability", "equity"):
            cur[r.type].append((r.account, r.name, -r.balance))
        elif r.type == "income":
            cur["income"] += -r.balance
        elif r.type == "expense":
            cur["expense"] += r.balance
    return out


# --------------------------------------------------------------------------- database reads


def _money(session: Session) -> dict[str, int]:
    return {
        c: e
        for c, e in session.execute(
            select(Commodity.code, Commodity.exponent).where(Commodity.kind == "currency")
        )
    }


@dataclass(frozen=True)
class AgedRow:
    """One receivable account's aged balance in one currency (minor units)."""

    account: Account
    currency: str
    #: the buckets and "total" (``reports.aging``)
    amounts: dict[str, int]


def aged_rows(session: Session, as_of: date) -> list[AgedRow]:
    """Every receivable account's aged balance per currency as of ``as_of`` (rows that are
    all zero left out), accounts and currencies in order."""
    money = _money(session)
    accounts = {
        a.code: a
        for a in session.scalars(
            select(Account).where(Account.parent.in_(chart.RECEIVABLE_HEADERS), ~Account.is_header)
        )
    }
    debit_rows = session.execute(
        select(
            Posting.account_code,
            Posting.commodity,
            Posting.accounting_date,
            func.sum(Posting.amount),
        )
        .where(
            Posting.account_code.in_(accounts),
            Posting.commodity.in_(money),
            Posting.accounting_date <= as_of,
            Posting.amount > 0,
        )
        .group_by(Posting.account_code, Posting.commodity, Posting.accounting_date)
    ).all()
    credit_rows = session.execute(
        select(Posting.account_code, Posting.commodity, func.sum(Posting.amount))
        .where(
            Posting.account_code.in_(accounts),
            Posting.commodity.in_(money),
            Posting.accounting_date <= as_of,
            Posting.amount < 0,
        )
        .group_by(Posting.account_code, Posting.commodity)
    ).all()
    debits: dict[tuple[str, str], list[tuple[date, int]]] = defaultdict(list)
    for acc, com, d, s in debit_rows:
        debits[(acc, com)].append((d, int(s)))
    credits = {(acc, com): -int(s) for acc, com, s in credit_rows}
    out = []
    for acc, com in sorted(set(debits) | set(credits)):
        row = age_account(acc, debits.get((acc, com), []), credits.get((acc, com), 0), as_of)
        if all(v == 0 for v in row.values()):
            continue
        out.append(AgedRow(accounts[acc], com, dict(row)))
    return out


def aged_item(row: AgedRow, exp: int) -> dict[str, Any]:
    """The JSON of one aged row, amounts formatted with ``exp``."""
    a = row.account
    return {
        "account": a.code,
        "counterparty_kind": "pharmacy" if a.parent == chart.DUE_FROM_PHARMACY else "scheme",
        "counterparty": a.code.split("-", 1)[1],
        "name": a.name,
        "currency": row.currency,
        **{b: format_amount(row.amounts[b], exp) for b in BUCKETS},
        "total": format_amount(row.amounts[TOTAL], exp),
    }


def aged_balances(session: Session, as_of: date) -> dict[str, Any]:
    money = _money(session)
    items = [aged_item(r, money[r.currency]) for r in aged_rows(session, as_of)]
    return {"as_of": as_of, "buckets": list(BUCKETS), "items": items}


def balance_sheet(session: Session, as_of: date | None) -> dict[str, Any]:
    money = _money(session)
    sections = balance_sheet_sections(trial_balance(session, as_of), set(money))
    out = []
    for cur, sec in sorted(sections.items()):
        exp = money[cur]
        fmt = partial(format_amount, exponent=exp)
        assets = sum(v for *_x, v in sec["asset"])
        liabilities = sum(v for *_x, v in sec["liability"])
        surplus = sec["income"] - sec["expense"]
        equity = sum(v for *_x, v in sec["equity"]) + surplus
        exchange = sec.get("exchange", 0)
        assert assets == liabilities + equity + exchange, f"balance sheet of {cur} does not balance"
        out.append(
            {
                **({"exchange_differences": fmt(exchange)} if "exchange" in sec else {}),
                "currency": cur,
                "assets": [{"account": a, "name": n, "amount": fmt(v)} for a, n, v in sec["asset"]],
                "liabilities": [
                    {"account": a, "name": n, "amount": fmt(v)} for a, n, v in sec["liability"]
                ],
                "equity": [
                    {"account": a, "name": n, "amount": fmt(v)} for a, n, v in sec["equity"]
                ],
                "current_surplus": fmt(surplus),
                "total_assets": fmt(assets),
                "total_liabilities": fmt(liabilities),
                "total_equity": fmt(equity),
                "balanced": True,
            }
        )
    return {"as_of": as_of, "currencies": out}


def _movement_by_balances(session: Session, start: date, end: date) -> dict[tuple[str, str], int]:
    """The same figures from kept balances: balance at ``end`` less balance before ``start``."""
    after = {(r.account, r.commodity): r.balance for r in trial_balance(session, end)}
    before = (
        {  # nothing is booked before the first day a date can name (0001-01-01)
            (r.account, r.commodity): r.balance
            for r in trial_balance(session, start - timedelta(days=1))
        }
        if start > date.min
        else {}
    )
    keys = set(after) | set(before)
    return {
        k: after.get(k, 0) - before.get(k, 0) for k in keys if after.get(k, 0) != before.get(k, 0)
    }


def income_statement(session: Session, start: date, end: date) -> dict[str, Any]:
    money = _money(session)
    accounts = {
        a.code: a
        for a in session.scalars(select(Account).where(Account.type.in_(("income", "expense"))))
    }
    moves = _movement_by_balances(session, start, end)
    per: dict[str, dict[str, Any]] = {}
    for (acc, com), v in sorted(moves.items()):
        if com not in money or acc not in accounts:
            continue
        cur = per.setdefault(com, {"income": [], "expenses": [], "ti": 0, "te": 0})
        a = accounts[acc]
        if a.type == "income":
            cur["income"].append((acc, a.name, -v))
            cur["ti"] += -v
        else:
            cur["expenses"].append((acc, a.name, v))
            cur["te"] += v
    out = []
    for com, sec in sorted(per.items()):
        exp = money[com]
        fmt = partial(format_amount, exponent=exp)
        out.append(
            {
                "currency": com,
                "income": [
                    {"account": a, "name": n, "amount": fmt(v)} for a, n, v in sec["income"]
                ],
                "expenses": [
                    {"account": a, "name": n, "amount": fmt(v)} for a, n, v in sec["expenses"]
                ],
                "total_income": fmt(sec["ti"]),
                "total_expenses": fmt(sec["te"]),
                "surplus": fmt(sec["ti"] - sec["te"]),
            }
        )
    return {"from_": start, "to": end, "currencies": out}


def fund_figures(session: Session, start: date, end: date) -> FundFigures:
    fund = functional_currency(session)
    cur = fund
    moves = _movement_by_balances(session, start, end)
    m = lambda acc: moves.get((acc, cur), 0)  # noqa: E731
    equity_accounts = [
        code
        for code in session.scalars(
            select(Account.code).where(Account.type.in_(("equity", "income", "expense")))
        )
    ]
    equity_now = -balance_of(session, equity_accounts, cur, end)
    contributed = -int(
        session.scalar(
            select(func.coalesce(func.sum(Posting.amount), 0)).where(
                Posting.account_code == chart.FUND_CAPITAL,
                Posting.commodity == cur,
                Posting.amount < 0,
                Posting.accounting_date <= end,
            )
        )
        or 0
    )
    inventory = [
        code
        for code in session.scalars(
            select(Account.code).where(Account.parent == chart.INVENTORY, ~Account.is_header)
        )
    ]
    return FundFigures(
        revenue=-m(chart.MEDICINE_REVENUE),
        cost_of_medicines=m(chart.COST_OF_MEDICINES),
        fees=m(chart.DISPENSING_FEES),
        expiry_losses=m(chart.EXPIRY_LOSSES),
        fund_subsidies=m(chart.FUND_SUBSIDIES),
        count_differences=m(chart.COUNT_DIFFERENCES),
        equity_now=equity_now,
        capital_contributed=contributed,
        inventory_value=balance_of(session, inventory, cur, end),
        months=months_in_range(start, end),
    )


def replacement_costs(session: Session, on: date) -> dict[str, tuple[Fraction, date]]:
    """Unit cost of each medicine's latest stock receipt on or before ``on``."""
    fund = functional_currency(session)
    rows = session.execute(
        select(
            Entry.id,
            Entry.service_date,
            Lot.commodity,
            Posting.commodity,
            func.sum(Posting.amount),
        )
        .join(Entry, Entry.id == Posting.entry_id)
        .join(Lot, Lot.id == Posting.lot_id)
        .where(
            Entry.source.like("stock-receipt:%"),
            Entry.service_date <= on,
            Posting.account_code.like(chart.sub_account(chart.INVENTORY, "%")),
            Posting.amount > 0,
            (Posting.commodity == Lot.commodity) | (Posting.commodity == fund),
        )
        .group_by(Entry.id, Entry.service_date, Lot.commodity, Posting.commodity)
    ).all()
    per: dict[tuple[int, date, str], list[int]] = defaultdict(lambda: [0, 0])
    for entry_id, when, medicine, commodity, total in rows:
        slot = per[(int(entry_id), when, medicine)]
        slot[0 if commodity == medicine else 1] += int(total)
    return latest_unit_costs((e, d, m, u, v) for (e, d, m), (u, v) in per.items())


def price_vs_cost(session: Session, on: date) -> list[PriceCost]:
    """Each fund-currency price list's prices in force on ``on`` against replacement cost."""
    fund = functional_currency(session)
    exp = exponents(session)[fund]
    costs = replacement_costs(session, on)
    out: list[PriceCost] = []
    lists = session.scalars(
        select(PriceList.code).where(PriceList.currency == fund).order_by(PriceList.code)
    )
    for code in list(lists):
        version = version_in_force(session, code, on)
        if version is None:
            continue
        items = session.execute(
            select(PriceListItem.medicine, PriceListItem.unit_price)
            .where(PriceListItem.version_id == version.id)
            .order_by(PriceListItem.medicine)
        ).all()
        for medicine, text in items:
            try:
                price = parse_unit_price(text, exp)
            except AmountError:  # pragma: no cover - contracts stores canonical prices
                continue
            cost = costs.get(medicine)
            out.append(
                PriceCost(
                    code, medicine, price, cost[0] if cost else None, cost[1] if cost else None
                )
            )
    return out


def fund_health(session: Session, start: date, end: date) -> dict[str, Any]:
    fund = functional_currency(session)
    f = fund_figures(session, start, end)
    exp = exponents(session)[fund]
    prices = price_vs_cost(session, end)
    return {
        "from_": start,
        "to": end,
        "currency": fund,
        "months": f.months,
        "ratios": fund_ratios(f),
        "figures": figures_text(f, exp),
        "price_vs_replacement_cost": [
            {
                "price_list": pc.price_list,
                "medicine": pc.medicine,
                "unit_price": unit_cost_text(pc.unit_price, exp),
                "replacement_cost": (
                    unit_cost_text(pc.replacement_cost, exp)
                    if pc.replacement_cost is not None
                    else None
                ),
                "replacement_cost_on": pc.cost_on,
                "price_to_cost": pc.price_to_cost,
                "below_cost": pc.below_cost,
            }
            for pc in prices
        ],
        "sold_below_cost": sorted({pc.medicine for pc in prices if pc.below_cost}),
        # DESIGN.md "Funders": cost recovery without donated stock, the replacement gap
        "donated": donated_health(session, start, end, f.revenue, f.total_cost),
    }


# --------------------------------------------------------------------------- tables (CSV/XLSX)
# Built from the JSON answers above, never recomputed: the CSV, the XLSX and the JSON agree.

AGED_COLS = [
    Col("account"),
    Col("counterparty_kind"),
    Col("counterparty"),
    Col("currency"),
    *[Col(b, "money") for b in BUCKETS],
    Col("total", "money"),
]
STATEMENT_COLS = [
    Col("currency"),
    Col("section"),
    Col("account"),
    Col("name"),
    Col("amount", "money"),
]
PRICE_COLS = [
    Col("price_list"),
    Col("medicine"),
    Col("unit_price"),
    Col("replacement_cost"),
    Col("replacement_cost_on", "date"),
    Col("price_to_cost"),
    Col("below_cost"),
]


def aged_balances_report(out: Mapping[str, Any]) -> Report:
    """One section, a row per account and currency (:func:`aged_balances`)."""
    as_of = out["as_of"]
    return Report(
        f"Aged balances {as_of.isoformat()}",
        [Section("Aged balances", AGED_COLS, rows_of(AGED_COLS, out["items"]))],
    )


def balance_sheet_rows(out: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for c in out["currencies"]:
        cur = c["currency"]
        for section in ("assets", "liabilities", "equity"):
            rows += [{"currency": cur, "section": section, **line} for line in c[section]]
        rows.append(
            {
                "currency": cur,
                "section": "equity",
                "name": "Current surplus",
                "amount": c["current_surplus"],
            }
        )
        if "exchange_differences" in c:
            rows.append(
                {
                    "currency": cur,
                    "section": "equity",
                    "account": chart.CURRENCY_EXCHANGE,
                    "name": EXCHANGE_DIFFERENCES,
                    "amount": c["exchange_differences"],
                }
            )
        rows += [
            {"currency": cur, "section": total, "amount": c[total]}
            for total in ("total_assets", "total_liabilities", "total_equity")
        ]
    return rows


def balance_sheet_report(out: Mapping[str, Any]) -> Report:
    """One section, a row per account, the current surplus and the totals (:func:`balance_sheet`)."""
    when = out["as_of"].isoformat() if out["as_of"] else "now"
    return Report(
        f"Balance sheet {when}",
        [
            Section(
                "Balance sheet", STATEMENT_COLS, rows_of(STATEMENT_COLS, balance_sheet_rows(out))
            )
        ],
    )


def income_rows(out: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for c in out["currencies"]:
        cur = c["currency"]
        for section in ("income", "expenses"):
            rows += [{"currency": cur, "section": section, **line} for line in c[section]]
        rows += [
            {"currency": cur, "section": total, "amount": c[total]}
            for total in ("total_income", "total_expenses", "surplus")
        ]
    return rows


def income_statement_name(out: Mapping[str, Any]) -> str:
    return f"income-statement-{out['from_'].isoformat()}-{out['to'].isoformat()}"


def income_statement_report(out: Mapping[str, Any]) -> Report:
    """One section, a row per account and the totals (:func:`income_statement`)."""
    return Report(
        income_statement_name(out),
        [Section("Income statement", STATEMENT_COLS, rows_of(STATEMENT_COLS, income_rows(out)))],
    )


def fund_health_name(out: Mapping[str, Any]) -> str:
    return f"fund-health-{out['from_'].isoformat()}-{out['to'].isoformat()}"


def fund_health_report(out: Mapping[str, Any]) -> Report:
    """Sections Ratios, Figures and Price vs replacement cost (:func:`fund_health`)."""
    ratio_cols = [Col("name"), Col("value")]
    figure_cols = [Col("name"), Col("amount", "money", currency=out["currency"])]
    return Report(
        fund_health_name(out),
        [
            Section("Ratios", ratio_cols, [[k, v] for k, v in out["ratios"].items()]),
            Section("Figures", figure_cols, [[k, v] for k, v in out["figures"].items()]),
            Section(
                "Price vs replacement cost",
                PRICE_COLS,
                rows_of(PRICE_COLS, out["price_vs_replacement_cost"]),
            ),
            *donated_sections(out),
        ],
    )


DONATED_FIGURES = ("donated_cost", "cost_excluding_donated", "replacement_gap")
GAP_COLS = [
    Col("medicine"),
    Col("units", "quantity"),
    Col("unit_cost"),
    Col("purchase_on", "date"),
    Col("gap", "money"),
]


def donated_sections(out: Mapping[str, Any]) -> list[Section]:
    """Sections Donated stock, Replacement gap and No purchase price (DESIGN.md
    "Funders"), when the answer has them."""
    d = out.get("donated")
    if d is None:
        return []
    figure_cols = [Col("name"), Col("value")]
    figures = [[k, d[k]] for k in DONATED_FIGURES]
    figures.append(["cost_recovery_excluding_donated", d["cost_recovery_excluding_donated"]])
    return [
        Section("Donated stock", figure_cols, figures),
        Section("Replacement gap", GAP_COLS, rows_of(GAP_COLS, d["replacement_gap_lines"])),
        Section(
            "No purchase price",
            [Col("medicine"), Col("units", "quantity")],
            [[m["medicine"], m["units"]] for m in d["no_purchase_price"]],
        ),
    ]
