"""Payments: money that moves between the fund's bank and a counterparty.

Rules (pure, :func:`plan_payment`): which accounts a payment posts to.

=========  =========  =====================================  ==============================
kind       direction  postings                               meaning
=========  =========  =====================================  ==============================
pharmacy   in         bank +, ``1200-{code}`` −              remittance of co-payments
pharmacy   out        ``2100-{code}`` +, bank −              fees / subsidy owed to it paid
scheme     in         bank +, ``1300-{code}`` −              a payer pays its claim
supplier   out        ``2000-{code}`` +, bank −              a supplier is paid
donor      in         bank +, ``3000`` −                     capitalisation (code = name)
=========  =========  =====================================  ==============================

The bank account is the one of the payment's currency (``1010`` KHR, ``1020`` USD).
Money out to a scheme or a donor, and money in from a supplier, are refused (422): they are
rare corrections that a finance officer records as a manual journal entry with a memo.

Currency (decision): the counterparty sub-accounts of pharmacies, schemes and suppliers are
kept in the fund currency (KHR), since every dispensing, claim and receipt is booked in it.
A USD payment against them is refused with 422; a USD receipt of money from a pharmacy is
recorded as a manual conversion entry. Only the fund capital account (``3000``) takes any
currency, so a donor may capitalise the fund in USD (``1020 +``, ``3000 −`` in USD).

Partial and over-payment: a payment is never refused for its size. What is still due shows
in the counterparty's balance (``GET /payments/{id}`` gives it: a due-from account below
zero is a credit the counterparty holds), and for an ``applies_to`` the service can check
(receipts), the amount due, paid so far and outstanding.

``applies_to`` (``{kind: "settlement"|"claim"|"receipt", id}``) is stored with the payment.
A receipt is the journal entry of a stock receipt (``source`` ``"stock-receipt:{id}"`` or
``"receipt:{id}"``); it is checked to exist and to be owed to the same supplier. Settlements
and subsidy claims are checked by the resolvers of :mod:`invoices.settlements`, receipts by
this module's, through the dispatch table :data:`APPLIES_TO_RESOLVERS`; a kind without a
resolver there is stored unverified (reported as ``"verified": false``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from invoices.commands import AppliesTo, PaymentFilter, RecordPayment
from invoices.fx import plan_fx_payment
from invoices.settlements import claim_due, settlement_due
from invoices.tables import BankStatementLine, Payment
from ledger import chart, clock
from ledger.errors import InvalidRequest, NotFound
from ledger.fx_rates import (
    NoRate,
    conversions_of,
    kept_currency,
    rate_for,
    record_conversion,
)
from ledger.journal import check_event_date
from ledger.model import EntryDraft, PostingDraft
from ledger.money import AmountError, format_amount, parse_amount
from ledger.posting import post_entry
from ledger.queries import balance_of, exponents
from ledger.settings import functional_currency
from ledger.tables import Account, Commodity, Entry, Posting

DIRECTIONS = ("in", "out")
KINDS = ("pharmacy", "scheme", "supplier", "donor")
APPLIES_TO_KINDS = ("settlement", "claim", "receipt")
#: which counterparty each applies_to kind belongs to
APPLIES_TO_COUNTERPARTY = {"settlement": "pharmacy", "claim": "scheme", "receipt": "supplier"}
CODE_RE = chart.REF_CODE_RE  # checked with fullmatch


class PaymentRefused(InvalidRequest):
    """A payment whose counterparty, direction and currency do not make sense together."""

    slug = "payment-refused"
    title = "The payment cannot be recorded"


# --------------------------------------------------------------------------- pure rules


@dataclass(frozen=True)
class PaymentPlan:
    """The account a payment settles and the postings it makes (amounts in minor units)."""

    counterparty_account: str
    postings: tuple[PostingDraft, ...]


def counterparty_account(kind: str, direction: str, code: str) -> str:
    """The account a payment of ``kind`` and ``direction`` settles, or PaymentRefused."""
    if kind == "pharmacy":
        return chart.due_from_pharmacy(code) if direction == "in" else chart.due_to_pharmacy(code)
    if kind == "scheme":
        if direction == "out":
            raise PaymentRefused(
                "money out to a subsidy scheme makes no sense: a payer pays the fund; "
                "record a refund to a payer as a manual journal entry",
                errors={"direction": ["a scheme only pays in"]},
            )
        return chart.due_from_payer(code)
    if kind == "supplier":
        if direction == "in":
            raise PaymentRefused(
                "money in from a supplier makes no sense: the fund pays its suppliers; "
                "record a supplier refund as a manual journal entry",
                errors={"direction": ["a supplier is only paid (out)"]},
            )
        return chart.due_to_supplier(code)
    if kind == "donor":
        if direction == "out":
            raise PaymentRefused(
                "money out to a donor would return fund capital; record it as a manual "
                "journal entry with the board's decision in the memo",
                errors={"direction": ["a donor only pays in (capitalisation)"]},
            )
        return chart.FUND_CAPITAL
    raise PaymentRefused(
        f"unknown counterparty kind {kind!r}", errors={"counterparty.kind": ["unknown kind"]}
    )


def plan_payment(
    kind: str,
    direction: str,
    code: str,
    amount_minor: int,
    currency: str,
    bank_account: str,
    settles: str | None = None,
) -> PaymentPlan:
    """The postings of a payment: bank and counterparty, signed by direction. ``settles``:
    the currency of the balance settled (default: the fund currency; a payment in another
    currency goes through ``invoices.fx.plan_fx_payment``)."""
    if amount_minor <= 0:
        raise PaymentRefused(
            "a payment amount must be more than zero", errors={"amount": ["must be positive"]}
        )
    account = counterparty_account(kind, direction, code)
    kept_in = settles or chart.FUND_CURRENCY
    if kind != "donor" and currency != kept_in:
        raise PaymentRefused(
            f"counterparty accounts are kept in {kept_in}; record a {currency} payment "
            "via a manual conversion entry",
            errors={"currency": [f"{kind} payments are recorded in {kept_in}"]},
        )
    sign = 1 if direction == "in" else -1
    postings = (
        PostingDraft(bank_account, currency, sign * amount_minor),
        PostingDraft(account, currency, -sign * amount_minor),
    )
    return PaymentPlan(account, postings)


def due_position(account: str, balance_minor: int) -> tuple[int, str]:
    """What is still due on ``account`` in its normal direction, and a word for it.

    Due-from accounts (1200, 1300) are owed to the fund when positive; due-to accounts
    (2000, 2100) are owed by the fund when negative. A negative due is an overpayment
    (a credit held by the other side). The capital account has no due.
    """
    if account == chart.FUND_CAPITAL:
        return 0, "capital"
    due = balance_minor if chart.header_of(account) in chart.RECEIVABLE_HEADERS else -balance_minor
    if due > 0:
        return due, "owing"
    if due < 0:
        return due, "overpaid"
    return 0, "settled"


# --------------------------------------------------------------------------- applies_to

#: kind -> fn(session, id, payment counterparty code) -> amount due in minor units, or
#: raise NotFound/InvalidRequest.
AppliesToResolver = Callable[[Session, str, str], int]


def receipt_entry(session: Session, ident: str) -> Entry | None:
    """The journal entry of a stock receipt named by its receipt id or its entry id."""
    for source in (f"stock-receipt:{ident}", f"receipt:{ident}"):
        found = session.scalars(select(Entry).where(Entry.source == source)).first()
        if found is not None:
            return found
    if ident.isascii() and ident.isdigit() and len(ident) < 18:
        e = session.get(Entry, int(ident))
        if e is not None and (e.source or "").split(":")[0] in ("stock-receipt", "receipt"):
            return e
    return None


def _receipt_due(session: Session, ident: str, supplier: str) -> int:
    entry = receipt_entry(session, ident)
    if entry is None:
        raise NotFound(f"no stock receipt {ident!r}")
    owed = session.scalar(
        select(func.coalesce(func.sum(Posting.amount), 0)).where(
            Posting.entry_id == entry.id,
            Posting.account_code == chart.due_to_supplier(supplier),
            Posting.commodity == receipt_currency(session, entry.id, supplier),
        )
    )
    if not owed:
        raise InvalidRequest(
            f"stock receipt {ident!r} is not owed to supplier {supplier!r}",
            errors={"applies_to.id": [f"not a receipt from supplier {supplier}"]},
        )
    return -int(owed)


#: The check of each ``applies_to`` kind (a plain dispatch table: the settlements and claims
#: resolvers come from :mod:`invoices.settlements`, which does not import this module).
APPLIES_TO_RESOLVERS: dict[str, AppliesToResolver] = {
    "settlement": settlement_due,
    "claim": claim_due,
    "receipt": _receipt_due,
}


def receipt_currency(session: Session, entry_id: int, supplier: str) -> str:
    """The currency a receipt's supplier is owed in (a receipt invoiced in USD: USD)."""
    found = session.scalar(
        select(Posting.commodity)
        .where(
            Posting.entry_id == entry_id,
            Posting.account_code == chart.due_to_supplier(supplier),
        )
        .limit(1)
    )
    return str(found) if found is not None else functional_currency(session)


