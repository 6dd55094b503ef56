"""The pharmacy scorecard of a month (DESIGN.md "Care").

Per pharmacy, for the calendar month ``period``:

* ``dispensings``: dispensings with a service date in the month; ``patients``: distinct
  member codes among them (walk-ins not counted).
* ``mean_pdc``: the mean of the PDC (``care.pdc``, window = the month) of every patient and
  therapeutic class among the patients dispensed at the pharmacy that month (their supply
  from every pharmacy counts); rows with nothing to measure are left out; 4 decimals, round
  half up; None when no row.
* ``stock_out_days``: for each medicine the pharmacy stocked that month (its inventory
  account ``1400-{pharmacy}`` held units of it at the start of the month or on some day of
  it), the days whose closing balance was zero, summed over medicines (medicine-days).
  Days by accounting date (the books' day).
* ``expiry_losses``: the value (fund currency) written off as ``expired`` at the pharmacy
  in the month (the ``5200`` leg of those write-offs).
* ``remitted_on`` / ``days_to_remit``: the pharmacy's first payment in (``POST /payments``
  direction ``in`` from the pharmacy) dated after the month's last day, and the days from
  the month's last day to it; None while none has come.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from care import pdc
from care.service import read_lines
from care.tables import dispensings
from invoices.tables import Payment
from ledger import chart
from ledger.model import month_bounds
from ledger.money import format_amount
from ledger.queries import account_balances
from ledger.settings import functional_currency
from ledger.tables import Commodity, Posting
from reports.tabular import Col, Report, Section
from stock.tables import Pharmacy, StockMovement

SCORECARD_COLS = [
    Col("pharmacy"),
    Col("dispensings", "quantity"),
    Col("patients", "quantity"),
    Col("mean_pdc"),
    Col("stock_out_days", "quantity"),
    Col("expiry_losses", "money"),
    Col("currency"),
    Col("remitted_on", "date"),
    Col("days_to_remit", "quantity"),
]


def _counts(session: Session, start: date, end: date) -> dict[str, tuple[int, int]]:
    q = (
        select(
            dispensings.c.pharmacy,
            func.count(dispensings.c.id),
            func.count(func.distinct(dispensings.c.patient)),
        )
        .where(dispensings.c.service_date >= start, dispensings.c.service_date <= end)
        .group_by(dispensings.c.pharmacy)
    )
    return {p: (int(n), int(m)) for p, n, m in session.execute(q)}


def _mean_pdcs(session: Session, start: date, end: date) -> dict[str, str | None]:
    """Mean PDC of each pharmacy's patients of the month (one read of their lines)."""
    q = (
        select(dispensings.c.pharmacy, dispensings.c.patient)
        .where(
            dispensings.c.service_date >= start,
            dispensings.c.service_date <= end,
            dispensings.c.patient.is_not(None),
        )
        .distinct()
    )
    patients_of: dict[str, set[str]] = {}
    for pharmacy, patient in session.execute(q):
        patients_of.setdefault(pharmacy, set()).add(patient)
    everyone = sorted({p for ps in patients_of.values() for p in ps})
    if not everyone:
        return {}
    supplies: dict[tuple[str, str], list[pdc.Supply]] = {}
    for f in read_lines(session, everyone, start - timedelta(days=365), end):
        if f.days > 0:
            supplies.setdefault((f.patient, f.therapeutic_class), []).append(f.supply())
    ratio = {key: pdc.adherence(s, start, end).pdc for key, s in supplies.items()}
    by_patient: dict[str, list[str | None]] = {}
    for (patient, _klass), r in ratio.items():
        by_patient.setdefault(patient, []).append(r)
    return {
        pharmacy: pdc.mean_ratio(r for p in sorted(ps) for r in by_patient.get(p, []))
        for pharmacy, ps in patients_of.items()
    }


