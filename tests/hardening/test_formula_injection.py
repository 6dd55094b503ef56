"""Issue 22.2: text a spreadsheet would read as a formula is neutralised in every CSV and
XLSX (OWASP: a leading ``'`` in CSV; XLSX text cells typed as strings with the quote
prefix), while amounts stay numbers."""

from __future__ import annotations

import io
import re
import zipfile

from flask.testing import FlaskClient
from openpyxl import load_workbook

from reports.tabular import Col, Report, Section, parse_csv_sections, to_csv, to_xlsx
from tests.dispensing.conftest import Fund

CODE = "=2+5"
MEMO = '=HYPERLINK("http://x","je")'
REFERENCE = "@SUM(1+1)"


def sheet_xml(body: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        return "".join(
            z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")
        )


def cells(body: bytes) -> list[tuple[object, str, bool]]:
    wb = load_workbook(io.BytesIO(body))
    return [
        (c.value, c.data_type, bool(c.quotePrefix))
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
    ]


def test_the_builder_neutralises_text_and_keeps_numbers() -> None:
    cols = [Col("code"), Col("amount", "money", exponent=0), Col("memo"), Col("n", "quantity")]
    rows = [
        [CODE, -1500, MEMO, -3],
        ["-1500", "-1500", REFERENCE, 2],
        ["\tTAB", "12", "\rCR", 1],
        ["+855 12 345", 0, "-", 1],
        ["+12.50", 5, "-1,234.50", 1],
        ["plain", 1, "a=b", 1],
    ]
    report = Report("r", [Section("s", cols, rows)])
    got = parse_csv_sections(to_csv(report))[""]
    assert got[1] == ["'" + CODE, "-1500", "'" + MEMO, "-3"]
    assert got[2] == ["-1500", "-1500", "'" + REFERENCE, "2"]
    assert got[3] == ["'\tTAB", "12", "'\rCR", "1"]
    assert got[4] == ["'+855 12 345", "0", "'-", "1"]
    assert got[5] == ["+12.50", "5", "-1,234.50", "1"]  # plain numbers are left alone
    assert got[6] == ["plain", "1", "a=b", "1"]

    body = to_xlsx(report)
    assert "<f>" not in sheet_xml(body)
    found = cells(body)
    assert (CODE, "s", True) in found and (MEMO, "s", True) in found
    assert (REFERENCE, "s", True) in found
    assert (-1500, "n", False) in found  # the amount is a number
    assert ("-1500", "s", False) in found and ("plain", "s", False) in found


def _download(client: FlaskClient, path: str, headers: dict[str, str], **q: str) -> bytes:
    r = client.get(f"/api/v1{path}", query_string=q, headers=headers)
    assert r.status_code == 200, (path, q, r.status_code, r.get_data()[:300])
    return r.get_data()


def test_a_member_code_in_the_pharmacy_statement(fund: Fund) -> None:
    fund.post("/patients", {"member_code": CODE, "enrolments": []})
    fund.dispense([("MET500", 2)], patient=CODE)
    c, fin = fund.client, fund.finance
    csv_text = _download(c, "/statements/pharmacies/P1", fin, period="2026-10", format="csv")
    assert "'" + CODE in csv_text.decode()
    assert not re.search(r"(^|,)" + re.escape(CODE), csv_text.decode(), re.M)
    body = _download(c, "/statements/pharmacies/P1", fin, period="2026-10", format="xlsx")
    assert "<f>" not in sheet_xml(body)
    assert (CODE, "s", True) in cells(body)


def test_a_memo_in_the_account_statement(fund: Fund) -> None:
    entry = {
        "date": "2026-10-05",
        "memo": MEMO,
        "postings": [
            {"account": "1010", "commodity": "KHR", "amount": "1500"},
            {"account": "3000", "commodity": "KHR", "amount": "-1500"},
        ],
    }
    fund.post("/journal-entries", entry)
    q = {"from": "2026-10-01", "to": "2026-10-31", "commodity": "KHR"}
    c, fin = fund.client, fund.finance
    csv_text = _download(c, "/accounts/1010/statement", fin, format="csv", **q).decode()
    assert "'" + MEMO.replace('"', '""') in csv_text
    body = _download(c, "/accounts/1010/statement", fin, format="xlsx", **q)
    assert "<f>" not in sheet_xml(body)
    found = cells(body)
    assert (MEMO, "s", True) in found
    assert (1500, "n", False) in found  # the amount stays a number


def test_a_bank_reference_in_the_reconciliation(fund: Fund) -> None:
    c, fin = fund.client, fund.finance
    statement = (
        "date,amount,currency,reference,description\r\n"
        f"2026-10-20,-1500,KHR,{REFERENCE},=cmd|' /C calc'!A0\r\n"
    )
    r = c.post(
        "/api/v1/bank-statements",
        data=statement.encode(),
        headers={**fin, "Content-Type": "text/csv"},
    )
    assert r.status_code == 201, r.get_json()
    csv_text = _download(c, "/reconciliation", fin, period="2026-10", format="csv").decode()
    assert "'" + REFERENCE in csv_text and "'=cmd|" in csv_text
    assert ",-1500," in csv_text or ",-1500\r" in csv_text  # the amount is not quoted
    body = _download(c, "/reconciliation", fin, period="2026-10", format="xlsx")
    assert "<f>" not in sheet_xml(body)
    assert (REFERENCE, "s", True) in cells(body)