def settled_currency(
    session: Session,
    kind: str,
    account: str,
    paid_currency: str,
    stated: str | None,
    applies: AppliesTo | None,
) -> str:
    """The currency of the balance a payment settles (DESIGN.md "Two currencies"): a donor's
    capital is in the currency paid; else the one stated (``settles``); else the applied
    receipt's (settlements and claims are in the fund currency); else, for a supplier, the
    currency paid when the supplier's account holds a balance in it; else the fund currency."""
    if kind == "donor":
        return paid_currency
    fund = functional_currency(session)
    if stated is not None:
        return kept_currency(stated, "settles")
    if applies is not None:
        if applies.kind == "receipt":
            entry = receipt_entry(session, applies.id.strip())
            code = chart.party_of(account)
            if entry is not None and code is not None:
                return receipt_currency(session, entry.id, code)
        return fund
    if kind == "supplier" and paid_currency != fund:
        if balance_of(session, [account], paid_currency) != 0:
            return paid_currency
    return fund


# --------------------------------------------------------------------------- service


def _bank_account(session: Session, currency: str) -> str:
    code = session.scalar(
        select(Account.code)
        .where(Account.currency == currency, Account.type == "asset", ~Account.is_header)
        .order_by(Account.code)
    )
    if code is None:
        raise PaymentRefused(
            f"the fund has no bank account in {currency}",
            errors={"currency": [f"no bank account holds {currency}"]},
        )
    return str(code)


