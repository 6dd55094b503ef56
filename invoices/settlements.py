"""Settlements with pharmacies and subsidy claims to payers.

Settlement of a month with pharmacy P (DESIGN.md): the co-payments P collected and holds
(``1200-P``), the fees — and, on the purchase model, the subsidy reimbursements — owed to P
(``2100-P``), netted against each other by one entry (``2100-P +``, ``1200-P −``); what
remains is due one way or the other. It covers every dispensing and return of P booked up
to the month's end that no earlier settlement covered: a late record of a settled month is
picked up, marked late, by the next settlement.

A subsidy claim to an external payer lists every subsidised dispensing line (and return)
of its scheme booked up to the month's end not yet claimed; its total is exactly what the
books hold as owed by the payer for them (``1300-{scheme}``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from contracts.tables import SubsidyScheme
from dispensing.tables import Dispensing, DispensingLine, DispensingReturn, ReturnLine
from invoices.settlement_tables import ClaimItem, Settlement, SettlementItem, SubsidyClaim
from invoices.tables import Payment
from ledger import chart, clock
from ledger.errors import Conflict, InvalidRequest, NotFound
from ledger.model import EntryDraft, PostingDraft, month_bounds
from ledger.money import format_amount
from ledger.periods import CloseCheck, parse_period
from ledger.posting import post_entry
from ledger.queries import balance_of, exponents
from ledger.settings import functional_currency
from ledger.tables import Account


class AlreadySettled(Conflict):
    """A pharmacy's month was settled already (one settlement per pharmacy and month)."""

    slug = "already-settled"
    title = "Already settled"


class AlreadyClaimed(Conflict):
    """A scheme's month was claimed already (one claim per scheme and month)."""

    slug = "already-claimed"
    title = "Already claimed"


class MonthNotOver(Conflict):
    """A month is settled or claimed only once it has ended."""

    slug = "month-not-over"
    title = "The month has not ended"


def _check_month(period: str) -> tuple[date, date]:
    parse_period(period)
    start, end = month_bounds(period)
    if clock.today() <= end:
        raise MonthNotOver(
            f"{period} has not ended yet (it ends {end.isoformat()}); settle "
            f"and claim a month after its last day"
        )
    return start, end


# --------------------------------------------------------------------------- settlements


def _unsettled(
    session: Session, pharmacy: str, end: date
) -> tuple[list[Dispensing], list[DispensingReturn]]:
    ds = list(
        session.scalars(
            select(Dispensing)
            .outerjoin(
                SettlementItem,
                and_(SettlementItem.kind == "dispensing", SettlementItem.doc_id == Dispensing.id),
            )
            .where(
                Dispensing.pharmacy == pharmacy,
                Dispensing.accounting_date <= end,
                SettlementItem.id.is_(None),
            )
            .order_by(Dispensing.accounting_date, Dispensing.id)
        )
    )
    rs = list(
        session.scalars(
            select(DispensingReturn)
            .join(Dispensing, Dispensing.id == DispensingReturn.dispensing_id)
            .outerjoin(
                SettlementItem,
                and_(SettlementItem.kind == "return", SettlementItem.doc_id == DispensingReturn.id),
            )
            .where(
                Dispensing.pharmacy == pharmacy,
                DispensingReturn.accounting_date <= end,
                SettlementItem.id.is_(None),
            )
            .order_by(DispensingReturn.accounting_date, DispensingReturn.id)
        )
    )
    return ds, rs


@dataclass(frozen=True)
class SettlementFigures:
    copayments_held: int
    fees_owed: int
    subsidy_owed: int

    @property
    def owed_to_pharmacy(self) -> int:
        return self.fees_owed + self.subsidy_owed

    @property
    def netted(self) -> int:
        """The part of what each side owes the other that cancels out (never negative)."""
        return max(0, min(self.copayments_held, self.owed_to_pharmacy))

    @property
    def net_due(self) -> int:
        """Positive: the pharmacy owes the fund; negative: the fund owes the pharmacy."""
        return self.copayments_held - self.owed_to_pharmacy


