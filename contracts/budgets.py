"""Subsidy budgets (DESIGN.md "Funders"): a scheme's budget for a month (``YYYY-MM``) or a
year (``YYYY``), in minor units of the fund currency, by service date.

A budget is never edited: each ``POST`` adds a version, and the latest version of a
(scheme, period) is the budget in force from then on. What a budget has used (the
dispensings' subsidies net of returns) is the dispensing package's to say
(``dispensing.budget``); this module keeps the amounts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from contracts.checks import currency_exponent, parse_money
from contracts.errors import invalid
from contracts.tables import SubsidyScheme
from ledger import clock
from ledger.db import Base
from ledger.errors import NotFound
from ledger.settings import functional_currency

BigId = BigInteger().with_variant(Integer(), "sqlite")

#: A month ``YYYY-MM`` or a year ``YYYY`` (2000 to 2099).
PERIOD_RE = re.compile(r"20[0-9]{2}(-(0[1-9]|1[0-2]))?")
PERIOD_RULE = 'a period is a month "YYYY-MM" or a year "YYYY" (2000 to 2099)'


class SubsidyBudget(Base):
    """One version of a scheme's budget for a period (migration 0016)."""

    __tablename__ = "subsidy_budgets"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    scheme: Mapped[str] = mapped_column(String(24), index=True)
    period: Mapped[str] = mapped_column(String(7))
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    __table_args__ = (CheckConstraint("amount > 0", name="ck_budget_amount"),)


_BUDGETS = Base.metadata.tables[SubsidyBudget.__tablename__]
_LATEST = (
    select(_BUDGETS.c.scheme, _BUDGETS.c.period, _BUDGETS.c.amount)
    .where(
        _BUDGETS.c.scheme.in_(bindparam("schemes", expanding=True)),
        _BUDGETS.c.period.in_(bindparam("periods", expanding=True)),
    )
    .order_by(_BUDGETS.c.id)
)


@dataclass(frozen=True)
class NewBudget:
    """Give ``scheme`` a budget of ``amount`` (decimal text, major units of the fund
    currency) for ``period``."""

    scheme: str
    period: str
    amount: str


def periods_of(on: date) -> tuple[str, str]:
    """The month and the year a service date falls in: ``("2026-10", "2026")``."""
    return f"{on.year:04d}-{on.month:02d}", f"{on.year:04d}"


def period_bounds(period: str) -> tuple[date, date]:
    """First and last day of a month ``YYYY-MM`` or a year ``YYYY``."""
    y = int(period[:4])
    if len(period) == 4:
        return date(y, 1, 1), date(y, 12, 31)
    m = int(period[5:7])
    nxt = date(y + (m == 12), 1 if m == 12 else m + 1, 1)
    return date(y, m, 1), date.fromordinal(nxt.toordinal() - 1)


def check_period(period: object, field: str = "period") -> str:
    if not isinstance(period, str) or not PERIOD_RE.fullmatch(period):
        raise invalid(field, PERIOD_RULE)
    return period


def _scheme(session: Session, code: str) -> SubsidyScheme:
    scheme = session.get(SubsidyScheme, code)
    if scheme is None:
        raise NotFound(f"no subsidy scheme {code!r}")
    return scheme


def add_budget(session: Session, cmd: NewBudget, *, by: str) -> SubsidyBudget:
    """A new version of the scheme's budget for the period (422: a period that is neither a
    month nor a year, an amount that is not > 0)."""
    _scheme(session, cmd.scheme)
    period = check_period(cmd.period)
    exp = currency_exponent(session, functional_currency(session))
    amount = parse_money(cmd.amount, "amount", exp, positive=True)
    row = SubsidyBudget(
        scheme=cmd.scheme, period=period, amount=amount, created_at=clock.now(), created_by=by
    )
    session.add(row)
    session.flush()
    return row


def budgets_in_force(
    session: Session, schemes: Sequence[str], periods: Sequence[str]
) -> dict[tuple[str, str], int]:
    """The latest amount per (scheme, period) that has a budget, in one query."""
    if not schemes or not periods:
        return {}
    found: dict[tuple[str, str], int] = {}
    rows = session.execute(
        _LATEST, {"schemes": sorted(set(schemes)), "periods": sorted(set(periods))}
    )
    for scheme, period, amount in rows:
        found[(scheme, period)] = int(amount)  # ordered by id: the latest version wins
    return found


def budget_history(session: Session, scheme: str) -> list[SubsidyBudget]:
    """Every version of a scheme's budgets, oldest first (404: no such scheme)."""
    _scheme(session, scheme)
    return list(
        session.scalars(
            select(SubsidyBudget).where(SubsidyBudget.scheme == scheme).order_by(SubsidyBudget.id)
        )
    )
