"""Two currencies through the API, each DESIGN.md example to the riel and the cent: rates,
an exchange, a receipt invoiced in USD, a payment in the other currency, a landed cost; the
same event at a stated rate and at the looked-up one; bad input refused, nothing posted."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.fx.conftest import balance, postings_of, rate, snapshot
from tests.support import get, ok, post


def usd_receipt(
    client: FlaskClient,
    fin: dict[str, str],
    *,
    lot: str = "L1",
    cost: str = "250.00",
    quantity: int = 1000,
    day: str = "2026-10-05",
    rate_: str | None = None,
    extra_lines: list[dict[str, Any]] | None = None,
    status: int = 201,
) -> Any:
    body: dict[str, Any] = {
        "supplier": "IMP",
        "location": "CENTRAL",
        "date": day,
        "currency": "USD",
        "lines": [
            {
                "medicine": "MET500",
                "lot": lot,
                "expiry": "2028-03-31",
                "quantity": quantity,
                "total_cost": cost,
            }
        ]
        + (extra_lines or []),
    }
    if rate_ is not None:
        body["rate"] = rate_
    return ok(post(client, "/stock/receipts", fin, body), status)


# --------------------------------------------------------------------------- rates


def test_rates_are_history_one_per_date(
    fund: Flask, client: FlaskClient, fin: dict[str, str], aud: dict[str, str]
) -> None:
    out = rate(client, fin, "2026-10-01", "4100.500000")
    assert out["rate"] == "4100.5" and out["base"] == "USD" and out["quote"] == "KHR"
    rate(client, fin, "2026-10-10", "4080.123456")
    again = post(client, "/fx-rates", fin, {"date": "2026-10-01", "rate": "4000"})
    assert again.status_code == 409
    assert "history" in again.get_json()["detail"]
    page = ok(get(client, "/fx-rates?from=2026-10-01&to=2026-10-31", aud), 200)
    assert [r["rate"] for r in page["items"]] == ["4100.5", "4080.123456"]
    on = ok(get(client, "/fx-rates/on/2026-10-09", aud), 200)
    assert on["rate"] == "4100.5" and on["date"] == "2026-10-01" and on["on"] == "2026-10-09"
    assert ok(get(client, "/fx-rates/on/2026-10-10", aud), 200)["rate"] == "4080.123456"
    assert get(client, "/fx-rates/on/2026-09-30", aud).status_code == 404
    # an auditor reads, never writes
    assert post(client, "/fx-rates", aud, {"date": "2026-10-02", "rate": "4100"}).status_code == 403
    first = ok(get(client, "/fx-rates?limit=1", aud), 200)
    second = ok(get(client, f"/fx-rates?limit=1&cursor={first['next_cursor']}", aud), 200)
    assert [r["date"] for r in first["items"] + second["items"]] == ["2026-10-01", "2026-10-10"]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0", "greater than zero"),
        ("-4100", "greater than zero"),
        ("4100.1234567", "7 decimals"),
        (4100.5, "decimal string"),
        ("abc", "not a decimal"),
    ],
)
def test_bad_rates_are_a_clear_problem_and_record_nothing(
    fund: Flask, client: FlaskClient, fin: dict[str, str], value: Any, why: str
) -> None:
    before = snapshot(fund)
    r = post(client, "/fx-rates", fin, {"date": "2026-10-01", "rate": value})
    assert r.status_code == 422, r.get_json()
    assert why in r.get_json()["detail"] and "rate" in r.get_json()["errors"]
    assert snapshot(fund) == before


def test_a_rate_is_khr_per_usd_only(fund: Flask, client: FlaskClient, fin: dict[str, str]) -> None:
    r = post(
        client,
        "/fx-rates",
        fin,
        {"date": "2026-10-01", "base": "KHR", "quote": "USD", "rate": "0.00025"},
    )
    assert r.status_code == 422


# --------------------------------------------------------------------------- exchange


def test_design_exchange_1000_usd_for_4080000_khr(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    out = ok(
        post(
            client,
            "/fx/exchanges",
            fin,
            {
                "date": "2026-10-03",
                "sell": {"currency": "USD", "amount": "1000.00"},
                "buy": {"currency": "KHR", "amount": "4080000"},
                "reference": "ABA-77",
            },
        )
    )
    assert out["rate"] == "4080.000000"
    assert postings_of(fund, out["entry_id"]) == [
        ("1010", "KHR", 4_080_000),
        ("1020", "USD", -100_000),
        ("9100", "KHR", -4_080_000),
        ("9100", "USD", 100_000),
    ]


def test_an_exchange_implies_its_rate_to_six_decimals(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    out = ok(
        post(
            client,
            "/fx/exchanges",
            fin,
            {
                "date": "2026-10-03",
                "sell": {"currency": "KHR", "amount": "1000000"},
                "buy": {"currency": "USD", "amount": "243.37"},
            },
        )
    )
    # 1,000,000 / 243.37 = 4108.9698812...
    assert out["rate"] == "4108.969881"


@pytest.mark.parametrize(
    ("sell", "buy", "field"),
    [
        (
            {"currency": "EUR", "amount": "10"},
            {"currency": "KHR", "amount": "41000"},
            "sell.currency",
        ),
        ({"currency": "USD", "amount": "10"}, {"currency": "USD", "amount": "10"}, "buy.currency"),
        ({"currency": "USD", "amount": "0"}, {"currency": "KHR", "amount": "41000"}, "sell.amount"),
        (
            {"currency": "USD", "amount": "-10"},
            {"currency": "KHR", "amount": "41000"},
            "sell.amount",
        ),
        (
            {"currency": "USD", "amount": "10.001"},
            {"currency": "KHR", "amount": "41000"},
            "sell.amount",
        ),
    ],
)
def test_bad_exchanges_post_nothing(
    fund: Flask, client: FlaskClient, fin: dict[str, str], sell: Any, buy: Any, field: str
) -> None:
    before = snapshot(fund)
    r = post(client, "/fx/exchanges", fin, {"date": "2026-10-03", "sell": sell, "buy": buy})
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"]
    assert snapshot(fund) == before


def test_an_exchange_is_idempotent(fund: Flask, client: FlaskClient, fin: dict[str, str]) -> None:
    body = {
        "date": "2026-10-03",
        "sell": {"currency": "USD", "amount": "10.00"},
        "buy": {"currency": "KHR", "amount": "41000"},
    }
    h = dict(fin, **{"Idempotency-Key": "x-1"})
    a = ok(post(client, "/fx/exchanges", h, body))
    before = snapshot(fund)
    b = ok(post(client, "/fx/exchanges", h, body))
    assert a == b and snapshot(fund) == before
    assert post(client, "/fx/exchanges", h, dict(body, reference="other")).status_code == 409


# --------------------------------------------------------------------------- receipts in USD


def test_design_receipt_250_usd_at_4100(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    rate(client, fin, "2026-10-01", "4100")
    out = usd_receipt(client, fin)
    assert out["currency"] == "USD" and out["total_cost"] == "250.00"
    assert out["value_currency"] == "KHR" and out["total_value"] == "1025000"
    assert out["rate"] == "4100" and out["rate_date"] == "2026-10-01"
    assert out["lines"][0]["value"] == "1025000"
    assert postings_of(fund, out["entry_id"]) == [
        ("1400-CENTRAL", "KHR", 1_025_000),
        ("1400-CENTRAL", "MET500", 1000),
        ("2000-IMP", "USD", -25_000),
        ("9000", "MET500", -1000),
        ("9100", "KHR", -1_025_000),
        ("9100", "USD", 25_000),
    ]
    on_hand = ok(get(client, "/stock/on-hand?location=CENTRAL", fin), 200)
    assert [(r["lot"], r["quantity"], r["value"]) for r in on_hand] == [("L1", 1000, "1025000")]


def test_a_stated_rate_wins_and_equals_the_looked_up_one(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    stated = usd_receipt(client, fin, lot="A", rate_="4100")  # no rate recorded at all
    rate(client, fin, "2026-10-01", "4100")
    looked_up = usd_receipt(client, fin, lot="B")
    assert stated["rate_date"] is None and looked_up["rate_date"] == "2026-10-01"
    assert [p for p in postings_of(fund, stated["entry_id"])] == [
        p for p in postings_of(fund, looked_up["entry_id"])
    ]
    other = usd_receipt(client, fin, lot="C", rate_="4000.5")
    assert other["total_value"] == "1000125"  # 25000 * 4000.5 / 100


def test_a_receipt_needs_a_rate_and_a_kept_currency(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    before = snapshot(fund)
    out = usd_receipt(client, fin, status=422)
    assert "rate" in out["errors"] and "2026-10-05" in out["detail"]
    for bad in ("0", "-1", "4100.1234567"):
        out = usd_receipt(client, fin, rate_=bad, status=422)
        assert "rate" in out["errors"]
    r = post(
        client,
        "/stock/receipts",
        fin,
        {
            "supplier": "IMP",
            "location": "CENTRAL",
            "date": "2026-10-05",
            "currency": "EUR",
            "rate": "4400",
            "lines": [
                {
                    "medicine": "MET500",
                    "lot": "L1",
                    "expiry": "2028-03-31",
                    "quantity": 1,
                    "total_cost": "1.00",
                }
            ],
        },
    )
    assert r.status_code == 422 and "currency" in r.get_json()["errors"]
    assert snapshot(fund) == before


# --------------------------------------------------------------------------- payments


def _claim(client: FlaskClient, fin: dict[str, str], amount: int) -> None:
    ok(
        post(
            client,
            "/journal-entries",
            fin,
            {
                "date": "2026-10-02",
                "memo": "HEF claim October",
                "postings": [
                    {"account": "1300-HEF", "commodity": "KHR", "amount": str(amount)},
                    {"account": "4000", "commodity": "KHR", "amount": str(-amount)},
                ],
            },
        )
    )


def test_a_payer_settles_a_riel_claim_in_dollars(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    _claim(client, fin, 410_000)
    rate(client, fin, "2026-10-01", "4100")
    body = {
        "date": "2026-10-20",
        "direction": "in",
        "counterparty": {"kind": "scheme", "code": "HEF"},
        "amount": "100.00",
        "currency": "USD",
        "reference": "HEF-OCT",
    }
    out = ok(post(client, "/payments", fin, body))
    assert postings_of(fund, out["entry_id"]) == [
        ("1020", "USD", 10_000),
        ("1300-HEF", "KHR", -410_000),
        ("9100", "KHR", 410_000),
        ("9100", "USD", -10_000),
    ]
    assert out["settled"] == {
        "currency": "KHR",
        "amount": "410000",
        "rate": "4100",
        "rate_stated": False,
        "rate_date": "2026-10-01",
    }
    assert out["counterparty_balance"]["currency"] == "KHR"
    assert out["counterparty_balance"]["position"] == "settled"
    assert len(out["legs"]) == 4
    assert balance(fund, "1300-HEF", "KHR") == 0


def test_a_payment_at_a_stated_rate(fund: Flask, client: FlaskClient, fin: dict[str, str]) -> None:
    _claim(client, fin, 100_000)
    body = {
        "date": "2026-10-20",
        "direction": "in",
        "counterparty": {"kind": "scheme", "code": "HEF"},
        "amount": "24.39",
        "currency": "USD",
        "rate": "4100.5",
        "reference": "HEF-OCT",
    }
    out = ok(post(client, "/payments", fin, body))
    # 2439 cents * 4100.5 / 100 = 100011.195 -> 100011
    assert ("1300-HEF", "KHR", -100_011) in postings_of(fund, out["entry_id"])
    assert out["settled"]["rate_stated"] is True


def test_a_usd_supplier_is_paid_in_usd_without_conversion(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    rec = usd_receipt(client, fin, rate_="4100")
    out = ok(
        post(
            client,
            "/payments",
            fin,
            {
                "date": "2026-10-21",
                "direction": "out",
                "counterparty": {"kind": "supplier", "code": "IMP"},
                "amount": "250.00",
                "currency": "USD",
                "reference": "WIRE-1",
                "applies_to": {"kind": "receipt", "id": rec["id"]},
            },
        )
    )
    assert postings_of(fund, out["entry_id"]) == [
        ("1020", "USD", -25_000),
        ("2000-IMP", "USD", 25_000),
    ]
    assert "settled" not in out
    assert out["applies_to"]["status"] == "paid"


def test_a_usd_supplier_paid_in_riel_meets_in_9100(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    rec = usd_receipt(client, fin, rate_="4100")
    out = ok(
        post(
            client,
            "/payments",
            fin,
            {
                "date": "2026-10-21",
                "direction": "out",
                "counterparty": {"kind": "supplier", "code": "IMP"},
                "amount": "1030000",
                "currency": "KHR",
                "rate": "4120",
                "reference": "CASH-1",
                "applies_to": {"kind": "receipt", "id": rec["id"]},
            },
        )
    )
    assert postings_of(fund, out["entry_id"]) == [
        ("1010", "KHR", -1_030_000),
        ("2000-IMP", "USD", 25_000),
        ("9100", "KHR", 1_030_000),
        ("9100", "USD", -25_000),
    ]
    assert out["applies_to"]["status"] == "paid"


def test_a_payment_in_the_other_currency_without_a_rate_posts_nothing(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    _claim(client, fin, 410_000)
    before = snapshot(fund)
    body = {
        "date": "2026-10-20",
        "direction": "in",
        "counterparty": {"kind": "scheme", "code": "HEF"},
        "amount": "100.00",
        "currency": "USD",
        "reference": "HEF-OCT",
    }
    r = post(client, "/payments", fin, body)
    assert r.status_code == 422 and "rate" in r.get_json()["errors"]
    r = post(client, "/payments", fin, dict(body, rate="0"))
    assert r.status_code == 422 and "rate" in r.get_json()["errors"]
    r = post(client, "/payments", fin, dict(body, currency="KHR", amount="410000", rate="4100"))
    assert r.status_code == 422 and "rate" in r.get_json()["errors"]
    r = post(client, "/payments", fin, dict(body, currency="EUR", rate="4100"))
    assert r.status_code == 422 and "currency" in r.get_json()["errors"]
    assert snapshot(fund) == before


# --------------------------------------------------------------------------- landed cost


def test_landed_cost_by_value_remainder_to_the_last_line(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    rec = usd_receipt(
        client,
        fin,
        rate_="4100",
        cost="100.00",  # 410,000 KHR
        extra_lines=[
            {
                "medicine": "AML5",
                "lot": "A1",
                "expiry": "2028-06-30",
                "quantity": 500,
                "total_cost": "200.00",
            },
        ],  # 820,000 KHR
    )
    out = ok(
        post(
            client,
            f"/stock/receipts/{rec['id']}/landed-costs",
            fin,
            {
                "date": "2026-10-06",
                "counterparty": "FWD",
                "amount": "100001",
                "currency": "KHR",
                "description": "Freight Bangkok - Phnom Penh",
            },
        )
    )
    # 100001 * 410000 / 1230000 = 33333.67 -> 33334; last takes 100001 - 33334 = 66667
    assert [(s["lot"], s["share"], s["value_after"]) for s in out["shares"]] == [
        ("L1", "33334", "443334"),
        ("A1", "66667", "886667"),
    ]
    assert postings_of(fund, out["entry_id"]) == sorted(
        [
            ("1400-CENTRAL", "KHR", 33_334),
            ("1400-CENTRAL", "KHR", 66_667),
            ("2000-FWD", "KHR", -100_001),
        ]
    )
    # a second one in USD at its own rate: through 9100, the forwarder owed dollars
    usd = ok(
        post(
            client,
            f"/stock/receipts/{rec['id']}/landed-costs",
            fin,
            {
                "date": "2026-10-06",
                "counterparty": "FWD",
                "amount": "30.00",
                "currency": "USD",
                "rate": "4100",
                "description": "Port and customs",
            },
        )
    )
    assert usd["functional_amount"] == "123000"
    assert [s["share"] for s in usd["shares"]] == ["41000", "82000"]
    assert sorted(postings_of(fund, usd["entry_id"])) == sorted(
        [
            ("1400-CENTRAL", "KHR", 41_000),
            ("1400-CENTRAL", "KHR", 82_000),
            ("9100", "KHR", -123_000),
            ("9100", "USD", 3_000),
            ("2000-FWD", "USD", -3_000),
        ]
    )


def test_landed_cost_on_a_moved_receipt_is_a_409_naming_the_lot(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    rec = usd_receipt(client, fin, rate_="4100")
    ok(
        post(
            client,
            "/stock/transfers",
            fin,
            {
                "from": "CENTRAL",
                "to": "P1",
                "date": "2026-10-07",
                "lines": [{"medicine": "MET500", "quantity": 1}],
            },
        )
    )
    before = snapshot(fund)
    r = post(
        client,
        f"/stock/receipts/{rec['id']}/landed-costs",
        fin,
        {
            "date": "2026-10-08",
            "counterparty": "FWD",
            "amount": "5000",
            "currency": "KHR",
            "description": "Freight",
        },
    )
    assert r.status_code == 409, r.get_json()
    body = r.get_json()
    assert "L1" in body["detail"] and body["lot"] == "L1"
    assert snapshot(fund) == before


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"counterparty": "NOPE"}, 422, "counterparty"),
        ({"currency": "EUR"}, 422, "currency"),
        ({"amount": "0"}, 422, "amount"),
        ({"currency": "USD", "amount": "10.00"}, 422, "rate"),
        ({"currency": "USD", "amount": "10.00", "rate": "0"}, 422, "rate"),
        ({"currency": "USD", "amount": "10.00", "rate": "-4100"}, 422, "rate"),
        ({"currency": "USD", "amount": "10.00", "rate": "4100.0000001"}, 422, "rate"),
    ],
)
def test_bad_landed_costs_post_nothing(
    fund: Flask,
    client: FlaskClient,
    fin: dict[str, str],
    change: dict[str, str],
    status: int,
    field: str,
) -> None:
    rec = usd_receipt(client, fin, rate_="4100")
    before = snapshot(fund)
    body = {
        "date": "2026-10-08",
        "counterparty": "FWD",
        "amount": "5000",
        "currency": "KHR",
        "description": "F",
    }
    r = post(client, f"/stock/receipts/{rec['id']}/landed-costs", fin, dict(body, **change))
    assert r.status_code == status, r.get_json()
    assert field in r.get_json()["errors"]
    assert snapshot(fund) == before
    assert post(client, "/stock/receipts/999/landed-costs", fin, body).status_code == 404
