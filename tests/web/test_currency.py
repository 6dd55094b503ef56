"""The two-currency page (/app/finance/currency): finance (and admin) only; it shows the
rate in force and the history the API answers; its forms write through the JSON API with
the session (a rate, an exchange, a landed cost on the chosen receipt), bad input is the
API's problem and records nothing; in Khmer too."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from ledger import clock
from ledger.fx_tables import FxExchange, FxRate, LandedCost
from tests.web.conftest import sign_in

PAGE = "/app/finance/currency"


@pytest.mark.parametrize(
    ("user", "status"),
    [("admin", 200), ("finance", 200), ("auditor", 403), ("pharmacist-p-takeo", 403)],
)
def test_the_page_answers_as_the_policy_says(
    client: FlaskClient, fund: dict[str, tuple[str, str]], user: str, status: int
) -> None:
    sign_in(client, user)
    assert client.get(PAGE).status_code == status
    nav = client.get("/app").get_data(as_text=True)
    assert (f'href="{PAGE}"' in nav) is (status == 200)


def test_anonymous_is_sent_to_sign_in(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    r = client.get(PAGE)
    assert r.status_code == 302 and "/app/login" in r.headers["Location"]


def _count(app: Flask, table: type) -> int:
    with app.extensions["rdf_db"].session() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_the_page_shows_the_apis_rates_and_writes_through_the_api(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    csrf = sign_in(client, "finance")
    bearer = {"Authorization": f"Bearer {fund['finance'][1]}"}
    today = clock.today().isoformat()
    in_force = client.get(f"/api/v1/fx-rates/on/{today}", headers=bearer).get_json()
    html = client.get(PAGE).get_data(as_text=True)
    assert f"1 USD = {in_force['rate']} KHR, recorded for {in_force['date']}." in html
    assert "The books are kept in KHR" in html
    for r in client.get("/api/v1/fx-rates", headers=bearer).get_json()["items"]:
        assert f'<th scope="row">{r["date"]}</th><td class="num">{r["rate"]}</td>' in html
    # the forms post where the API takes them
    assert 'data-api="/api/v1/fx-rates"' in html and 'data-api="/api/v1/fx/exchanges"' in html
    receipt = re.search(r'data-api="/api/v1/stock/receipts/(\d+)/landed-costs"', html)
    assert receipt is not None
    session_write = {"X-CSRFToken": csrf}

    # a bad rate is the API's problem and records nothing
    rates = _count(app, FxRate)
    for bad in ("0", "-4100", "4100.1234567"):
        r = client.post(
            "/api/v1/fx-rates", json={"date": today, "rate": bad}, headers=session_write
        )
        assert r.status_code == 422, bad
        assert r.mimetype == "application/problem+json"
    assert _count(app, FxRate) == rates
    r = client.post(
        "/api/v1/fx-rates", json={"date": today, "rate": "4111.5"}, headers=session_write
    )
    assert r.status_code == 201, r.get_json()
    html = client.get(PAGE).get_data(as_text=True)
    assert f"1 USD = 4111.5 KHR, recorded for {today}." in html

    exchanges = _count(app, FxExchange)
    body = {
        "date": today,
        "sell": {"currency": "USD", "amount": "100.00"},
        "buy": {"currency": "KHR", "amount": "411150"},
        "reference": "PAGE-FX-1",
    }
    r = client.post("/api/v1/fx/exchanges", json=body, headers=session_write)
    assert r.status_code == 201, r.get_json()
    assert _count(app, FxExchange) == exchanges + 1
    html = client.get(PAGE).get_data(as_text=True)
    assert "PAGE-FX-1" in html and "4111.500000" in html

    # the landed cost of the demo's dollar import (its lots have not moved)
    html = client.get(f"{PAGE}?receipt={receipt.group(1)}").get_data(as_text=True)
    landed = _count(app, LandedCost)
    r = client.post(
        f"/api/v1/stock/receipts/{receipt.group(1)}/landed-costs",
        json={
            "date": today,
            "counterparty": "FWD-PP",
            "amount": "EUR",
            "currency": "USD",
            "description": "Customs",
        },
        headers=session_write,
    )
    assert r.status_code == 422 and _count(app, LandedCost) == landed


def test_the_page_in_khmer(client: FlaskClient, fund: dict[str, tuple[str, str]]) -> None:
    sign_in(client, "finance")
    html = client.get(f"{PAGE}?lang=km").get_data(as_text=True)
    assert 'lang="km"' in html and "បន្ថែមអត្រាប្តូរប្រាក់" in html and "Add a rate" not in html