def settlement_figures(
    ds: Iterable[Dispensing], rs: Iterable[DispensingReturn], model_of: dict[int, str]
) -> SettlementFigures:
    """Sum what a settlement covers (plain rule: returns count against their dispensing)."""
    held = fees = subsidy = 0
    for d in ds:
        if d.model == "purchase":
            subsidy += d.total_subsidy
        else:
            held += d.total_copayment
        fees += d.fee
    for r in rs:
        if model_of[r.dispensing_id] == "purchase":
            subsidy -= r.total_subsidy
        else:
            held -= r.total_copayment
        fees -= r.fee
    return SettlementFigures(held, fees, subsidy)


def settle(session: Session, pharmacy: str, period: str, *, by: str) -> int:
    start, end = _check_month(period)
    if session.get(Account, chart.due_from_pharmacy(pharmacy)) is None:
        raise NotFound(f"no pharmacy {pharmacy!r}", errors={"pharmacy": ["unknown pharmacy"]})
    if (
        session.scalar(
            select(Settlement.id).where(
                Settlement.pharmacy == pharmacy, Settlement.period == period
            )
        )
        is not None
    ):
        raise AlreadySettled(f"{pharmacy} is already settled for {period}")
    ds, rs = _unsettled(session, pharmacy, end)
    model_of = {d.id: d.model for d in ds}
    missing = {r.dispensing_id for r in rs} - set(model_of)
    if missing:
        model_of.update(
            dict(
                session.execute(
                    select(Dispensing.id, Dispensing.model).where(Dispensing.id.in_(missing))
                ).all()
            )
        )
    fig = settlement_figures(ds, rs, model_of)
    cur = functional_currency(session)
    s = Settlement(
        pharmacy=pharmacy,
        period=period,
        status="draft",
        currency=cur,
        copayments_held=fig.copayments_held,
        fees_owed=fig.fees_owed,
        subsidy_owed=fig.subsidy_owed,
        netted=fig.netted,
        net_due=fig.net_due,
        created_at=clock.now(),
        created_by=by,
    )
    session.add(s)
    session.flush()
    if fig.netted:
        posted = post_entry(
            session,
            EntryDraft(
                service_date=end,
                memo=f"Settlement {s.id} of {period} with {pharmacy}: fees and reimbursements "
                f"owed netted against co-payments held",
                postings=(
                    PostingDraft(chart.due_to_pharmacy(pharmacy), cur, fig.netted),
                    PostingDraft(chart.due_from_pharmacy(pharmacy), cur, -fig.netted),
                ),
                source=f"settlement:{s.id}",
                partition=pharmacy,
            ),
            created_by=by,
        )
        s.entry_id = posted.id
    session.add_all(
        [SettlementItem(settlement_id=s.id, kind="dispensing", doc_id=d.id) for d in ds]
    )
    session.add_all([SettlementItem(settlement_id=s.id, kind="return", doc_id=r.id) for r in rs])
    session.flush()
    return s.id


def _is_id(ident: str) -> bool:
    """A row id as the API spells it: ASCII digits only ("³" is a digit to ``isdigit()``
    but not to ``int()``)."""
    return ident.isascii() and ident.isdigit() and len(ident) < 18


def get_settlement(session: Session, ident: str, pharmacy_scope: str | None = None) -> Settlement:
    s = session.get(Settlement, int(ident)) if _is_id(ident) else None
    if s is None or (pharmacy_scope is not None and s.pharmacy != pharmacy_scope):
        raise NotFound(f"no settlement {ident!r}")
    return s


def settlements_query(
    *, visible_to: str | None = None, pharmacy: str | None = None, period: str | None = None
) -> Select[int]:
    """The ids of the settlements of ``pharmacy`` and ``period`` (each if given), only
    ``visible_to``'s when a pharmacist asks; the caller pages it by id."""
    q = select(Settlement.id)
    if visible_to is not None:
        q = q.where(Settlement.pharmacy == visible_to)
    if pharmacy:
        q = q.where(Settlement.pharmacy == pharmacy)
    if period:
        q = q.where(Settlement.period == period)
    return q


