"""GET /reports/trial-balance, GET /periods, POST /periods/{YYYY-MM}/close."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.ledger.conftest import assert_problem, body, pair, post, posted, snapshot, trial_balance


def _close(client: FlaskClient, h: dict[str, str], period: str, **payload: Any) -> Any:
    return client.post(f"/api/v1/periods/{period}/close", json=payload, headers=h)


# ----------------------------------------------------------------- trial balance


def test_the_trial_balance_as_of_a_date_ignores_later_entries(
    client: FlaskClient, finance: dict[str, str], auditor: dict[str, str], books: Any
) -> None:
    early = trial_balance(client, auditor)
    posted(client, finance, body("2026-11-05", "later", pair("5100", "1010", "KHR", "999")))
    assert trial_balance(client, auditor, as_of="2026-11-04")["rows"] == early["rows"]
    late = trial_balance(client, auditor, as_of="2026-11-05")
    assert late["balanced"] is True
    assert {t["commodity"]: t["debit"] for t in late["totals"]}["KHR"] == "1000000"
    rows = {(r["account"], r["commodity"]): r for r in late["rows"]}
    assert rows[("1010", "KHR")]["debit"] == "999001"
    assert trial_balance(client, auditor, as_of="2026-09-30")["rows"] == []


def test_the_trial_balance_of_one_commodity_has_equal_totals(
    client: FlaskClient, finance: dict[str, str], auditor: dict[str, str], books: Any
) -> None:
    posted(client, finance, body(postings=pair("5100", "1020", "USD", "0.07")))
    tb = trial_balance(client, auditor, commodity="USD")
    assert {r["commodity"] for r in tb["rows"]} == {"USD"}
    assert tb["total_debit"] == tb["total_credit"] == "2500.00"
    assert tb["balanced"] is True


@pytest.mark.parametrize(
    "query",
    [{"commodity": "XAU"}, {"commodity": ""}, {"as_of": "2026-02-30"}, {"as_of": "today"}],
)
def test_a_bad_trial_balance_request_is_a_4xx_problem(
    client: FlaskClient, auditor: dict[str, str], query: dict[str, str]
) -> None:
    r = client.get("/api/v1/reports/trial-balance", query_string=query, headers=auditor)
    assert_problem(r, 400, 422, validation=True)


# ----------------------------------------------------------------- periods


def test_there_are_no_periods_before_the_first_entry(
    client: FlaskClient, auditor: dict[str, str], finance: dict[str, str]
) -> None:
    r = client.get("/api/v1/periods", headers=auditor)
    assert r.status_code == 200 and r.get_json()["items"] == []
    assert_problem(_close(client, finance, "2026-10"), 404, 409)


@pytest.fixture
def two_months(client: FlaskClient, finance: dict[str, str]) -> None:
    posted(client, finance, body("2026-09-05", "capital", pair("1010", "3000", "KHR", "500000")))
    posted(client, finance, body("2026-10-07", "fee", pair("5100", "1010", "KHR", "1200")))


def test_periods_run_from_the_first_entry_month_to_this_month(
    client: FlaskClient, auditor: dict[str, str], two_months: None
) -> None:
    items = client.get("/api/v1/periods", headers=auditor).get_json()["items"]
    assert [(p["period"], p["status"]) for p in items] == [
        ("2026-09", "open"),
        ("2026-10", "open"),
        ("2026-11", "open"),
    ]
    first = client.get("/api/v1/periods?limit=2", headers=auditor).get_json()
    assert [p["period"] for p in first["items"]] == ["2026-09", "2026-10"]
    rest = client.get(
        "/api/v1/periods",
        query_string={"limit": 2, "cursor": first["next_cursor"]},
        headers=auditor,
    ).get_json()
    assert [p["period"] for p in rest["items"]] == ["2026-11"] and rest["next_cursor"] is None


def test_months_close_in_order(
    app: Flask, client: FlaskClient, finance: dict[str, str], two_months: None
) -> None:
    before = snapshot(app)
    p = assert_problem(_close(client, finance, "2026-10"), 409)
    assert "2026-09" in p["detail"]
    assert snapshot(app) == before
    r = _close(client, finance, "2026-09")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["status"] == "closed" and r.get_json()["forced"] is False
    assert _close(client, finance, "2026-10").status_code == 200
    assert_problem(_close(client, finance, "2026-10"), 409)  # already closed


def test_a_month_that_has_not_ended_is_refused_with_its_failed_checks_listed(
    client: FlaskClient, finance: dict[str, str], two_months: None
) -> None:
    for m in ("2026-09", "2026-10"):
        assert _close(client, finance, m).status_code == 200
    p = assert_problem(_close(client, finance, "2026-11"), 409)
    assert any("not ended" in c for c in p["checks"]), p
    assert_problem(_close(client, finance, "2026-11", force=True), 422, validation=True)
    assert_problem(_close(client, finance, "2026-11", force=True, reason="   "), 422)
    r = _close(client, finance, "2026-11", force=True, reason="auditor visit")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["forced"] is True and r.get_json()["reason"] == "auditor visit"


def test_a_late_entry_for_a_closed_month_is_booked_in_the_next_open_month(
    client: FlaskClient, finance: dict[str, str], auditor: dict[str, str], two_months: None
) -> None:
    assert _close(client, finance, "2026-09").status_code == 200
    closed_tb = trial_balance(client, auditor, as_of="2026-09-30")
    late = posted(client, finance, body("2026-09-20", "late", pair("5100", "1010", "KHR", "77")))
    assert late["service_date"] == "2026-09-20"
    assert late["accounting_date"] == "2026-10-01"
    assert _close(client, finance, "2026-10").status_code == 200
    later = posted(client, finance, body("2026-09-21", "later", pair("5100", "1010", "KHR", "5")))
    assert (later["service_date"], later["accounting_date"]) == ("2026-09-21", "2026-11-01")
    # a reversal of an entry of a closed month is booked in an open one too
    rev = client.post(
        f"/api/v1/journal-entries/{late['id']}/reverse",
        json={"date": "2026-10-31"},
        headers=finance,
    )
    assert rev.status_code == 201 and rev.get_json()["accounting_date"] == "2026-11-01"
    assert trial_balance(client, auditor, as_of="2026-09-30") == closed_tb
    stmt = client.get(
        "/api/v1/accounts/1010/statement",
        query_string={"from": "2026-09-01", "to": "2026-09-30"},
        headers=auditor,
    ).get_json()
    assert [it["amount"] for it in stmt["items"]] == ["500000"]


def test_the_trial_balance_of_a_closed_month_never_changes(
    client: FlaskClient, finance: dict[str, str], auditor: dict[str, str], two_months: None
) -> None:
    for m in ("2026-09", "2026-10"):
        assert _close(client, finance, m).status_code == 200
    frozen = {
        m: trial_balance(client, auditor, as_of=d)
        for m, d in (("09", "2026-09-30"), ("10", "2026-10-31"))
    }
    for day in ("2026-09-01", "2026-09-30", "2026-10-15", "2026-10-31", "2026-11-01"):
        posted(client, finance, body(day, "after close", pair("5100", "1010", "KHR", "3")))
    assert trial_balance(client, auditor, as_of="2026-09-30") == frozen["09"]
    assert trial_balance(client, auditor, as_of="2026-10-31") == frozen["10"]


@pytest.mark.parametrize(
    "period",
    [
        "2026-13",
        "2026-00",
        "2026-1",
        "26-10",
        "202610",
        "2026-10-01",
        "abcd-ef",
        "2026_10",
        "２０２６-10",
    ],
)
def test_a_bad_period_string_is_a_4xx_problem(
    app: Flask, client: FlaskClient, finance: dict[str, str], two_months: None, period: str
) -> None:
    before = snapshot(app)
    assert_problem(_close(client, finance, period), 400, 404, 422)
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "payload",
    [{"force": "yes please"}, {"force": 1.5}, {"reason": 5}, {"reason": "x" * 5000}, [1], "close"],
)
def test_a_bad_close_body_is_a_4xx_problem(
    app: Flask, client: FlaskClient, finance: dict[str, str], two_months: None, payload: Any
) -> None:
    before = snapshot(app)
    r = client.post("/api/v1/periods/2026-09/close", json=payload, headers=finance)
    assert_problem(r, 400, 422)
    assert snapshot(app) == before


def test_closing_a_month_before_the_first_one_is_refused(
    client: FlaskClient, finance: dict[str, str], two_months: None
) -> None:
    assert_problem(_close(client, finance, "2026-08"), 404, 409)


def test_an_entry_dated_in_a_closed_month_never_lands_in_it_even_with_a_key(
    client: FlaskClient, finance: dict[str, str], auditor: dict[str, str], two_months: None
) -> None:
    assert _close(client, finance, "2026-09").status_code == 200
    r = post(client, finance, body("2026-09-30", "k", pair("5100", "1010", "KHR", "1")), "late-k")
    assert r.get_json()["accounting_date"] == "2026-10-01"