def record_payment(session: Session, cmd: RecordPayment, *, by: str) -> Payment:
    """Validate, store and post one payment. The caller commits."""
    when = cmd.on
    check_event_date(when)
    direction = cmd.direction
    kind = cmd.counterparty_kind
    code = cmd.counterparty_code.strip()
    if kind != "donor" and not CODE_RE.fullmatch(code):
        raise InvalidRequest(
            f"{code!r} is not a {kind} code",
            errors={"counterparty.code": ["letters, digits, '-', '_' or '.', at most 24"]},
        )
    if not code:
        raise InvalidRequest(
            "the donor's name is empty", errors={"counterparty.code": ["must not be empty"]}
        )
    currency = cmd.currency.strip().upper()
    exps = exponents(session)
    if currency not in exps or currency == "" or _is_medicine(session, currency):
        raise InvalidRequest(f"no currency {currency!r}", errors={"currency": ["unknown currency"]})
    try:
        amount = parse_amount(cmd.amount, exps[currency], allow_negative=False)
    except AmountError as exc:
        raise InvalidRequest(f"amount: {exc}", errors={"amount": [str(exc)]}) from exc
    bank_account = _bank_account(session, currency)
    applies = cmd.applies_to
    fx = None
    settles = (
        settled_currency(
            session,
            kind,
            counterparty_account(kind, direction, code),
            currency,
            cmd.settles,
            applies,
        )
        if kind != "donor"
        else currency
    )
    if settles != currency:
        known = session.get(Account, counterparty_account(kind, direction, code))
        if known is None or known.is_header:
            raise InvalidRequest(
                f"no {kind} {code!r} (there is no account "
                f"{counterparty_account(kind, direction, code)})",
                errors={"counterparty.code": [f"unknown {kind}"]},
            )
        try:
            fx_rate = rate_for(session, when, cmd.rate)
        except NoRate as exc:
            raise NoRate(
                f"this {currency} payment settles a {settles} balance: {exc.detail}",
                errors={
                    "currency": [f"differs from the settled balance's ({settles}): needs a rate"],
                    **(exc.errors or {}),
                },
            ) from exc
        fx = plan_fx_payment(
            counterparty_account(kind, direction, code),
            direction,
            amount,
            currency,
            settles,
            bank_account,
            fx_rate.rate,
        )
        plan = PaymentPlan(fx.counterparty_account, fx.postings)
    else:
        if cmd.rate is not None:
            raise InvalidRequest(
                f"a rate is only for a payment in another currency than the balance it "
                f"settles; this one pays a {settles} balance in {currency}",
                errors={"rate": ["only when the currency differs from the settled balance's"]},
            )
        plan = plan_payment(kind, direction, code, amount, currency, bank_account, settles)
    acc = session.get(Account, plan.counterparty_account)
    if acc is None or acc.is_header:
        raise InvalidRequest(
            f"no {kind} {code!r} (there is no account {plan.counterparty_account})",
            errors={"counterparty.code": [f"unknown {kind}"]},
        )

    if applies is not None:
        a_kind, a_id = applies.kind, applies.id.strip()
        if APPLIES_TO_COUNTERPARTY[a_kind] != kind:
            raise InvalidRequest(
                f"a payment to or from a {kind} cannot apply to a {a_kind}",
                errors={
                    "applies_to.kind": [
                        f"a {a_kind} is paid by or to a {APPLIES_TO_COUNTERPARTY[a_kind]}"
                    ]
                },
            )
        resolver = APPLIES_TO_RESOLVERS.get(a_kind)
        if resolver is not None:
            resolver(session, a_id, code)

    payment = Payment(
        date=when,
        direction=direction,
        counterparty_kind=kind,
        counterparty_code=code,
        amount_minor=amount,
        currency=currency,
        reference=cmd.reference.strip(),
        applies_to_kind=applies.kind if applies else None,
        applies_to_id=applies.id.strip() if applies else None,
        created_at=clock.now(),
        created_by=by,
    )
    session.add(payment)
    session.flush()
    who = code if kind != "donor" else f"donor {code}"
    posted = post_entry(
        session,
        EntryDraft(
            service_date=when,
            memo=f"Payment {direction} {'from' if direction == 'in' else 'to'} {kind} {who}: "
            f"{payment.reference}",
            postings=plan.postings,
            source=f"payment:{payment.id}",
            partition=code if kind == "pharmacy" else None,
        ),
        created_by=by,
    )
    payment.entry_id = posted.id
    session.flush()
    if fx is not None:
        record_conversion(
            session,
            entry_id=posted.id,
            source=f"payment:{payment.id}",
            on=when,
            rate=fx_rate,
            conversion=fx.conversion,
        )
    return payment