def approve(session: Session, s: Settlement, *, by: str) -> None:
    if s.status != "draft":
        raise Conflict(f"settlement {s.id} is {s.status}, not a draft")
    s.status = "approved"
    s.approved_at = clock.now()
    s.approved_by = by
    session.flush()


def _paid(session: Session, kind: str, ident: int) -> int:
    total = 0
    for direction, amount in session.execute(
        select(Payment.direction, Payment.amount_minor).where(
            Payment.applies_to_kind == kind, Payment.applies_to_id == str(ident)
        )
    ):
        total += int(amount) if direction == "in" else -int(amount)
    return total


def settlement_json(session: Session, ident: int) -> dict[str, Any]:
    s = session.get(Settlement, ident)
    assert s is not None
    exp = exponents(session)[s.currency]
    fmt = lambda v: format_amount(v, exp)  # noqa: E731
    start, end = month_bounds(s.period)
    items = list(
        session.execute(
            select(SettlementItem.kind, SettlementItem.doc_id).where(
                SettlementItem.settlement_id == s.id
            )
        ).all()
    )
    d_ids = [i for k, i in items if k == "dispensing"]
    r_ids = [i for k, i in items if k == "return"]
    ds = list(
        session.scalars(
            select(Dispensing)
            .where(Dispensing.id.in_(d_ids))
            .order_by(Dispensing.accounting_date, Dispensing.id)
        )
    )
    rs = list(
        session.scalars(
            select(DispensingReturn)
            .where(DispensingReturn.id.in_(r_ids))
            .order_by(DispensingReturn.accounting_date, DispensingReturn.id)
        )
    )
    paid = _paid(session, "settlement", s.id)
    fig = SettlementFigures(s.copayments_held, s.fees_owed, s.subsidy_owed)
    status = s.status
    if s.status == "approved" and (
        s.net_due == 0
        or (s.net_due > 0 and paid >= s.net_due)
        or (s.net_due < 0 and paid <= s.net_due)
    ):
        status = "paid"
    codes = [chart.due_from_pharmacy(s.pharmacy), chart.due_to_pharmacy(s.pharmacy)]
    return {
        "id": str(s.id),
        "pharmacy": s.pharmacy,
        "period": s.period,
        "status": status,
        "currency": s.currency,
        "entry_id": str(s.entry_id) if s.entry_id else None,
        "created_at": s.created_at.isoformat(),
        "approved_at": s.approved_at.isoformat() if s.approved_at else None,
        "dispensings": [
            {
                "id": str(d.id),
                "service_date": d.service_date.isoformat(),
                "accounting_date": d.accounting_date.isoformat(),
                "patient": d.patient,
                "model": d.model,
                "total_price": fmt(d.total_price),
                "subsidy": fmt(d.total_subsidy),
                "copayment": fmt(d.total_copayment),
                "fee": fmt(d.fee),
                "late": d.accounting_date < start,
            }
            for d in ds
        ],
        "returns": [
            {
                "id": str(r.id),
                "dispensing_id": str(r.dispensing_id),
                "date": r.return_date.isoformat(),
                "accounting_date": r.accounting_date.isoformat(),
                "price": fmt(r.total_price),
                "subsidy": fmt(r.total_subsidy),
                "copayment": fmt(r.total_copayment),
                "fee": fmt(r.fee),
                "late": r.accounting_date < start,
            }
            for r in rs
        ],
        "late_items": sum(1 for d in ds if d.accounting_date < start)
        + sum(1 for r in rs if r.accounting_date < start),
        "copayments_collected": fmt(fig.copayments_held),
        "fees_owed": fmt(fig.fees_owed),
        "subsidy_owed": fmt(fig.subsidy_owed),
        "owed_to_pharmacy": fmt(fig.owed_to_pharmacy),
        "netted": fmt(fig.netted),
        "net_due": fmt(abs(fig.net_due)),
        "net_due_by": "pharmacy" if fig.net_due > 0 else ("fund" if fig.net_due < 0 else None),
        "paid": fmt(abs(paid)),
        "opening_due_from_pharmacy": fmt(
            balance_of(session, codes[:1], s.currency, date.fromordinal(start.toordinal() - 1))
        ),
        "closing_due_from_pharmacy": fmt(balance_of(session, codes[:1], s.currency, end)),
        "closing_due_to_pharmacy": fmt(-balance_of(session, codes[1:], s.currency, end)),
    }


