"""Trial balance and account statement as CSV and XLSX: the same figures as the JSON,
numbers as numbers, dates as dates, header bold and frozen, every line (no pagination)."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from reports import account_statement
from reports.tabular import XLSX_MIME, parse_csv_sections
from tests.reports.conftest import ok


def get(
    client: FlaskClient, h: dict[str, str], path: str, accept: str | None = None, **query: Any
) -> Any:
    headers = dict(h)
    if accept is not None:
        headers["Accept"] = accept
    r = client.get(path, query_string=query, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r


def statement_json_all_pages(
    client: FlaskClient, h: dict[str, str], code: str, **query: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        q = dict(query, limit=2, **({"cursor": cursor} if cursor else {}))
        page = ok(client.get(f"/api/v1/accounts/{code}/statement", query_string=q, headers=h), 200)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return page, items


def test_trial_balance_json_is_unchanged_by_default_and_for_a_browser(
    client: FlaskClient, auditor: dict[str, str], month: dict[str, Any]
) -> None:
    plain = get(client, auditor, "/api/v1/reports/trial-balance")
    browser = get(
        client,
        auditor,
        "/api/v1/reports/trial-balance",
        "text/html,application/xhtml+xml,*/*;q=0.8",
    )
    assert plain.mimetype == browser.mimetype == "application/json"
    assert plain.get_json() == browser.get_json() and plain.get_json()["balanced"]


def test_trial_balance_csv_parsed_back_equals_the_json(
    client: FlaskClient, auditor: dict[str, str], month: dict[str, Any]
) -> None:
    js = get(client, auditor, "/api/v1/reports/trial-balance", as_of="2026-10-31").get_json()
    r = get(client, auditor, "/api/v1/reports/trial-balance", "text/csv", as_of="2026-10-31")
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    sections = parse_csv_sections(r.get_data(as_text=True))
    assert list(sections) == ["Trial balance", "Totals"]
    header, *rows = sections["Trial balance"]
    assert [dict(zip(header, row, strict=True)) for row in rows] == js["rows"]
    header, *rows = sections["Totals"]
    assert [dict(zip(header, row, strict=True)) for row in rows] == js["totals"]
    # ?format= wins over Accept
    again = get(
        client,
        auditor,
        "/api/v1/reports/trial-balance",
        "application/json",
        as_of="2026-10-31",
        format="csv",
    )
    assert again.get_data() == r.get_data()


def test_trial_balance_xlsx_has_typed_cells_and_totals_equal_to_the_api(
    client: FlaskClient, auditor: dict[str, str], month: dict[str, Any]
) -> None:
    js = get(client, auditor, "/api/v1/reports/trial-balance").get_json()
    r = get(client, auditor, "/api/v1/reports/trial-balance", XLSX_MIME)
    assert r.mimetype == XLSX_MIME
    wb = load_workbook(io.BytesIO(r.get_data()))
    assert wb.sheetnames == ["Trial balance", "Totals"]
    ws = wb["Trial balance"]
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    assert header == ["account", "name", "type", "commodity", "debit", "credit"]
    assert all(c.font.b for c in ws[1])
    sums: dict[str, list[Decimal]] = {}
    formats: dict[Any, set[Any]] = {}
    for row in ws.iter_rows(min_row=2):
        commodity = row[3].value
        for cell in row[4:6]:
            assert isinstance(cell.value, int | float) and not isinstance(cell.value, bool)
        formats.setdefault(commodity, set()).update({row[4].number_format, row[5].number_format})
        t = sums.setdefault(commodity, [Decimal(0), Decimal(0)])
        t[0] += Decimal(str(row[4].value))
        t[1] += Decimal(str(row[5].value))
    assert formats["KHR"] == {"#,##0"} and formats["USD"] == {"#,##0.00"}
    assert formats["MET500"] == {"#,##0"}
    api = {t["commodity"]: [Decimal(t["debit"]), Decimal(t["credit"])] for t in js["totals"]}
    assert sums == api
    totals = wb["Totals"]
    assert [[c.value for c in row] for row in totals.iter_rows(min_row=2, max_col=1)] == [
        [c] for c in sorted(api)
    ]
    assert all(ws.column_dimensions[col].width >= 8 for col in "ABCDEF")


@pytest.mark.parametrize("page_size", [2, 1000])
def test_statement_csv_holds_every_line_of_every_page_equal_to_the_json(
    client: FlaskClient,
    finance: dict[str, str],
    month: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    page_size: int,
) -> None:
    monkeypatch.setattr(account_statement, "STATEMENT_PAGE", page_size)
    query = {"from": "2026-10-01", "to": "2026-10-31", "commodity": "USD"}
    last, items = statement_json_all_pages(client, finance, "1020", **query)
    assert len(items) == 3
    r = get(client, finance, "/api/v1/accounts/1020/statement", "text/csv", limit=1, **query)
    sections = parse_csv_sections(r.get_data(as_text=True))
    header, *rows = sections["Postings"]
    as_csv = [{k: v for k, v in item.items()} for item in items]
    for item in as_csv:
        item["source"] = item["source"] or ""
        item["lot"] = item["lot"] or ""
    assert [dict(zip(header, row, strict=True)) for row in rows] == as_csv
    sh, summary = sections["Summary"]
    got = dict(zip(sh, summary, strict=True))
    for key in (
        "account",
        "name",
        "commodity",
        "from",
        "to",
        "opening",
        "closing",
        "total_debit",
        "total_credit",
    ):
        assert got[key] == str(last[key]), key


def test_statement_xlsx_has_dates_as_dates_and_balances_as_numbers(
    client: FlaskClient, finance: dict[str, str], month: dict[str, Any]
) -> None:
    query = {"from": "2026-09-01", "to": "2026-10-31", "commodity": "KHR"}
    js, items = statement_json_all_pages(client, finance, "1010", **query)
    r = get(client, finance, "/api/v1/accounts/1010/statement", format="xlsx", **query)
    wb = load_workbook(io.BytesIO(r.get_data()))
    ws = wb["Postings"]
    assert ws.freeze_panes == "A2"
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(items) == 3
    for row, item in zip(rows, items, strict=True):
        assert isinstance(row[0], datetime) and row[0].date().isoformat() == item["date"]
        assert isinstance(row[9], int | float) and Decimal(str(row[9])) == Decimal(item["balance"])
    summary = dict(
        zip([c.value for c in wb["Summary"][1]], [c.value for c in wb["Summary"][2]], strict=True)
    )
    assert Decimal(str(summary["closing"])) == Decimal(js["closing"]) == Decimal("8730433")
    assert Decimal(str(summary["total_debit"])) == Decimal(js["total_debit"])


def test_a_format_no_one_offers_is_a_406_problem(
    client: FlaskClient, auditor: dict[str, str]
) -> None:
    r = client.get("/api/v1/reports/trial-balance", headers={**auditor, "Accept": "image/png"})
    assert r.status_code == 406 and r.mimetype == "application/problem+json"
    r = client.get("/api/v1/reports/trial-balance?format=ods", headers=auditor)
    assert r.status_code == 406
