"""The statement of an account: figures, table (CSV/XLSX) and PDF document.

:func:`account_statement` reads the figures of one account (a header: all its
sub-accounts) in one commodity over a date range: opening and closing balance, the range's
debit and credit totals; its lines are read a page at a time (:func:`statement_page`) or
all of them, streamed (:func:`every_statement_line`), each with its running balance. The
HTTP edge turns them into the JSON answer (``api.ledger.statement_json``); the table and
the document are built from that very answer, so a CSV, an XLSX, a PDF and the JSON of the
same request can never disagree: :func:`statement_report` and
:func:`account_statement_document` only re-shape, they never recompute.

The seal printed on the PDF is the seal of the last entry the document covers
(:func:`ledger.sealing.last_seal`), given by the caller.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import clock
from ledger.errors import InvalidRequest
from ledger.money import parse_amount
from ledger.queries import (
    StatementLine,
    account_codes,
    exponents,
    get_account,
    opening_and_closing,
    range_totals,
    statement_lines,
)
from ledger.settings import functional_currency
from ledger.tables import Balance, Entry
from reports.pdf import Column, Document, KeyValueSection, TableSection, shown_amount
from reports.tabular import Col, Report, Section

#: The first day of a statement when none is given.
EARLIEST = date(2000, 1, 1)
#: Lines read at a time when every line of the range is streamed.
STATEMENT_PAGE = 1000


@dataclass(frozen=True)
class AccountStatement:
    """The figures of a statement (amounts in minor units of ``commodity``)."""

    account: str
    name: str
    commodity: str
    exponent: int
    codes: list[str]
    start: date
    end: date
    opening: int
    closing: int
    total_debit: int
    total_credit: int


def account_statement(
    session: Session,
    code: str,
    *,
    commodity: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> AccountStatement:
    """The statement of ``code`` in ``commodity`` (by default :func:`default_commodity`)
    from ``start`` (2000-01-01 by default) to ``end`` (by default today or the last entry's
    date, whichever is later). NotFound for an unknown account, InvalidRequest for an unknown
    commodity or a wrong range."""
    acc = get_account(session, code)
    exps = exponents(session)
    codes = account_codes(session, acc)
    commodity = commodity or default_commodity(session, acc.code, acc.currency, codes)
    if commodity not in exps:
        raise InvalidRequest(
            f"no commodity {commodity!r}", errors={"commodity": ["unknown commodity"]}
        )
    start = start or EARLIEST
    if not end:  # the last entry's date is read only when no end is given
        last = session.scalar(select(func.max(Entry.accounting_date)))
        end = max(clock.today(), last or clock.today())
    if end < start:
        raise InvalidRequest("'to' is before 'from'", errors={"to": ["must not be before from"]})
    if start == date.min or end == date.max:  # the day before / after must exist
        raise InvalidRequest(
            "dates must lie between 0001-01-02 and 9999-12-30",
            errors={"from" if start == date.min else "to": ["out of range"]},
        )
    opening, closing = opening_and_closing(session, codes, commodity, start, end)
    # Totals over the whole range (not a page): whole months from the kept month totals.
    dr, cr = range_totals(session, codes, commodity, start, end)
    return AccountStatement(
        account=acc.code,
        name=acc.name,
        commodity=commodity,
        exponent=exps[commodity],
        codes=codes,
        start=start,
        end=end,
        opening=opening,
        closing=closing,
        total_debit=dr,
        total_credit=cr,
    )


def held_commodities(session: Session, codes: list[str]) -> list[str]:
    """The commodities ``codes`` have ever held (a kept balance exists, even if zero now)."""
    return sorted(
        session.scalars(select(Balance.commodity).where(Balance.account_code.in_(codes)).distinct())
    )


def default_commodity(session: Session, code: str, currency: str | None, codes: list[str]) -> str:
    """The commodity of a statement asked without one, never a silent zero in the wrong
    currency: the account's own currency (a bank account: 1020 is USD); else the one
    commodity it holds; else the fund currency when it holds it or holds nothing (the value
    of an inventory, not its units); else the caller must choose (InvalidRequest naming the
    commodities the account holds)."""
    fund = functional_currency(session)
    if currency:
        return currency
    held = held_commodities(session, codes)
    if len(held) == 1:
        return held[0]
    if not held or fund in held:
        return fund
    raise InvalidRequest(
        f"account {code} holds {', '.join(held)}: choose one with ?commodity=",
        errors={"commodity": [f"required for this account: one of {', '.join(held)}"]},
    )


def statement_page(
    session: Session,
    st: AccountStatement,
    *,
    after: tuple[str, int] | None = None,
    running: int | None = None,
    limit: int,
) -> list[StatementLine]:
    """Up to ``limit`` lines after ``after`` (date, posting id; ``running`` the balance
    there), or from the start of the range."""
    return statement_lines(
        session,
        st.codes,
        st.commodity,
        st.start,
        st.end,
        after=after,
        opening=st.opening if running is None else running,
        limit=limit,
    )


def every_statement_line(session: Session, st: AccountStatement) -> Iterator[StatementLine]:
    """Every line of the range, read :data:`STATEMENT_PAGE` at a time."""
    after: tuple[str, int] | None = None
    running = st.opening
    while True:
        page = statement_lines(
            session,
            st.codes,
            st.commodity,
            st.start,
            st.end,
            after=after,
            opening=running,
            limit=STATEMENT_PAGE,
        )
        yield from page
        if len(page) < STATEMENT_PAGE:
            return
        after = (page[-1].accounting_date.isoformat(), page[-1].posting_id)
        running = page[-1].running


# --------------------------------------------------------------------------- table


STATEMENT_SUMMARY_COLUMNS = [
    Col("account"),
    Col("name"),
    Col("commodity"),
    Col("from", "date"),
    Col("to", "date"),
    Col("opening", "money"),
    Col("total_debit", "money"),
    Col("total_credit", "money"),
    Col("closing", "money"),
]
STATEMENT_LINE_COLUMNS = [
    Col("date", "date"),
    Col("service_date", "date"),
    Col("entry_id"),
    Col("memo"),
    Col("source"),
    Col("lot"),
    Col("amount", "money"),
    Col("debit", "money"),
    Col("credit", "money"),
    Col("balance", "money"),
]


def statement_report(out: Mapping[str, Any]) -> Report:
    """Sections ``Summary`` (one row) and ``Postings`` (every line, streamed)."""
    summary = {**out, "from": out["from_"]}

    def lines() -> Iterator[list[Any]]:
        for item in out["items"]:
            yield [item[c.name] for c in STATEMENT_LINE_COLUMNS]

    return Report(
        f"Statement of account {out['account']} {out['commodity']}",
        [
            Section(
                "Summary",
                STATEMENT_SUMMARY_COLUMNS,
                [[summary[c.name] for c in STATEMENT_SUMMARY_COLUMNS]],
            ),
            Section("Postings", STATEMENT_LINE_COLUMNS, lines()),
        ],
    )


# --------------------------------------------------------------------------- document


def account_statement_document(
    out: Mapping[str, Any],
    exponent: int,
    *,
    fund_name: str,
    made_at: datetime,
    seal: str | None,
) -> Document:
    """Summary block, then every posting with its running balance; totals row at the end.

    ``out["items"]`` may be an iterator: it is consumed once, a page of rows at a time.
    """
    commodity = out["commodity"]

    def amount(text: str) -> str:
        return shown_amount(text, exponent) if parse_amount(text, exponent) else ""

    def rows() -> Iterator[list[str]]:
        for i in out["items"]:
            yield [
                i["date"].isoformat() if isinstance(i["date"], date) else str(i["date"]),
                i["entry_id"],
                i["memo"],
                i["source"] or "",
                i["lot"] or "",
                amount(i["debit"]),
                amount(i["credit"]),
                shown_amount(i["balance"], exponent),
            ]

    start, end = out["from_"], out["to"]
    return Document(
        fund_name=fund_name,
        title=f"Statement of account {out['account']}",
        period=f"{start.isoformat()} to {end.isoformat()}",
        made_at=made_at,
        seal=seal,
        subtitle=[f"{out['account']} {out['name']}, amounts in {commodity}"],
        sections=[
            KeyValueSection(
                "Summary",
                [
                    ("Opening balance", shown_amount(out["opening"], exponent)),
                    ("Total debits", shown_amount(out["total_debit"], exponent)),
                    ("Total credits", shown_amount(out["total_credit"], exponent)),
                    ("Closing balance", shown_amount(out["closing"], exponent)),
                ],
            ),
            TableSection(
                heading="Postings",
                columns=[
                    Column("Date", width=1.1),
                    Column("Entry", width=0.7),
                    Column("Memo", width=3.0),
                    Column("Source", width=1.4),
                    Column("Lot", width=0.8),
                    Column("Debit", "right", 1.3),
                    Column("Credit", "right", 1.3),
                    Column("Balance", "right", 1.4),
                ],
                rows=rows(),
                totals=[
                    "Totals",
                    "",
                    "",
                    "",
                    "",
                    shown_amount(out["total_debit"], exponent),
                    shown_amount(out["total_credit"], exponent),
                    shown_amount(out["closing"], exponent),
                ],
            ),
        ],
    )