def settlement_due(session: Session, ident: str, pharmacy: str) -> int:
    s = get_settlement(session, ident)
    if s.pharmacy != pharmacy:
        raise InvalidRequest(
            f"settlement {ident} is not with pharmacy {pharmacy}",
            errors={"applies_to.id": [f"not a settlement with {pharmacy}"]},
        )
    return abs(s.net_due)


# --------------------------------------------------------------------------- claims


def claim(session: Session, scheme: str, period: str, *, by: str) -> int:
    start, end = _check_month(period)
    sch = session.get(SubsidyScheme, scheme)
    if sch is None:
        raise NotFound(f"no subsidy scheme {scheme!r}", errors={"scheme": ["unknown scheme"]})
    if sch.payer != "external":
        raise Conflict(
            f"scheme {scheme} is paid by the fund itself; there is no payer to claim from"
        )
    if (
        session.scalar(
            select(SubsidyClaim.id).where(
                SubsidyClaim.scheme == scheme, SubsidyClaim.period == period
            )
        )
        is not None
    ):
        raise AlreadyClaimed(f"{scheme} is already claimed for {period}")
    ds = list(
        session.scalars(
            select(Dispensing)
            .outerjoin(
                ClaimItem, and_(ClaimItem.kind == "dispensing", ClaimItem.doc_id == Dispensing.id)
            )
            .where(
                Dispensing.scheme == scheme,
                Dispensing.payer == "external",
                Dispensing.total_subsidy != 0,
                Dispensing.accounting_date <= end,
                ClaimItem.id.is_(None),
            )
        )
    )
    rs = list(
        session.scalars(
            select(DispensingReturn)
            .join(Dispensing, Dispensing.id == DispensingReturn.dispensing_id)
            .outerjoin(
                ClaimItem, and_(ClaimItem.kind == "return", ClaimItem.doc_id == DispensingReturn.id)
            )
            .where(
                Dispensing.scheme == scheme,
                Dispensing.payer == "external",
                DispensingReturn.total_subsidy != 0,
                DispensingReturn.accounting_date <= end,
                ClaimItem.id.is_(None),
            )
        )
    )
    total = sum(d.total_subsidy for d in ds) - sum(r.total_subsidy for r in rs)
    cur = functional_currency(session)
    c = SubsidyClaim(
        scheme=scheme,
        period=period,
        currency=cur,
        total=total,
        issued_on=clock.today(),
        created_at=clock.now(),
        created_by=by,
    )
    session.add(c)
    session.flush()
    session.add_all([ClaimItem(claim_id=c.id, kind="dispensing", doc_id=d.id) for d in ds])
    session.add_all([ClaimItem(claim_id=c.id, kind="return", doc_id=r.id) for r in rs])
    session.flush()
    return c.id


def claims_query(*, scheme: str | None = None, period: str | None = None) -> Select[int]:
    """The ids of the subsidy claims of ``scheme`` and ``period`` (each if given)."""
    q = select(SubsidyClaim.id)
    if scheme:
        q = q.where(SubsidyClaim.scheme == scheme)
    if period:
        q = q.where(SubsidyClaim.period == period)
    return q


def get_claim(session: Session, ident: str) -> SubsidyClaim:
    c = session.get(SubsidyClaim, int(ident)) if _is_id(ident) else None
    if c is None:
        raise NotFound(f"no subsidy claim {ident!r}")
    return c