def _stock_out_days(
    session: Session, pharmacies: Sequence[str], start: date, end: date
) -> dict[str, int]:
    """Medicine-days at zero per pharmacy (module doc): the opening balances in one
    statement, the month's postings per day in another."""
    if not pharmacies:
        return {}
    accounts = {chart.inventory(p): p for p in pharmacies}
    medicines = set(session.scalars(select(Commodity.code).where(Commodity.kind == "medicine")))
    before = start - timedelta(days=1)
    opening = {
        (a, c): v
        for (_d, a, c), v in account_balances(session, sorted(accounts), [before]).items()
        if c in medicines
    }
    moves: dict[tuple[str, str], dict[date, int]] = {}
    q = (
        select(
            Posting.account_code,
            Posting.commodity,
            Posting.accounting_date,
            func.sum(Posting.amount),
        )
        .where(
            Posting.account_code.in_(sorted(accounts)),
            Posting.accounting_date >= start,
            Posting.accounting_date <= end,
        )
        .group_by(Posting.account_code, Posting.commodity, Posting.accounting_date)
    )
    for a, c, on, v in session.execute(q):
        if c in medicines:
            moves.setdefault((a, c), {})[on] = int(v)
    out = dict.fromkeys(pharmacies, 0)
    days = (end - start).days + 1
    for key in set(opening) | set(moves):
        balance = opening.get(key, 0)
        daily = moves.get(key, {})
        stocked = balance > 0
        zero = 0
        for i in range(days):
            balance += daily.get(start + timedelta(days=i), 0)
            if balance > 0:
                stocked = True
            else:
                zero += 1
        if stocked:
            out[accounts[key[0]]] += zero
    return out


def _expiry_losses(session: Session, start: date, end: date) -> dict[str, int]:
    fund = functional_currency(session)
    q = (
        select(StockMovement.location, func.sum(Posting.amount))
        .join(Posting, Posting.entry_id == StockMovement.entry_id)
        .where(
            StockMovement.kind == "write_off",
            StockMovement.reason == "expired",
            StockMovement.event_on >= start,
            StockMovement.event_on <= end,
            Posting.account_code == chart.EXPIRY_LOSSES,
            Posting.commodity == fund,
        )
        .group_by(StockMovement.location)
    )
    return {loc: int(v) for loc, v in session.execute(q)}


def _remittances(session: Session, end: date) -> dict[str, date]:
    q = (
        select(Payment.counterparty_code, func.min(Payment.date))
        .where(
            Payment.direction == "in",
            Payment.counterparty_kind == "pharmacy",
            Payment.date > end,
        )
        .group_by(Payment.counterparty_code)
    )
    return {code: on for code, on in session.execute(q)}


def scorecard(session: Session, period: str, *, only: str | None = None) -> dict[str, Any]:
    """The month's scorecard, one row per pharmacy (only ``only``'s when given)."""
    fund = functional_currency(session)
    start, end = month_bounds(period)
    q = select(Pharmacy.code).order_by(Pharmacy.code)
    if only is not None:
        q = q.where(Pharmacy.code == only)
    pharmacies = list(session.scalars(q))
    counts = _counts(session, start, end)
    means = _mean_pdcs(session, start, end)
    zero_days = _stock_out_days(session, pharmacies, start, end)
    losses = _expiry_losses(session, start, end)
    remitted = _remittances(session, end)
    exp = chart.exponent(fund)
    items = []
    for p in pharmacies:
        n, m = counts.get(p, (0, 0))
        paid = remitted.get(p)
        items.append(
            {
                "pharmacy": p,
                "dispensings": n,
                "patients": m,
                "mean_pdc": means.get(p),
                "stock_out_days": zero_days.get(p, 0),
                "expiry_losses": format_amount(losses.get(p, 0), exp),
                "currency": fund,
                "remitted_on": paid,
                "days_to_remit": (paid - end).days if paid else None,
            }
        )
    return {"period": period, "items": items}


def _rows(items: Sequence[dict[str, Any]]) -> Iterator[list[Any]]:
    for it in items:
        yield [it[c.name] for c in SCORECARD_COLS]


def scorecard_report(out: dict[str, Any]) -> Report:
    return Report(
        f"Pharmacy scorecard {out['period']}",
        [Section("Pharmacy scorecard", SCORECARD_COLS, _rows(out["items"]))],
    )
