"""GET /accounts, GET /accounts/{code}/balance, GET /accounts/{code}/statement."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.ledger.conftest import add_accounts, assert_problem, body, pair, posted


def test_the_chart_of_accounts_pages_through_every_account_once(
    app: Flask, client: FlaskClient, auditor: dict[str, str]
) -> None:
    add_accounts(app, ("1200-P1", "1200", "P1"), ("1200-P2", "1200", "P2"))
    full = client.get("/api/v1/accounts", query_string={"limit": 1000}, headers=auditor)
    assert full.status_code == 200
    everything = [a["code"] for a in full.get_json()["items"]]
    assert full.get_json()["next_cursor"] is None
    assert {"1010", "1020", "1200", "1200-P1", "3000", "4000", "9000"} <= set(everything)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        q: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        r = client.get("/api/v1/accounts", query_string=q, headers=auditor)
        assert r.status_code == 200
        page = r.get_json()
        assert len(page["items"]) <= 3
        seen += [a["code"] for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything
    assert pages == -(-len(everything) // 3)
    p1 = next(a for a in full.get_json()["items"] if a["code"] == "1200-P1")
    assert p1["parent"] == "1200" and p1["pharmacy"] == "P1" and p1["is_header"] is False


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "tampered"},
        {"cursor": "IjEwMTAi.AAAAAAAAAAAAAAAAAAAAAAAAAAA"},
        {"limit": 0},
        {"limit": -1},
        {"limit": 100000},
        {"limit": "ten"},
        {"limit": "1.5"},
    ],
)
def test_a_bad_page_request_is_a_4xx_problem(
    client: FlaskClient, auditor: dict[str, str], query: dict[str, Any]
) -> None:
    r = client.get("/api/v1/accounts", query_string=query, headers=auditor)
    assert_problem(r, 400, 422, validation=True)


def test_a_cursor_altered_by_the_client_is_refused(
    client: FlaskClient, auditor: dict[str, str]
) -> None:
    cursor = client.get("/api/v1/accounts?limit=2", headers=auditor).get_json()["next_cursor"]
    assert cursor
    flipped = cursor[:-1] + ("A" if cursor[-1] != "A" else "B")
    r = client.get("/api/v1/accounts", query_string={"cursor": flipped}, headers=auditor)
    assert_problem(r, 400, 422)


# ----------------------------------------------------------------- balance


def test_a_balance_answers_per_commodity_and_as_of_a_date(
    client: FlaskClient, finance: dict[str, str], auditor: dict[str, str], books: Any
) -> None:
    posted(client, finance, body("2026-10-20", "fee", pair("5100", "3000", "KHR", "-300")))
    posted(client, finance, body("2026-11-02", "usd in", pair("3000", "1020", "USD", "-0.50")))
    now = client.get("/api/v1/accounts/3000/balance", headers=auditor).get_json()
    assert now["account"] == "3000"
    assert {(b["commodity"], b["amount"]) for b in now["balances"]} == {
        ("KHR", "-999700"),
        ("USD", "-2500.50"),
    }
    early = client.get("/api/v1/accounts/3000/balance?as_of=2026-10-15", headers=auditor)
    assert {(b["commodity"], b["amount"]) for b in early.get_json()["balances"]} == {
        ("KHR", "-1000000"),
        ("USD", "-2500.00"),
    }
    before = client.get("/api/v1/accounts/3000/balance?as_of=2026-09-30", headers=auditor)
    assert before.get_json()["balances"] == []


def test_a_header_account_sums_its_sub_accounts(
    app: Flask, client: FlaskClient, finance: dict[str, str], auditor: dict[str, str], books: Any
) -> None:
    add_accounts(app, ("1200-P1", "1200", "P1"), ("1200-P2", "1200", "P2"))
    posted(client, finance, body(postings=pair("1200-P1", "1010", "KHR", "1500")))
    posted(client, finance, body(postings=pair("1200-P2", "1010", "KHR", "2500")))
    posted(client, finance, body(postings=pair("1010", "1200-P2", "KHR", "100")))
    head = client.get("/api/v1/accounts/1200/balance", headers=auditor).get_json()
    assert head["balances"] == [
        {"commodity": "KHR", "lot": None, "medicine": None, "amount": "3900"}
    ]
    p2 = client.get("/api/v1/accounts/1200-P2/balance", headers=auditor).get_json()
    assert p2["balances"][0]["amount"] == "2400"


@pytest.mark.parametrize("code", ["9999", "1010-XX", "x" * 300, "%00", "1010;DROP"])
def test_the_balance_of_an_unknown_account_is_404(
    client: FlaskClient, auditor: dict[str, str], code: str
) -> None:
    assert_problem(client.get(f"/api/v1/accounts/{code}/balance", headers=auditor), 404)


@pytest.mark.parametrize("as_of", ["2026-02-30", "yesterday", "2026-10", "2026-1-1x"])
def test_a_bad_as_of_is_422(client: FlaskClient, auditor: dict[str, str], as_of: str) -> None:
    r = client.get("/api/v1/accounts/1010/balance", query_string={"as_of": as_of}, headers=auditor)
    assert_problem(r, 400, 422, validation=True)


# ----------------------------------------------------------------- statement


@pytest.fixture
def movements(client: FlaskClient, finance: dict[str, str], books: Any) -> list[int]:
    """Ten KHR movements of 1010 over October and November, each a different amount."""
    amounts = [100, -30, 250, -1, 7, 40, -300, 12, 5, -2]
    for i, a in enumerate(amounts):
        day = f"2026-10-{10 + i:02d}" if i < 6 else f"2026-11-{i:02d}"
        other = "5100" if a < 0 else "3000"
        posted(client, finance, body(day, f"move {i}", pair("1010", other, "KHR", str(a))))
    return amounts


def _walk(client: FlaskClient, headers: dict[str, str], url: str, **q: Any) -> list[Any]:
    pages = []
    cursor = None
    while True:
        query = q | ({"cursor": cursor} if cursor else {})
        r = client.get(url, query_string=query, headers=headers)
        assert r.status_code == 200, r.get_data(as_text=True)
        pages.append(r.get_json())
        cursor = pages[-1]["next_cursor"]
        if not cursor:
            return pages


def test_a_statement_has_opening_running_balance_and_closing(
    client: FlaskClient, auditor: dict[str, str], movements: list[int]
) -> None:
    r = client.get("/api/v1/accounts/1010/statement?commodity=KHR", headers=auditor)
    st = r.get_json()
    assert st["opening"] == "0"
    assert [it["amount"] for it in st["items"]] == ["1000000"] + [str(a) for a in movements]
    running = 0
    for it in st["items"]:
        running += int(it["amount"])
        assert it["balance"] == str(running)
        assert int(it["debit"]) - int(it["credit"]) == int(it["amount"])
    assert st["closing"] == str(1_000_000 + sum(movements))


def test_pagination_keeps_the_running_balance_right_across_pages(
    client: FlaskClient, auditor: dict[str, str], movements: list[int]
) -> None:
    url = "/api/v1/accounts/1010/statement"
    whole = client.get(url, query_string={"commodity": "KHR"}, headers=auditor).get_json()
    pages = _walk(client, auditor, url, commodity="KHR", limit=3)
    assert len(pages) == 4
    items = [it for p in pages for it in p["items"]]
    assert items == whole["items"]
    assert {(p["opening"], p["closing"]) for p in pages} == {(whole["opening"], whole["closing"])}


def test_a_statement_from_to_starts_at_the_opening_balance_of_its_first_day(
    client: FlaskClient, auditor: dict[str, str], movements: list[int]
) -> None:
    url = "/api/v1/accounts/1010/statement"
    q = {"commodity": "KHR", "from": "2026-10-12", "to": "2026-11-07"}
    st = client.get(url, query_string=q, headers=auditor).get_json()
    opening = 1_000_000 + sum(movements[:2])
    assert st["opening"] == str(opening)
    inside = movements[2:8]
    assert [it["amount"] for it in st["items"]] == [str(a) for a in inside]
    assert st["closing"] == str(opening + sum(inside))
    assert st["items"][-1]["balance"] == st["closing"]
    assert st["total_debit"] == str(sum(a for a in inside if a > 0))
    assert st["total_credit"] == str(-sum(a for a in inside if a < 0))
    paged = _walk(client, auditor, url, limit=2, **q)
    assert [it for p in paged for it in p["items"]] == st["items"]


def test_a_statement_in_another_commodity_shows_only_that_commodity(
    client: FlaskClient, auditor: dict[str, str], movements: list[int]
) -> None:
    st = client.get("/api/v1/accounts/3000/statement?commodity=USD", headers=auditor).get_json()
    assert st["commodity"] == "USD"
    assert [it["amount"] for it in st["items"]] == ["-2500.00"]
    assert st["closing"] == "-2500.00"


def test_a_header_statement_covers_its_sub_accounts(
    app: Flask, client: FlaskClient, finance: dict[str, str], auditor: dict[str, str], books: Any
) -> None:
    add_accounts(app, ("2100-P1", "2100", "P1"), ("2100-P2", "2100", "P2"))
    posted(client, finance, body("2026-10-02", "a", pair("5100", "2100-P1", "KHR", "10")))
    posted(client, finance, body("2026-10-03", "b", pair("5100", "2100-P2", "KHR", "20")))
    st = client.get("/api/v1/accounts/2100/statement", headers=auditor).get_json()
    assert [it["balance"] for it in st["items"]] == ["-10", "-30"]


@pytest.mark.parametrize(
    "query",
    [
        {"commodity": "XAU"},
        {"from": "2026-11-01", "to": "2026-10-01"},
        {"from": "2026-02-30"},
        {"to": "soon"},
        {"cursor": "forged"},
        {"limit": 0},
    ],
)
def test_a_bad_statement_request_is_a_4xx_problem(
    client: FlaskClient, auditor: dict[str, str], books: Any, query: dict[str, Any]
) -> None:
    r = client.get("/api/v1/accounts/1010/statement", query_string=query, headers=auditor)
    assert_problem(r, 400, 422, validation=True)


def test_the_statement_of_an_unknown_account_is_404(
    client: FlaskClient, auditor: dict[str, str]
) -> None:
    assert_problem(client.get("/api/v1/accounts/7777/statement", headers=auditor), 404)


@pytest.mark.parametrize(
    "query",
    [
        {"from": "0001-01-01"},
        {"to": "9999-12-31"},
        {"from": "0001-01-01", "to": "9999-12-31"},
    ],
)
def test_a_statement_at_the_edges_of_the_calendar_is_not_a_server_error(
    client: FlaskClient, auditor: dict[str, str], books: Any, query: dict[str, str]
) -> None:
    r = client.get("/api/v1/accounts/1010/statement", query_string=query, headers=auditor)
    if r.status_code == 200:
        assert r.get_json()["closing"] == "1000000"
    else:
        assert_problem(r, 400, 422)


@pytest.mark.parametrize("source", ["/api/v1/accounts?limit=2", "/api/v1/periods?limit=1"])
def test_a_cursor_of_another_list_is_refused_by_the_statement(
    client: FlaskClient, finance: dict[str, str], auditor: dict[str, str], books: Any, source: str
) -> None:
    posted(client, finance, body("2026-11-02"))
    cursor = client.get(source, headers=auditor).get_json()["next_cursor"]
    assert cursor
    r = client.get(
        "/api/v1/accounts/1010/statement", query_string={"cursor": cursor}, headers=auditor
    )
    assert_problem(r, 400, 422)