def claim_json(session: Session, ident: int) -> dict[str, Any]:
    c = session.get(SubsidyClaim, ident)
    assert c is not None
    exp = exponents(session)[c.currency]
    fmt = lambda v: format_amount(v, exp)  # noqa: E731
    start, _end = month_bounds(c.period)
    items = list(
        session.execute(
            select(ClaimItem.kind, ClaimItem.doc_id).where(ClaimItem.claim_id == c.id)
        ).all()
    )
    d_ids = [i for k, i in items if k == "dispensing"]
    r_ids = [i for k, i in items if k == "return"]
    lines: list[dict[str, Any]] = []
    for d, ln in session.execute(
        select(Dispensing, DispensingLine)
        .join(DispensingLine, DispensingLine.dispensing_id == Dispensing.id)
        .where(Dispensing.id.in_(d_ids), DispensingLine.subsidy != 0)
        .order_by(Dispensing.service_date, Dispensing.id, DispensingLine.line_no)
    ):
        lines.append(
            {
                "kind": "dispensing",
                "dispensing_id": str(d.id),
                "date": d.service_date.isoformat(),
                "pharmacy": d.pharmacy,
                "member_code": d.patient,
                "medicine": ln.medicine,
                "quantity": ln.quantity,
                "subsidy": fmt(ln.subsidy),
                "late": d.accounting_date < start,
            }
        )
    for r, rl, ln, d in session.execute(
        select(DispensingReturn, ReturnLine, DispensingLine, Dispensing)
        .join(ReturnLine, ReturnLine.return_id == DispensingReturn.id)
        .join(DispensingLine, DispensingLine.id == ReturnLine.line_id)
        .join(Dispensing, Dispensing.id == DispensingReturn.dispensing_id)
        .where(DispensingReturn.id.in_(r_ids), ReturnLine.subsidy != 0)
        .order_by(DispensingReturn.return_date, DispensingReturn.id)
    ):
        lines.append(
            {
                "kind": "return",
                "dispensing_id": str(d.id),
                "date": r.return_date.isoformat(),
                "pharmacy": d.pharmacy,
                "member_code": d.patient,
                "medicine": ln.medicine,
                "quantity": -rl.quantity,
                "subsidy": fmt(-rl.subsidy),
                "late": r.accounting_date < start,
            }
        )
    paid = _paid(session, "claim", c.id)
    return {
        "id": str(c.id),
        "scheme": c.scheme,
        "period": c.period,
        "currency": c.currency,
        "issued_on": c.issued_on.isoformat(),
        "lines": lines,
        "total": fmt(c.total),
        "paid": fmt(paid),
        "outstanding": fmt(c.total - paid),
        "status": "paid" if paid >= c.total else ("part-paid" if paid else "issued"),
    }


def claim_due(session: Session, ident: str, scheme: str) -> int:
    c = get_claim(session, ident)
    if c.scheme != scheme:
        raise InvalidRequest(
            f"claim {ident} is not a claim to scheme {scheme}",
            errors={"applies_to.id": [f"not a claim of {scheme}"]},
        )
    return c.total


# --------------------------------------------------------------------------- month close


def unsettled_in_month(session: Session, period: str) -> list[str]:
    """Close check: every pharmacy with dispensings or returns booked up to the month's
    end that no settlement covers yet."""
    _start, end = month_bounds(period)
    pharmacies = set(
        session.scalars(
            select(Dispensing.pharmacy)
            .outerjoin(
                SettlementItem,
                and_(SettlementItem.kind == "dispensing", SettlementItem.doc_id == Dispensing.id),
            )
            .where(Dispensing.accounting_date <= end, SettlementItem.id.is_(None))
            .distinct()
        )
    )
    pharmacies |= set(
        session.scalars(
            select(Dispensing.pharmacy)
            .join(DispensingReturn, DispensingReturn.dispensing_id == Dispensing.id)
            .outerjoin(
                SettlementItem,
                and_(SettlementItem.kind == "return", SettlementItem.doc_id == DispensingReturn.id),
            )
            .where(DispensingReturn.accounting_date <= end, SettlementItem.id.is_(None))
            .distinct()
        )
    )
    if not pharmacies:
        return []
    return [f"not yet settled for {period}: {', '.join(sorted(pharmacies))}"]


def count_rows(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


#: The checks a month close runs for this package (``ledger.periods.CloseCheck``), by name;
#: the application factory hands them to the close.
CLOSE_CHECKS: dict[str, CloseCheck] = {"settlements": unsettled_in_month}
