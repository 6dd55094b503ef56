"""Reports in one currency (``?in=KHR|USD``, DESIGN.md "Two currencies").

Every account's balance in each currency is converted at the as-of date's rate (the latest
recorded on or before it), once per account and currency, ``round_half_up``; the account's
converted balance is the sum. ``9100`` Currency exchange is then not converted but shown as
**exchange differences**: minus the sum of all the other converted balances, so the
converted trial balance and balance sheet balance to the unit by construction. Income and
expenses are converted at the same closing rate (a documented simplification).

The pure part (:func:`convert_balances`) works on ``(account, commodity, amount)`` triples;
the report functions read the books and give the same shapes as their unconverted twins
(``ledger.queries.trial_balance`` and ``reports.fund``), with ``in``, ``rate`` and
``rate_date`` added. Medicine units are not money and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import chart, clock
from ledger.fx import Rate, convert
from ledger.fx_rates import RateInForce, kept_currency, rate_for
from ledger.money import format_amount
from ledger.queries import trial_balance
from ledger.tables import Account, Posting
from reports.aging import BUCKETS
from reports.donations import donated_health
from reports.fund import (
    EXCHANGE_DIFFERENCES,
    AgedRow,
    FundFigures,
    aged_item,
    aged_rows,
    figures_text,
    fund_health,
    fund_ratios,
    months_in_range,
)

# --------------------------------------------------------------------------- pure


@dataclass(frozen=True)
class Converted:
    """Converted balances per account (debit positive, 9100 excluded) and the balancing
    9100 line (debit positive), so ``sum(balances) + exchange == 0``."""

    balances: dict[str, int]
    exchange: int

    @property
    def exchange_differences(self) -> int:
        """9100 as a credit-positive figure: a gain of the fund is positive."""
        return -self.exchange


def convert_balances(rows: Iterable[tuple[str, str, int]], into: str, rate: Rate) -> Converted:
    """Convert ``(account, commodity, amount)`` money balances into ``into``, each account
    and currency once; 9100 becomes the balancing line."""
    out: dict[str, int] = {}
    for account, commodity, amount in rows:
        if commodity not in chart.CURRENCY_EXPONENTS or account == chart.CURRENCY_EXCHANGE:
            continue
        out[account] = out.get(account, 0) + convert(amount, commodity, into, rate)
    return Converted({a: v for a, v in sorted(out.items())}, -sum(out.values()))


# --------------------------------------------------------------------------- reads


def rate_as_of(session: Session, as_of: date | None) -> tuple[date, RateInForce]:
    """The as-of date (today when open) and its rate; none recorded is a 422 naming ``in``."""
    day = as_of or clock.today()
    return day, rate_for(session, day, None, field="in")


def _accounts(session: Session) -> dict[str, Account]:
    return {a.code: a for a in session.scalars(select(Account))}


def _head(into: str, rate: RateInForce) -> dict[str, Any]:
    return {"in_": into, "rate": rate.rate.text, "rate_date": rate.rate_date}


def trial_balance_in(session: Session, as_of: date | None, into_text: str) -> dict[str, Any]:
    """The trial balance converted into one currency: one row per account, 9100 the
    balancing row named "Exchange differences"; debits equal credits exactly."""
    into = kept_currency(into_text, "in")
    day, rate = rate_as_of(session, as_of)
    rows = trial_balance(session, day)
    conv = convert_balances(((r.account, r.commodity, r.balance) for r in rows), into, rate.rate)
    accounts = _accounts(session)
    exp = chart.exponent(into)
    fmt = partial(format_amount, exponent=exp)
    lines = [(a, accounts[a].name, accounts[a].type, v) for a, v in conv.balances.items() if v]
    if conv.exchange:
        lines.append(
            (chart.CURRENCY_EXCHANGE, EXCHANGE_DIFFERENCES, "memo", conv.exchange),
        )
    lines.sort()
    debit = sum(v for *_x, v in lines if v > 0)
    credit = -sum(v for *_x, v in lines if v < 0)
    return {
        "as_of": as_of,
        "commodity": None,
        **_head(into, rate),
        "rows": [
            {
                "account": a,
                "name": n,
                "type": t,
                "commodity": into,
                "debit": fmt(v if v > 0 else 0),
                "credit": fmt(-v if v < 0 else 0),
            }
            for a, n, t, v in lines
        ],
        "totals": [{"commodity": into, "debit": fmt(debit), "credit": fmt(credit)}],
        "balanced": debit == credit,
        "total_debit": fmt(debit),
        "total_credit": fmt(credit),
        "exchange_differences": fmt(conv.exchange_differences),
    }


def balance_sheet_in(session: Session, as_of: date | None, into_text: str) -> dict[str, Any]:
    """The balance sheet in one currency: assets = liabilities + equity (with the current
    surplus) + exchange differences, to the unit."""
    into = kept_currency(into_text, "in")
    day, rate = rate_as_of(session, as_of)
    rows = trial_balance(session, day)
    conv = convert_balances(((r.account, r.commodity, r.balance) for r in rows), into, rate.rate)
    accounts = _accounts(session)
    fmt = partial(format_amount, exponent=chart.exponent(into))
    sec: dict[str, list[tuple[str, str, int]]] = {"asset": [], "liability": [], "equity": []}
    income = expense = 0
    for code, v in conv.balances.items():
        a = accounts[code]
        if a.type == "asset" and v:
            sec["asset"].append((code, a.name, v))
        elif a.type in ("liability", "equity") and v:
            sec[a.type].append((code, a.name, -v))
        elif a.type == "income":
            income += -v
        elif a.type == "expense":
            expense += v
    assets = sum(v for *_x, v in sec["asset"])
    liabilities = sum(v for *_x, v in sec["liability"])
    surplus = income - expense
    equity = sum(v for *_x, v in sec["equity"]) + surplus
    exchange = conv.exchange_differences
    balanced = assets == liabilities + equity + exchange
    assert balanced, "a converted balance sheet balances by construction"

    def lines(key: str) -> list[dict[str, str]]:
        return [{"account": a, "name": n, "amount": fmt(v)} for a, n, v in sec[key]]

    return {
        "as_of": as_of,
        **_head(into, rate),
        "currencies": [
            {
                "currency": into,
                "assets": lines("asset"),
                "liabilities": lines("liability"),
                "equity": lines("equity"),
                "current_surplus": fmt(surplus),
                "exchange_differences": fmt(exchange),
                "total_assets": fmt(assets),
                "total_liabilities": fmt(liabilities),
                "total_equity": fmt(equity),
                "balanced": balanced,
            }
        ],
    }


def aged_balances_in(session: Session, as_of: date, into_text: str) -> dict[str, Any]:
    """Aged balances in one currency, at the as-of date's rate: one row per account, each
    bucket and the total of each currency converted once (``round_half_up``) and summed.
    An account's total is then exactly its converted balance in the balance sheet of the
    same date; its buckets, each rounded on its own, may differ from that total by a
    minor unit per currency and bucket (the buckets are not forced to add up)."""
    into = kept_currency(into_text, "in")
    day, rate = rate_as_of(session, as_of)
    per: dict[str, tuple[AgedRow, dict[str, int]]] = {}
    for row in aged_rows(session, day):
        _first, sums = per.setdefault(row.account.code, (row, dict.fromkeys(row.amounts, 0)))
        for key, amount in row.amounts.items():
            sums[key] += convert(amount, row.currency, into, rate.rate)
    exp = chart.exponent(into)
    items = [
        aged_item(AgedRow(row.account, into, sums), exp)
        for row, sums in per.values()
        if any(sums.values())
    ]
    return {"as_of": day, "buckets": list(BUCKETS), **_head(into, rate), "items": items}


def _movements(session: Session, start: date, end: date) -> list[tuple[str, str, int]]:
    after = {(r.account, r.commodity): r.balance for r in trial_balance(session, end)}
    before = (
        {
            (r.account, r.commodity): r.balance
            for r in trial_balance(session, start - timedelta(days=1))
        }
        if start > date.min
        else {}
    )
    return [
        (a, c, after.get((a, c), 0) - before.get((a, c), 0))
        for a, c in sorted(set(after) | set(before))
        if after.get((a, c), 0) != before.get((a, c), 0)
    ]


def income_statement_in(session: Session, start: date, end: date, into_text: str) -> dict[str, Any]:
    """Income and expenses of a range in one currency, at the rate of its last day."""
    into = kept_currency(into_text, "in")
    _day, rate = rate_as_of(session, end)
    accounts = _accounts(session)
    moves = [
        (a, c, v)
        for a, c, v in _movements(session, start, end)
        if accounts[a].type in ("income", "expense")
    ]
    conv = convert_balances(moves, into, rate.rate)
    fmt = partial(format_amount, exponent=chart.exponent(into))
    income = [
        (a, accounts[a].name, -v)
        for a, v in conv.balances.items()
        if accounts[a].type == "income" and v
    ]
    expenses = [
        (a, accounts[a].name, v)
        for a, v in conv.balances.items()
        if accounts[a].type == "expense" and v
    ]
    ti, te = sum(v for *_x, v in income), sum(v for *_x, v in expenses)
    return {
        "from_": start,
        "to": end,
        **_head(into, rate),
        "currencies": [
            {
                "currency": into,
                "income": [{"account": a, "name": n, "amount": fmt(v)} for a, n, v in income],
                "expenses": [{"account": a, "name": n, "amount": fmt(v)} for a, n, v in expenses],
                "total_income": fmt(ti),
                "total_expenses": fmt(te),
                "surplus": fmt(ti - te),
            }
        ],
    }


def _capital_contributed(session: Session, end: date) -> list[tuple[str, str, int]]:
    rows = session.execute(
        select(Posting.commodity, func.coalesce(func.sum(Posting.amount), 0))
        .where(
            Posting.account_code == chart.FUND_CAPITAL,
            Posting.amount < 0,
            Posting.accounting_date <= end,
        )
        .group_by(Posting.commodity)
    ).all()
    return [(chart.FUND_CAPITAL, str(c), -int(v)) for c, v in rows]


def fund_figures_in(
    session: Session, start: date, end: date, into: str, rate: Rate
) -> tuple[FundFigures, int]:
    """The fund's figures in one currency (every currency converted at ``rate``) and the
    exchange differences at ``end`` (credit positive)."""
    accounts = _accounts(session)
    moves = convert_balances(_movements(session, start, end), into, rate).balances
    at_end = convert_balances(
        ((r.account, r.commodity, r.balance) for r in trial_balance(session, end)), into, rate
    )
    m = lambda code: moves.get(code, 0)  # noqa: E731
    equity_now = sum(
        v for a, v in at_end.balances.items() if accounts[a].type in ("asset", "liability")
    )
    contributed = convert_balances(_capital_contributed(session, end), into, rate).balances
    inventory = sum(v for a, v in at_end.balances.items() if chart.header_of(a) == chart.INVENTORY)
    figures = FundFigures(
        revenue=-m(chart.MEDICINE_REVENUE),
        cost_of_medicines=m(chart.COST_OF_MEDICINES),
        fees=m(chart.DISPENSING_FEES),
        expiry_losses=m(chart.EXPIRY_LOSSES),
        fund_subsidies=m(chart.FUND_SUBSIDIES),
        count_differences=m(chart.COUNT_DIFFERENCES),
        equity_now=equity_now,
        capital_contributed=contributed.get(chart.FUND_CAPITAL, 0),
        inventory_value=inventory,
        months=months_in_range(start, end),
    )
    return figures, at_end.exchange_differences


def fund_health_in(session: Session, start: date, end: date, into_text: str) -> dict[str, Any]:
    """Fund health in one currency: figures and ratios from every currency converted at the
    rate of the range's last day; the price list comparison stays in its own currency."""
    into = kept_currency(into_text, "in")
    _day, rate = rate_as_of(session, end)
    out = fund_health(session, start, end)
    f, exchange = fund_figures_in(session, start, end, into, rate.rate)
    exponent = chart.exponent(into)
    out.update(
        currency=into,
        **_head(into, rate),
        ratios=fund_ratios(f),
        figures={
            **figures_text(f, exponent),
            "exchange_differences": format_amount(exchange, exponent),
        },
    )
    if "donated" in out:  # DESIGN.md "Funders", converted as the rest
        out["donated"] = donated_health(
            session, start, end, f.revenue, f.total_cost, into=into, rate=rate.rate
        )
    return out


def exponents_with(into: str | None, base: Mapping[str, int]) -> Mapping[str, int]:
    """Exponents for a document of a converted report (the target currency is known)."""
    return base if into is None else {**base, into: chart.exponent(into)}
