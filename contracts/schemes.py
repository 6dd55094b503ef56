"""Subsidy schemes: percentage, caps, cash rounding, eligible medicines, and the payer (an
external payer's sub-account ``chart.due_from_payer(code)``; the fund's: its subsidies)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.checks import currency_exponent, parse_money, parse_percent
from contracts.errors import AlreadyExists
from contracts.pricing import SchemeTerms
from contracts.tables import SchemeMedicine, SubsidyScheme
from ledger import chart, clock
from ledger.errors import InvalidRequest, NotFound
from ledger.settings import functional_currency
from stock.refdata import known_medicines, new_account, unknown_medicine


def create_scheme(session: Session, data: dict[str, Any]) -> SubsidyScheme:
    code: str = data["code"]
    if session.get(SubsidyScheme, code) is not None:
        raise AlreadyExists(f"a subsidy scheme {code!r} exists already")
    exp = currency_exponent(session, functional_currency(session))
    bp = parse_percent(data["percent"])
    caps: dict[str, int | None] = {}
    for name in ("cap_per_dispensing", "cap_per_patient_month"):
        v = data.get(name)
        caps[name] = None if v is None else parse_money(v, name, exp)
    rounding = data.get("cash_rounding")
    cash_rounding = (
        None if rounding is None else parse_money(rounding, "cash_rounding", exp, positive=True)
    )
    eligible: list[str] | None = data.get("eligible_medicines")
    if eligible is not None:
        known = known_medicines(session, eligible)
        bad = {
            f"eligible_medicines.{i}": [unknown_medicine(m)]
            for i, m in enumerate(eligible)
            if m not in known
        }
        if bad:
            raise InvalidRequest(next(iter(bad.values()))[0], errors=bad)
    account_code = None
    if data["payer"] == "external":
        account_code = chart.due_from_payer(code)
        new_account(
            session,
            account_code,
            chart.DUE_FROM_PAYER,
            f"Due from subsidy payer: {data['name']}"[:200],
            "asset",
            "money",
            exists=AlreadyExists(f"the account {account_code} exists already"),
        )
        session.flush()
    scheme = SubsidyScheme(
        code=code,
        name=data["name"],
        payer=data["payer"],
        percent_bp=bp,
        cap_per_dispensing=caps["cap_per_dispensing"],
        cap_per_patient_month=caps["cap_per_patient_month"],
        cash_rounding=cash_rounding,
        all_eligible=eligible is None,
        account=account_code,
        created_at=clock.now(),
    )
    session.add(scheme)
    session.flush()
    if eligible is not None:
        session.add_all(SchemeMedicine(scheme=code, medicine=m) for m in sorted(set(eligible)))
        session.flush()
    return scheme


def get_scheme(session: Session, code: str) -> SubsidyScheme:
    scheme = session.get(SubsidyScheme, code)
    if scheme is None:
        raise NotFound(f"no subsidy scheme {code!r}")
    return scheme


def scheme_medicines(session: Session, code: str) -> list[str] | None:
    scheme = get_scheme(session, code)
    if scheme.all_eligible:
        return None
    return list(
        session.scalars(
            select(SchemeMedicine.medicine)
            .where(SchemeMedicine.scheme == code)
            .order_by(SchemeMedicine.medicine)
        )
    )


def scheme_terms(session: Session, scheme: SubsidyScheme) -> SchemeTerms:
    eligible = scheme_medicines(session, scheme.code)
    return terms_of(scheme, None if eligible is None else frozenset(eligible))


def terms_of(scheme: SubsidyScheme, eligible: frozenset[str] | None) -> SchemeTerms:
    return SchemeTerms(
        code=scheme.code,
        payer=scheme.payer,
        percent=Fraction(scheme.percent_bp, 100),
        cap_per_dispensing=scheme.cap_per_dispensing,
        cap_per_patient_month=scheme.cap_per_patient_month,
        eligible_medicines=eligible,
        cash_rounding=scheme.cash_rounding,
    )


def list_schemes(session: Session, *, after: str | None, limit: int) -> list[SubsidyScheme]:
    """Up to ``limit + 1`` schemes in code order after ``after``."""
    q = select(SubsidyScheme).order_by(SubsidyScheme.code).limit(limit + 1)
    if after:
        q = q.where(SubsidyScheme.code > after)
    return list(session.scalars(q))


def medicines_of_schemes(
    session: Session, schemes: Sequence[SubsidyScheme]
) -> dict[str, list[str] | None]:
    """``scheme_medicines`` of each scheme in one query: None for a scheme covering all."""
    out: dict[str, list[str] | None] = {s.code: (None if s.all_eligible else []) for s in schemes}
    some = sorted(code for code, meds in out.items() if meds is not None)
    if some:
        for code, medicine in session.execute(
            select(SchemeMedicine.scheme, SchemeMedicine.medicine)
            .where(SchemeMedicine.scheme.in_(some))
            .order_by(SchemeMedicine.scheme, SchemeMedicine.medicine)
        ):
            meds = out[code]
            assert meds is not None
            meds.append(medicine)
    return out
