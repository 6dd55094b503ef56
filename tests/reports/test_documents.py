"""Trial balance and account statement PDFs: pypdf finds in them every total the JSON gives
(printed with display_amount), the fund's name, the period and the seal of the last entry
covered."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from ledger.money import parse_amount
from ledger.tables import Entry
from reports.pdf import display_amount
from tests.reports.conftest import ok

EXPONENT = {"KHR": 0, "USD": 2, "MET500": 0}


def pdf_text(r: Any) -> str:
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(r.get_data()))
    return "\n".join(page.extract_text() for page in reader.pages)


def shown(amount: str, commodity: str) -> str:
    return display_amount(parse_amount(amount, EXPONENT[commodity]), EXPONENT[commodity])


def expected_seal(app: Flask, end: date) -> str | None:
    with app.extensions["rdf_db"].session() as s:
        seal: str | None = s.scalar(
            select(Entry.seal)
            .where(Entry.seal.is_not(None), Entry.accounting_date <= end)
            .order_by(Entry.seal_seq.desc())
            .limit(1)
        )
    return seal


def test_trial_balance_pdf_shows_every_total_of_the_json_the_fund_the_date_and_the_seal(
    app: Flask, client: FlaskClient, auditor: dict[str, str], month: dict[str, Any]
) -> None:
    q = {"as_of": "2026-10-31"}
    js = ok(client.get("/api/v1/reports/trial-balance", query_string=q, headers=auditor), 200)
    text = pdf_text(
        client.get("/api/v1/reports/trial-balance.pdf", query_string=q, headers=auditor)
    )
    assert app.config["FUND_NAME"] in text
    assert "Trial balance" in text and "as of 2026-10-31" in text
    assert len(js["totals"]) == 3
    for t in js["totals"]:
        assert f"Total {t['commodity']}" in text
        assert shown(t["debit"], t["commodity"]) in text
        assert shown(t["credit"], t["commodity"]) in text
    assert "10,000,000" in text and "1,250.50" in text
    seal = expected_seal(app, date(2026, 10, 31))
    if seal is None:
        assert "not sealed" in text
    else:
        assert seal in text
        late = expected_seal(app, date(2026, 11, 30))
        assert (
            late is not None and late != seal and late not in text
        )  # the November entry is not covered


def test_account_statement_pdf_shows_opening_totals_closing_and_every_balance(
    app: Flask, client: FlaskClient, finance: dict[str, str], month: dict[str, Any]
) -> None:
    q = {"from": "2026-10-01", "to": "2026-10-31", "commodity": "USD"}
    js = ok(client.get("/api/v1/accounts/1020/statement", query_string=q, headers=finance), 200)
    text = pdf_text(client.get("/api/v1/statements/accounts/1020", query_string=q, headers=finance))
    assert app.config["FUND_NAME"] in text
    assert "Statement of account 1020" in text and "2026-10-01 to 2026-10-31" in text
    for key in ("opening", "closing", "total_debit", "total_credit"):
        assert shown(js[key], "USD") in text, key
    for item in js["items"]:
        assert shown(item["balance"], "USD") in text
        assert item["date"] in text
    assert "1,230.16" in text and "19.99" in text
    seal = expected_seal(app, date(2026, 10, 31))
    assert (seal or "not sealed") in text


def test_account_statement_answers_json_when_asked_with_the_same_figures(
    client: FlaskClient, auditor: dict[str, str], month: dict[str, Any]
) -> None:
    q = {"from": "2026-10-01", "to": "2026-10-31", "commodity": "KHR"}
    js = ok(client.get("/api/v1/accounts/1010/statement", query_string=q, headers=auditor), 200)
    r = client.get(
        "/api/v1/statements/accounts/1010",
        query_string=q,
        headers={**auditor, "Accept": "application/json"},
    )
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.get_json()
    assert doc["items"] == js["items"] and doc["closing"] == js["closing"] == "8730433"
    assert doc["next_cursor"] is None


def test_statement_pdf_of_an_unknown_account_or_commodity_is_a_problem(
    client: FlaskClient, auditor: dict[str, str]
) -> None:
    r = client.get("/api/v1/statements/accounts/9999", headers=auditor)
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    r = client.get("/api/v1/statements/accounts/1010?commodity=XYZ", headers=auditor)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