def _is_medicine(session: Session, code: str) -> bool:
    c = session.get(Commodity, code)
    return c is None or c.kind != "currency"


def utc_iso(when: datetime) -> str:
    """A stored timestamp in ISO 8601 UTC (SQLite gives it back without its zone)."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def get_payment(session: Session, payment_id: str | int) -> Payment:
    text = str(payment_id)
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise NotFound(f"no payment {text!r}")
    p = session.get(Payment, int(text))
    if p is None:
        raise NotFound(f"no payment {text!r}")
    return p


def payment_view(session: Session, p: Payment) -> dict[str, Any]:
    """A payment as the API shows it: its posting, match, and what is still due."""
    exps = exponents(session)
    exp = exps[p.currency]
    fmt = lambda v: format_amount(v, exp)  # noqa: E731
    account = counterparty_account(p.counterparty_kind, p.direction, p.counterparty_code)
    entry = session.get(Entry, p.entry_id) if p.entry_id else None
    conv = next(iter(conversions_of(session, p.entry_id)), None) if p.entry_id else None
    settled_cur = conv.to_currency if conv is not None else p.currency
    sfmt = lambda v: format_amount(v, exps[settled_cur])  # noqa: E731
    balance_now = balance_of(session, [account], settled_cur)
    due, position = due_position(account, balance_now)
    line = session.scalars(
        select(BankStatementLine).where(BankStatementLine.payment_id == p.id)
    ).first()
    applies: dict[str, Any] | None = None
    if p.applies_to_kind:
        applies = {"kind": p.applies_to_kind, "id": p.applies_to_id, "verified": False}
        resolver = APPLIES_TO_RESOLVERS.get(p.applies_to_kind)
        if resolver is not None and p.applies_to_id is not None:
            amount_due = resolver(session, p.applies_to_id, p.counterparty_code)
            paid = _paid_towards(session, p.applies_to_kind, p.applies_to_id, settled_cur)
            outstanding = amount_due - paid
            applies.update(
                verified=True,
                amount_due=sfmt(amount_due),
                paid_total=sfmt(paid),
                outstanding=sfmt(outstanding),
                status="partial" if outstanding > 0 else "paid" if outstanding == 0 else "overpaid",
            )
    view: dict[str, Any] = {
        "id": str(p.id),
        "date": p.date,
        "accounting_date": entry.accounting_date if entry else None,
        "direction": p.direction,
        "counterparty": {"kind": p.counterparty_kind, "code": p.counterparty_code},
        "amount": fmt(p.amount_minor),
        "currency": p.currency,
        "reference": p.reference,
        "applies_to": applies,
        "entry_id": str(p.entry_id) if p.entry_id else None,
        "created_at": utc_iso(p.created_at),
        "created_by": p.created_by,
        "counterparty_balance": {
            "account": account,
            "currency": settled_cur,
            "balance": sfmt(balance_now),
            "due": sfmt(due),
            "position": position,
        },
        "bank_line": (
            {
                "id": str(line.id),
                "statement_id": str(line.statement_id),
                "match_kind": line.match_kind,
            }
            if line
            else None
        ),
        "status": "matched" if line else "unmatched",
    }
    if conv is not None:  # a payment in the other currency: what it settled, both legs
        view["settled"] = {
            "currency": conv.to_currency,
            "amount": sfmt(conv.to_amount),
            "rate": conv.rate,
            "rate_stated": conv.stated,
            "rate_date": conv.rate_date,
        }
        view["legs"] = [
            {"account": a, "currency": c, "amount": format_amount(int(v), exps[c])}
            for a, c, v in session.execute(
                select(Posting.account_code, Posting.commodity, Posting.amount)
                .where(Posting.entry_id == p.entry_id)
                .order_by(Posting.id)
            ).all()
        ]
    return view


def _paid_towards(session: Session, kind: str, ident: str, currency: str) -> int:
    """What the payments applied to one document settled of it, in ``currency``: a payment
    made in the other currency counts with the amount it settled."""
    total = 0
    for pay in session.scalars(
        select(Payment).where(Payment.applies_to_kind == kind, Payment.applies_to_id == ident)
    ):
        conv = next(iter(conversions_of(session, pay.entry_id)), None) if pay.entry_id else None
        if conv is not None and conv.to_currency == currency:
            total += conv.to_amount
        elif conv is None and pay.currency == currency:
            total += pay.amount_minor
    return total


def list_payments(
    session: Session, filters: PaymentFilter, after_id: int | None, limit: int
) -> list[Payment]:
    q = select(Payment).order_by(Payment.id).limit(limit)
    if after_id is not None:
        q = q.where(Payment.id > after_id)
    if filters.direction:
        q = q.where(Payment.direction == filters.direction)
    if filters.counterparty_kind:
        q = q.where(Payment.counterparty_kind == filters.counterparty_kind)
    if filters.counterparty_code:
        q = q.where(Payment.counterparty_code == filters.counterparty_code)
    if filters.currency:
        q = q.where(Payment.currency == filters.currency.upper())
    if filters.start:
        q = q.where(Payment.date >= filters.start)
    if filters.end:
        q = q.where(Payment.date <= filters.end)
    if filters.applies_to_kind:
        q = q.where(Payment.applies_to_kind == filters.applies_to_kind)
    if filters.applies_to_id:
        q = q.where(Payment.applies_to_id == filters.applies_to_id)
    matched = filters.matched
    if matched is not None:
        sub = select(BankStatementLine.payment_id).where(BankStatementLine.payment_id.is_not(None))
        q = q.where(Payment.id.in_(sub) if matched else Payment.id.not_in(sub))
    return list(session.scalars(q))
