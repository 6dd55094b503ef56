"""23.2: a USD account's statement is in USD. ``/accounts/1020/statement`` (JSON, CSV) and
``/statements/accounts/1020`` (PDF) without ``commodity`` answered in KHR with no postings
while the balance said 1,010.00 USD.

The rule (reports.account_statement.default_commodity): the account's own currency; else
the one commodity it holds; else the fund currency when it holds it (an inventory's value)
or nothing; else a 422 that names the commodities to choose from."""

from __future__ import annotations

import io

from pypdf import PdfReader

from tests.dispensing.conftest import Fund


def _usd_capital(fund: Fund) -> None:
    fund.post(
        "/journal-entries",
        {
            "date": "2026-10-05",
            "memo": "grant in dollars",
            "postings": [
                {"account": "1020", "commodity": "USD", "amount": "1010.00"},
                {"account": "3000", "commodity": "USD", "amount": "-1010.00"},
            ],
        },
    )


def test_a_usd_bank_account_states_dollars_in_json_csv_and_pdf(fund: Fund) -> None:
    _usd_capital(fund)
    out = fund.get("/accounts/1020/statement")
    assert out["commodity"] == "USD"
    assert out["closing"] == "1010.00" and out["total_debit"] == "1010.00"
    assert [i["memo"] for i in out["items"]] == ["grant in dollars"]
    assert out == fund.get("/accounts/1020/statement?commodity=USD")

    r = fund.client.get("/api/v1/accounts/1020/statement?format=csv", headers=fund.finance)
    assert r.status_code == 200
    csv = r.get_data(as_text=True)
    assert "USD" in csv and "1010.00" in csv and "grant in dollars" in csv

    r = fund.client.get("/api/v1/statements/accounts/1020", headers=fund.finance)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
    assert "amounts in USD" in text and "1,010.00" in text and "grant in dollars" in text

    # An account without a currency of its own that holds only dollars.
    assert fund.get("/accounts/3000/statement")["commodity"] == "USD"


def test_khr_accounts_answer_as_before(fund: Fund) -> None:
    _usd_capital(fund)
    for code in ("1010", "1400-CENTRAL", "1400", "2000-S1", "4000"):
        out = fund.get(f"/accounts/{code}/statement")
        assert out["commodity"] == "KHR", code
        assert out == fund.get(f"/accounts/{code}/statement?commodity=KHR"), code
    assert fund.get("/accounts/1400-CENTRAL/statement")["closing"] == "27000"


def test_an_account_of_several_medicines_asks_which(fund: Fund) -> None:
    r = fund.client.get("/api/v1/accounts/9000/statement", headers=fund.finance)
    assert r.status_code == 422
    body = r.get_json()
    assert "AML5, MET500" in body["detail"] and "?commodity=" in body["detail"]
    assert "commodity" in body["errors"]
    out = fund.get("/accounts/9000/statement?commodity=MET500")
    assert out["commodity"] == "MET500" and out["closing"] == "-1000"
