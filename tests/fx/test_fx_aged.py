"""Aged balances in one currency (?in=USD|KHR): each bucket and the total of each currency
converted once at the as-of rate; an account's total equals its line in the converted
balance sheet of the same date; no rate or a currency the fund does not keep is a 422."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.fx.conftest import rate
from tests.support import get, ok, post


def _owes(client: FlaskClient, fin: dict[str, str], day: str, commodity: str, amount: str) -> None:
    ok(
        post(
            client,
            "/journal-entries",
            fin,
            {
                "date": day,
                "memo": "HEF owes",
                "postings": [
                    {"account": "1300-HEF", "commodity": commodity, "amount": amount},
                    {"account": "4000", "commodity": commodity, "amount": "-" + amount},
                ],
            },
        )
    )


def test_aged_balances_in_dollars(
    fund: Flask, client: FlaskClient, fin: dict[str, str], aud: dict[str, str]
) -> None:
    rate(client, fin, "2026-08-01", "4000")
    _owes(client, fin, "2026-08-01", "KHR", "1000001")  # 92 days at 10-31: 90+
    _owes(client, fin, "2026-10-20", "USD", "10.00")  # 0-30
    _owes(client, fin, "2026-10-25", "KHR", "2050")  # 0-30
    rate(client, fin, "2026-10-31", "4100")
    plain = ok(get(client, "/reports/aged-balances?as_of=2026-10-31", aud), 200)
    assert {r["currency"] for r in plain["items"]} == {"KHR", "USD"}
    assert "in" not in plain or plain["in"] is None
    out = ok(get(client, "/reports/aged-balances?as_of=2026-10-31&in=USD", aud), 200)
    assert out["in"] == "USD" and out["rate"] == "4100" and out["rate_date"] == "2026-10-31"
    (row,) = out["items"]
    # 1,000,001 KHR / 4100 = 243.9027 -> 243.90; 2,050 KHR = 0.50; plus 10.00 USD
    assert (row["account"], row["currency"]) == ("1300-HEF", "USD")
    assert (row["0-30"], row["31-60"], row["61-90"], row["90+"]) == (
        "10.50",
        "0.00",
        "0.00",
        "243.90",
    )
    # the total converts each currency's balance once: 1,002,051 KHR = 244.40 + 10.00
    assert row["total"] == "254.40"
    sheet = ok(get(client, "/reports/balance-sheet?as_of=2026-10-31&in=USD", aud), 200)
    assets = {a["account"]: a["amount"] for a in sheet["currencies"][0]["assets"]}
    assert assets["1300-HEF"] == row["total"]
    khr = ok(get(client, "/reports/aged-balances?as_of=2026-10-31&in=KHR", aud), 200)
    (row,) = khr["items"]
    assert (row["currency"], row["0-30"], row["90+"], row["total"]) == (
        "KHR",
        "43050",
        "1000001",
        "1043051",
    )
    csv = client.get(
        "/api/v1/reports/aged-balances?as_of=2026-10-31&in=USD",
        headers=dict(aud, Accept="text/csv"),
    )
    assert csv.status_code == 200 and "243.90" in csv.get_data(as_text=True)


def test_aged_balances_in_a_currency_need_a_rate_and_a_kept_currency(
    fund: Flask, client: FlaskClient, fin: dict[str, str], aud: dict[str, str]
) -> None:
    _owes(client, fin, "2026-10-20", "USD", "10.00")
    r = get(client, "/reports/aged-balances?as_of=2026-10-31&in=KHR", aud)
    assert r.status_code == 422 and "in" in r.get_json()["errors"]
    rate(client, fin, "2026-10-01", "4100")
    r = get(client, "/reports/aged-balances?as_of=2026-10-31&in=EUR", aud)
    assert r.status_code == 422 and "EUR" in r.get_json()["detail"]
