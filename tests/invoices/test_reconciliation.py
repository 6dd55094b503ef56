"""Reconciliation of a month: matched pairs, open lines, unmatched payments, and the
difference between the bank (sum of imported lines) and the books (1010/1020), per currency."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from reports.tabular import parse_csv_sections
from tests.invoices.conftest import journal
from tests.invoices.test_bank_statements import GOOD, _payments, _post_csv


def test_october_reconciles_to_the_riel_with_one_open_line_and_one_unbanked_payment(
    books: Flask, client: FlaskClient, fin: dict[str, str], aud: dict[str, str]
) -> None:
    ids = _payments(client, fin)
    assert _post_csv(client, fin, GOOD).status_code == 201
    r = client.get("/api/v1/reconciliation?period=2026-10", headers=aud)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["as_of"] == "2026-10-31"
    assert sorted(m["payment"]["id"] for m in body["matched"]) == sorted(
        [ids["p1"], ids["hef"], ids["s1"], ids["usd"]]
    )
    assert [(ln["amount"], ln["reference"]) for ln in body["unmatched_bank_lines"]] == [
        ("-2500", "FEE")
    ]
    assert [(p["id"], p["amount"]) for p in body["unmatched_payments"]] == [(ids["cap"], "100000")]
    khr, usd = body["currencies"]
    # bank: 3000 + 1500 - 35000 - 2500; books: 100000 + 3000 + 1500 - 35000
    assert khr == {
        "currency": "KHR",
        "bank_account": "1010",
        "bank_balance": "-33000",
        "book_balance": "69500",
        "difference": "-102500",
        "unmatched_bank_lines_total": "-2500",
        "unmatched_payments_total": "100000",
        "unexplained": "0",
    }
    assert (usd["bank_balance"], usd["book_balance"], usd["difference"]) == (
        "12.50",
        "12.50",
        "0.00",
    )
    assert usd["unexplained"] == "0.00"


def test_a_bank_movement_booked_outside_payments_shows_as_unexplained(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    _payments(client, fin)
    _post_csv(client, fin, GOOD)
    journal(client, fin, "2026-10-31", [("1010", "KHR", "100"), ("4000", "KHR", "-100")])
    khr = client.get("/api/v1/reconciliation?period=2026-10", headers=fin).get_json()["currencies"][
        0
    ]
    assert (khr["book_balance"], khr["difference"], khr["unexplained"]) == (
        "69600",
        "-102600",
        "-100",
    )


def test_a_month_before_any_movement_is_empty_and_later_lines_do_not_count(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    _payments(client, fin)
    _post_csv(client, fin, GOOD)
    body = client.get("/api/v1/reconciliation?period=2026-09", headers=fin).get_json()
    assert body["matched"] == [] and body["unmatched_bank_lines"] == []
    assert body["unmatched_payments"] == []
    assert [c["difference"] for c in body["currencies"]] == ["0", "0.00"]


def test_the_reconciliation_is_also_a_csv_with_the_same_figures(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    _payments(client, fin)
    _post_csv(client, fin, GOOD)
    r = client.get("/api/v1/reconciliation?period=2026-10", headers={**fin, "Accept": "text/csv"})
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    sections = parse_csv_sections(r.get_data(as_text=True))
    summary = sections["Summary"]
    assert summary[0][:5] == [
        "currency",
        "bank_account",
        "bank_balance",
        "book_balance",
        "difference",
    ]
    assert summary[1][:5] == ["KHR", "1010", "-33000", "69500", "-102500"]
    assert len(sections["Matched"]) == 1 + 4
    assert [row[5] for row in sections["Unmatched bank lines"][1:]] == ["-2500"]


def test_a_bad_period_is_refused_and_pharmacists_may_not_reconcile(
    books: Flask, client: FlaskClient, fin: dict[str, str], pharmacist: dict[str, str]
) -> None:
    assert client.get("/api/v1/reconciliation?period=2026-13", headers=fin).status_code == 422
    assert client.get("/api/v1/reconciliation", headers=fin).status_code == 422
    assert (
        client.get("/api/v1/reconciliation?period=2026-10", headers=pharmacist).status_code == 403
    )
