"""Bank statements: import, automatic and manual matching, and the monthly reconciliation.

Import (:func:`import_statement`): the CSV is parsed whole by
:func:`invoices.bankcsv.parse_bank_csv` (a malformed file raises :class:`StatementRefused`,
422 naming the line, and nothing is stored); the statement and its lines are stored; lines
are matched to payments that no bank line holds yet by :func:`invoices.bankcsv.match_lines`
(a payment "in" is a + line, "out" a − line). Each line comes back with its match or open.

Duplicates (decision): a file whose SHA-256 equals one already imported is refused with 409
naming the earlier statement (``statement_id``); it is not replayed, because importing a
statement twice is almost always a mistake worth telling. A client that retries the same
request with the same ``Idempotency-Key`` gets the first answer back (201) as usual.

The same lines in another file (other line endings, quoting or separators, an extra
column, a statement overlapping an earlier one) are caught line by line: each line's
:func:`invoices.bankcsv.fingerprint` (date, amount, currency, reference, description) is
compared with the lines already imported, counting (:func:`invoices.bankcsv.repeated_lines`).
A file holding any line already imported is refused whole with 409
(``bank-statement-already-imported``) naming the earlier statement (``statement_id``) and
every repeated line (``repeated_lines``: its line number, and the statement and line that
hold it): the import stays all or nothing, so one movement is never counted twice by the
reconciliation; the sender removes those lines and sends the rest. Imports take a lock
(PostgreSQL: a transaction-scoped advisory lock; SQLite: its single writer) so two
overlapping files sent at once cannot both pass the comparison. Lines dated in the future
are refused (422), as every other write refuses them.

Matching by hand (:func:`match_by_hand`): an open line may be matched to a payment no line
holds yet, only when currency and signed amount are equal (422 otherwise: a bank charge or a
short payment stays visible as a difference, it is not hidden in a match); matching a line to
the payment it already holds confirms the automatic match (``match_kind`` becomes
``manual``); :func:`unmatch` opens both again. Taken lines or payments are a 409.

Reconciliation of a month (:func:`reconciliation`), per currency, as of the month's last day:
``bank_balance`` is the sum of every imported bank line dated up to that day (statements
carry no opening balance); ``book_balance`` is the balance of the bank account (1010 KHR,
1020 USD) at that day; ``difference`` = bank − book. Reconciling items are the bank lines
dated up to that day still open (``unmatched_bank_lines``), and the payments dated up to that
day that no bank line holds (``unmatched_payments``); ``unexplained`` = difference − (open
lines − unmatched payments, signed) is zero when every movement of the bank account is a
payment and every difference is one of those items. ``matched`` lists the pairs whose bank
line is dated in the month.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from sqlalchemy import Row, Select, func, insert, select, text
from sqlalchemy.orm import Session

from invoices.bankcsv import (
    BankLine,
    Fingerprint,
    MalformedStatement,
    PaymentRef,
    fingerprint,
    match_lines,
    parse_bank_csv,
    repeated_lines,
)
from invoices.payments import get_payment, utc_iso
from invoices.tables import BankStatement, BankStatementLine, Payment
from ledger import clock
from ledger.db import Base, is_postgres
from ledger.errors import Conflict, InvalidRequest, NotFound
from ledger.model import month_bounds
from ledger.money import format_amount
from ledger.queries import balance_of, exponents
from ledger.tables import Account, Commodity

_LINES = Base.metadata.tables[BankStatementLine.__tablename__]
_HELD_COLUMNS = (
    _LINES.c.id,
    _LINES.c.statement_id,
    _LINES.c.line_number,
    _LINES.c.date,
    _LINES.c.amount_minor,
    _LINES.c.currency,
    _LINES.c.reference,
    _LINES.c.description,
)

#: The advisory lock key of bank statement imports ("rdfbank" as a number).
IMPORT_LOCK_KEY = 0x72646662616E6B

#: Repeated lines named in a refusal, at most.
REPEATS_SHOWN = 100


class StatementRefused(InvalidRequest):
    """A bank statement file that cannot be read; nothing of it is stored."""

    slug = "malformed-bank-statement"
    title = "The bank statement cannot be imported"


class StatementAlreadyImported(Conflict):
    """The same file (same content hash) was imported before."""

    slug = "bank-statement-already-imported"
    title = "This bank statement was already imported"


class MatchRefused(Conflict):
    """A manual match or unmatch that the state of the line or payment forbids."""

    slug = "bank-match-refused"
    title = "The bank line cannot be matched that way"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def currency_exponents(session: Session) -> dict[str, int]:
    return {
        c: e
        for c, e in session.execute(
            select(Commodity.code, Commodity.exponent).where(Commodity.kind == "currency")
        )
    }


def signed(p: Payment | Row[Any]) -> int:
    """A payment's amount signed as a bank line's: + is money in."""
    return p.amount_minor if p.direction == "in" else -p.amount_minor


def parse_statement(data: bytes, exps: dict[str, int]) -> list[BankLine]:
    try:
        return parse_bank_csv(data, exps, today=clock.today())
    except MalformedStatement as exc:
        raise StatementRefused(
            str(exc),
            errors={"file": [str(exc)]},
            line=exc.line_number,
        ) from exc


def import_statement(
    session: Session, data: bytes, *, filename: str | None, by: str
) -> BankStatement:
    """Parse, store and auto-match one statement. The caller commits."""
    lines = parse_statement(data, currency_exponents(session))
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": IMPORT_LOCK_KEY})
    digest = content_hash(data)
    prior = session.scalar(select(BankStatement.id).where(BankStatement.content_sha256 == digest))
    if prior is not None:
        raise StatementAlreadyImported(
            f"this file was already imported as bank statement {prior}", statement_id=str(prior)
        )
    _refuse_repeats(session, lines)
    statement = BankStatement(
        content_sha256=digest,
        filename=(filename or None) and filename[:255],
        line_count=len(lines),
        imported_at=clock.now(),
        imported_by=by,
    )
    session.add(statement)
    session.flush()
    matched = {m.line_number: m.payment_id for m in match_lines(lines, _open_refs(session, lines))}
    now = clock.now()
    # One statement for every line (a file may hold 10,000; parsing refuses one with none):
    # plain rows, no ORM objects.
    session.execute(
        insert(_LINES),
        [
            dict(
                statement_id=statement.id,
                line_number=ln.line_number,
                date=ln.date,
                amount_minor=ln.amount_minor,
                currency=ln.currency,
                reference=ln.reference,
                description=ln.description,
                payment_id=matched.get(ln.line_number),
                match_kind="auto" if ln.line_number in matched else None,
                matched_at=now if ln.line_number in matched else None,
                matched_by=by if ln.line_number in matched else None,
            )
            for ln in lines
        ],
    )
    return statement


def held_lines(session: Session, lines: list[BankLine]) -> dict[Fingerprint, list[Any]]:
    """The lines already imported that could repeat ``lines`` (same currencies, dates in
    their span), by fingerprint, in import order: plain rows (``id``, ``statement_id``,
    ``line_number`` and the fingerprint's columns)."""
    held: dict[Fingerprint, list[Any]] = {}
    if not lines:
        return held
    q = (
        select(*_HELD_COLUMNS)
        .where(
            BankStatementLine.date >= min(ln.date for ln in lines),
            BankStatementLine.date <= max(ln.date for ln in lines),
            BankStatementLine.currency.in_(sorted({ln.currency for ln in lines})),
        )
        .order_by(BankStatementLine.statement_id, BankStatementLine.line_number)
    )
    for row in session.execute(q):
        fp = fingerprint(row.date, row.amount_minor, row.currency, row.reference, row.description)
        held.setdefault(fp, []).append(row)
    return held


def _refuse_repeats(session: Session, lines: list[BankLine]) -> None:
    """409 when a line of the file was imported before (see the module doc)."""
    repeats = repeated_lines(lines, held_lines(session, lines))
    if not repeats:
        return
    first_line, first_holder = repeats[0]
    more = len(repeats) - 1
    raise StatementAlreadyImported(
        f"line {first_line.line_number} of this file was already imported as line "
        f"{first_holder.line_number} of bank statement {first_holder.statement_id}"
        + (f", and {more} more of its lines were imported before" if more else "")
        + ": a line with the same date, amount, currency, reference and description is the "
        "same movement; remove the lines already imported and send the rest",
        statement_id=str(first_holder.statement_id),
        repeated_lines=[
            {
                "line_number": line.line_number,
                "statement_id": str(holder.statement_id),
                "statement_line_id": str(holder.id),
                "statement_line_number": holder.line_number,
            }
            for line, holder in repeats[:REPEATS_SHOWN]
        ],
        repeated_count=len(repeats),
    )


def _open_refs(session: Session, lines: list[BankLine]) -> list[PaymentRef]:
    """The payments no bank line holds yet, in the lines' currencies, as match_lines
    reads them (plain rows, not ORM objects: a month may hold thousands)."""
    columns = (
        Payment.id,
        Payment.date,
        Payment.direction,
        Payment.amount_minor,
        Payment.currency,
        Payment.reference,
    )
    q = _unmatched(columns, currencies={ln.currency for ln in lines})
    return [
        PaymentRef(r.id, r.date, signed(r), r.currency, r.reference) for r in session.execute(q)
    ]


def _unmatched(
    columns: tuple[Any, ...], *, currencies: set[str] | None = None, up_to: date | None = None
) -> Select[Any]:
    """``columns`` of the payments no bank line holds yet, by date then id."""
    held = select(BankStatementLine.payment_id).where(BankStatementLine.payment_id.is_not(None))
    q = select(*columns).where(Payment.id.not_in(held)).order_by(Payment.date, Payment.id)
    if currencies is not None:
        q = q.where(Payment.currency.in_(sorted(currencies)))
    if up_to is not None:
        q = q.where(Payment.date <= up_to)
    return q


def _unmatched_payments(
    session: Session, *, currencies: set[str] | None = None, up_to: date | None = None
) -> list[Payment]:
    return list(session.scalars(_unmatched((Payment,), currencies=currencies, up_to=up_to)))


def get_statement(session: Session, statement_id: str) -> BankStatement:
    if not (statement_id.isascii() and statement_id.isdigit()) or len(statement_id) > 18:
        raise NotFound(f"no bank statement {statement_id!r}")
    st = session.get(BankStatement, int(statement_id))
    if st is None:
        raise NotFound(f"no bank statement {statement_id!r}")
    return st


def get_line(session: Session, line_id: str) -> BankStatementLine:
    if not (line_id.isascii() and line_id.isdigit()) or len(line_id) > 18:
        raise NotFound(f"no bank statement line {line_id!r}")
    line = session.get(BankStatementLine, int(line_id))
    if line is None:
        raise NotFound(f"no bank statement line {line_id!r}")
    return line


def match_by_hand(session: Session, line_id: str, payment_id: str, *, by: str) -> BankStatementLine:
    """Match an open line to an unmatched payment (or confirm its automatic match)."""
    line = get_line(session, line_id)
    payment = get_payment(session, payment_id)
    if line.payment_id == payment.id:
        line.match_kind = "manual"  # confirmation of an automatic match
        line.matched_at = clock.now()
        line.matched_by = by
        session.flush()
        return line
    if line.payment_id is not None:
        raise MatchRefused(
            f"bank line {line.id} is already matched to payment {line.payment_id}; unmatch it first"
        )
    holder = session.scalar(
        select(BankStatementLine.id).where(BankStatementLine.payment_id == payment.id)
    )
    if holder is not None:
        raise MatchRefused(
            f"payment {payment.id} is already matched to bank line {holder}; unmatch it first"
        )
    if line.currency != payment.currency or line.amount_minor != signed(payment):
        exp = exponents(session)
        raise InvalidRequest(
            f"bank line {line.id} is {format_amount(line.amount_minor, exp[line.currency])} "
            f"{line.currency} but payment {payment.id} is "
            f"{format_amount(signed(payment), exp[payment.currency])} {payment.currency} "
            "(money out is negative): only equal amounts in one currency can be matched",
            errors={"payment_id": ["amount or currency differs from the bank line"]},
        )
    line.payment_id = payment.id
    line.match_kind = "manual"
    line.matched_at = clock.now()
    line.matched_by = by
    session.flush()
    return line


def unmatch(session: Session, line_id: str, *, by: str) -> BankStatementLine:
    line = get_line(session, line_id)
    if line.payment_id is None:
        raise MatchRefused(f"bank line {line.id} is not matched")
    line.payment_id = None
    line.match_kind = None
    line.matched_at = clock.now()
    line.matched_by = by
    session.flush()
    return line


def line_view(line: BankStatementLine | Row[Any], exps: dict[str, int]) -> dict[str, Any]:
    return {
        "id": str(line.id),
        "statement_id": str(line.statement_id),
        "line_number": line.line_number,
        "date": line.date,
        "amount": format_amount(line.amount_minor, exps[line.currency]),
        "currency": line.currency,
        "reference": line.reference,
        "description": line.description,
        "status": "matched" if line.payment_id else "open",
        "payment_id": str(line.payment_id) if line.payment_id else None,
        "match_kind": line.match_kind,
    }


def statement_view(session: Session, st: BankStatement) -> dict[str, Any]:
    exps = exponents(session)
    lines = session.execute(
        select(*_LINES.c)
        .where(BankStatementLine.statement_id == st.id)
        .order_by(BankStatementLine.line_number)
    )
    items = [line_view(ln, exps) for ln in lines]
    return {
        "id": str(st.id),
        "filename": st.filename,
        "content_sha256": st.content_sha256,
        "imported_at": utc_iso(st.imported_at),
        "imported_by": st.imported_by,
        "line_count": st.line_count,
        "matched_count": sum(1 for i in items if i["status"] == "matched"),
        "open_count": sum(1 for i in items if i["status"] == "open"),
        "lines": items,
    }


def _payment_brief(p: Payment, exps: dict[str, int]) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "date": p.date,
        "direction": p.direction,
        "counterparty": {"kind": p.counterparty_kind, "code": p.counterparty_code},
        "amount": format_amount(signed(p), exps[p.currency]),
        "currency": p.currency,
        "reference": p.reference,
    }


def reconciliation(session: Session, period: str) -> dict[str, Any]:
    """The month's reconciliation of bank statements with the books (see module note)."""
    start, end = month_bounds(period)
    exps = exponents(session)
    matched_rows = session.execute(
        select(BankStatementLine, Payment)
        .join(Payment, Payment.id == BankStatementLine.payment_id)
        .where(BankStatementLine.date >= start, BankStatementLine.date <= end)
        .order_by(BankStatementLine.date, BankStatementLine.id)
    ).all()
    open_lines = list(
        session.scalars(
            select(BankStatementLine)
            .where(BankStatementLine.payment_id.is_(None), BankStatementLine.date <= end)
            .order_by(BankStatementLine.date, BankStatementLine.id)
        )
    )
    open_payments = _unmatched_payments(session, up_to=end)
    bank_totals = dict(
        session.execute(
            select(BankStatementLine.currency, func.sum(BankStatementLine.amount_minor))
            .where(BankStatementLine.date <= end)
            .group_by(BankStatementLine.currency)
        ).all()
    )
    banks = list(
        session.execute(
            select(Account.currency, Account.code)
            .where(Account.currency.is_not(None), Account.type == "asset", ~Account.is_header)
            .order_by(Account.currency, Account.code)
        ).all()
    )
    currencies = []
    for cur, code in banks:
        if cur is None:
            continue
        exp = exps[cur]
        bank = int(bank_totals.get(cur) or 0)
        book = balance_of(session, [code], cur, end)
        lines_total = sum(ln.amount_minor for ln in open_lines if ln.currency == cur)
        pay_total = sum(signed(p) for p in open_payments if p.currency == cur)
        diff = bank - book
        currencies.append(
            {
                "currency": cur,
                "bank_account": code,
                "bank_balance": format_amount(bank, exp),
                "book_balance": format_amount(book, exp),
                "difference": format_amount(diff, exp),
                "unmatched_bank_lines_total": format_amount(lines_total, exp),
                "unmatched_payments_total": format_amount(pay_total, exp),
                "unexplained": format_amount(diff - (lines_total - pay_total), exp),
            }
        )
    return {
        "period": period,
        "as_of": end,
        "matched": [
            {
                "bank_line": line_view(ln, exps),
                "payment": _payment_brief(p, exps),
                "match_kind": ln.match_kind,
            }
            for ln, p in matched_rows
        ],
        "unmatched_bank_lines": [line_view(ln, exps) for ln in open_lines],
        "unmatched_payments": [_payment_brief(p, exps) for p in open_payments],
        "currencies": currencies,
    }
