"""Medicines, suppliers and pharmacies; who may do what; bad input on every field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ledger.tables import Account, Commodity
from tests.stock.conftest import pharmacist_of, receipt_line, receive, transfer
from tests.support import API, PROBLEM, ok, post

# --------------------------------------------------------------------------- reference data


def test_a_new_medicine_is_a_commodity_counted_in_whole_units(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    body = ok(client.get(f"{API}/medicines/INSNPH", headers=reference), 200)
    assert (body["code"], body["unit"], body["strength"]) == ("INSNPH", "ml", "100 IU/ml")
    with app.extensions["rdf_db"].session() as s:
        com = s.get(Commodity, "INSNPH")
        assert com is not None and (com.kind, com.exponent) == ("medicine", 0)
    page = ok(client.get(f"{API}/medicines?limit=2", headers=reference), 200)
    assert [m["code"] for m in page["items"]] == ["AML5", "INSNPH"]
    rest = ok(
        client.get(f"{API}/medicines?limit=2&cursor={page['next_cursor']}", headers=reference),
        200,
    )
    assert [m["code"] for m in rest["items"]] == ["MET500"]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("code", ["met500", "M", "9MET", "MET-", "MET 500", "A" * 25, "MÉT"])
def test_a_medicine_code_must_follow_the_beancount_commodity_rule(
    client: FlaskClient, finance: dict[str, str], code: str
) -> None:
    resp = post(
        client,
        "/medicines",
        finance,
        {"code": code, "name": "x", "strength": "1 mg", "form": "tablet", "unit": "tablet"},
    )
    assert resp.status_code == 422
    assert resp.mimetype == PROBLEM
    assert "starts with a letter" in " ".join(resp.get_json()["errors"]["code"]) or len(code) > 24


def test_a_medicine_cannot_take_the_code_of_a_currency_or_another_medicine(
    client: FlaskClient, reference: dict[str, str]
) -> None:
    for code in ("KHR", "MET500"):
        resp = post(
            client,
            "/medicines",
            reference,
            {"code": code, "name": "x", "strength": "1", "form": "f", "unit": "u"},
        )
        assert resp.status_code == 409


def test_a_pharmacy_comes_with_its_three_sub_accounts(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    body = ok(client.get(f"{API}/pharmacies/P1", headers=reference), 200)
    assert body["accounts"] == {"due_from": "1200-P1", "inventory": "1400-P1", "due_to": "2100-P1"}
    with app.extensions["rdf_db"].session() as s:
        rows = {
            a.code: (a.parent, a.type, a.carries, a.is_inventory, a.pharmacy)
            for a in s.scalars(select(Account).where(Account.pharmacy == "P1"))
        }
    assert rows == {
        "1200-P1": ("1200", "asset", "money", False, "P1"),
        "1400-P1": ("1400", "asset", "money+units", True, "P1"),
        "2100-P1": ("2100", "liability", "money", False, "P1"),
    }


def test_a_supplier_comes_with_its_payable_account(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    assert ok(client.get(f"{API}/suppliers/S1", headers=reference), 200)["account"] == "2000-S1"
    with app.extensions["rdf_db"].session() as s:
        acc = s.get(Account, "2000-S1")
        assert acc is not None and (acc.parent, acc.type) == ("2000", "liability")
    assert client.get(f"{API}/suppliers/NOPE", headers=reference).status_code == 404


@pytest.mark.parametrize("code", ["CENTRAL", "p1", "P 1", "", "P1/2", "-P1"])
def test_a_pharmacy_code_is_upper_case_letters_digits_and_dashes_and_not_central(
    client: FlaskClient, finance: dict[str, str], code: str, unchanged: Callable[[], None]
) -> None:
    unchanged()
    resp = post(
        client,
        "/pharmacies",
        finance,
        {"code": code, "name": "x", "province": "Takeo", "district": "Doun Kaev"},
    )
    assert resp.status_code == 422
    unchanged()


def test_a_pharmacy_code_is_taken_once(client: FlaskClient, reference: dict[str, str]) -> None:
    resp = post(
        client,
        "/pharmacies",
        reference,
        {"code": "P1", "name": "again", "province": "Takeo", "district": "Doun Kaev"},
    )
    assert resp.status_code == 409


# --------------------------------------------------------------------------- access


WRITES: list[tuple[str, dict[str, Any]]] = [
    ("/medicines", {"code": "GLI80", "name": "G", "strength": "80 mg", "form": "t", "unit": "t"}),
    ("/suppliers", {"code": "S9", "name": "S"}),
    ("/pharmacies", {"code": "P9", "name": "P", "province": "x", "district": "y"}),
    (
        "/stock/receipts",
        {"supplier": "S1", "location": "CENTRAL", "date": "2026-10-01", "lines": [receipt_line()]},
    ),
    (
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P1",
            "date": "2026-10-05",
            "lines": [{"medicine": "MET500", "quantity": 1}],
        },
    ),
    (
        "/stock/write-offs",
        {
            "location": "CENTRAL",
            "date": "2026-10-05",
            "reason": "lost",
            "lines": [{"medicine": "MET500", "lot": "L1", "quantity": 1}],
        },
    ),
    (
        "/stock/counts",
        {
            "location": "CENTRAL",
            "date": "2026-10-05",
            "lines": [{"medicine": "MET500", "lot": "L1", "counted": 1}],
        },
    ),
]


@pytest.mark.parametrize("path,body", WRITES, ids=[w[0] for w in WRITES])
def test_only_finance_writes_reference_data_and_stock(
    app: Flask,
    client: FlaskClient,
    reference: dict[str, str],
    auditor: dict[str, str],
    path: str,
    body: dict[str, Any],
    unchanged: Callable[[], None],
) -> None:
    ok(receive(client, reference, receipt_line()))
    pharmacist = pharmacist_of(app, "P1")
    unchanged()
    for headers in (auditor, pharmacist):
        assert post(client, path, headers, body).status_code == 403
    assert client.post(API + path, json=body).status_code == 401
    unchanged()


def test_a_pharmacist_reads_only_its_own_pharmacys_stock(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line()))
    ok(transfer(client, reference, {"medicine": "MET500", "quantity": 400}))
    ok(transfer(client, reference, {"medicine": "MET500", "quantity": 100}, dst="P2"))
    mine = pharmacist_of(app, "P1")
    rows = ok(client.get(f"{API}/stock/on-hand", headers=mine), 200)
    assert {r["location"] for r in rows} == {"P1"}
    assert client.get(f"{API}/stock/on-hand?location=P2", headers=mine).status_code == 404
    assert client.get(f"{API}/stock/on-hand?location=CENTRAL", headers=mine).status_code == 404
    assert {
        r["location"]
        for r in ok(client.get(f"{API}/stock/expiring?within_days=3650", headers=mine), 200)
    } == {"P1"}
    card = client.get(f"{API}/stock/movements?medicine=MET500&from=2026-10-01", headers=mine)
    assert ok(card, 200)["location"] == "P1"
    other = client.get(
        f"{API}/stock/movements?location=P2&medicine=MET500&from=2026-10-01", headers=mine
    )
    assert other.status_code == 404
    assert [p["code"] for p in ok(client.get(f"{API}/pharmacies", headers=mine), 200)["items"]] == [
        "P1"
    ]
    assert client.get(f"{API}/pharmacies/P2", headers=mine).status_code == 404
    assert client.get(f"{API}/suppliers", headers=mine).status_code == 403


def test_finance_and_auditors_read_every_place(
    client: FlaskClient, reference: dict[str, str], auditor: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line()))
    ok(transfer(client, reference, {"medicine": "MET500", "quantity": 400}))
    for headers in (reference, auditor):
        rows = ok(client.get(f"{API}/stock/on-hand", headers=headers), 200)
        assert [r["location"] for r in rows] == ["CENTRAL", "P1"]


# --------------------------------------------------------------------------- bad input


def receipt_with(**line: Any) -> dict[str, Any]:
    return {
        "supplier": "S1",
        "location": "CENTRAL",
        "date": "2026-10-01",
        "lines": [dict(receipt_line(), **line)],
    }


BAD_RECEIPTS: list[tuple[str, dict[str, Any]]] = [
    ("negative quantity", receipt_with(quantity=-5)),
    ("zero quantity", receipt_with(quantity=0)),
    ("fractional quantity", receipt_with(quantity=2.5)),
    ("quantity as text", receipt_with(quantity="10")),
    ("quantity true", receipt_with(quantity=True)),
    ("unknown medicine", receipt_with(medicine="NOPE1")),
    ("medicine a number", receipt_with(medicine=5)),
    ("expiry before receipt", receipt_with(expiry="2026-09-30")),
    ("expiry not a date", receipt_with(expiry="31/03/2028")),
    ("cost with decimals in riel", receipt_with(total_cost="35000.5")),
    ("cost negative", receipt_with(total_cost="-35000")),
    ("cost zero", receipt_with(total_cost="0")),
    ("cost below a riel per unit", receipt_with(total_cost="999")),
    ("cost a float", receipt_with(total_cost=35000.0)),
    ("cost not a number", receipt_with(total_cost="35k")),
    ("lot with a colon", receipt_with(lot="A:1")),
    ("lot empty", receipt_with(lot="")),
    ("unknown supplier", dict(receipt_with(), supplier="S404")),
    ("unknown place", dict(receipt_with(), location="P404")),
    ("date in the future", dict(receipt_with(), date="2027-01-01")),
    ("no lines", dict(receipt_with(), lines=[])),
    ("lines not a list", dict(receipt_with(), lines={"a": 1})),
    ("line not an object", dict(receipt_with(), lines=[5])),
    ("missing supplier", {k: v for k, v in receipt_with().items() if k != "supplier"}),
]


@pytest.mark.parametrize("body", [b for _n, b in BAD_RECEIPTS], ids=[n for n, _b in BAD_RECEIPTS])
def test_a_bad_receipt_is_a_4xx_problem_that_changes_nothing(
    client: FlaskClient,
    reference: dict[str, str],
    body: dict[str, Any],
    unchanged: Callable[[], None],
) -> None:
    unchanged()
    resp = post(client, "/stock/receipts", reference, body)
    assert 400 <= resp.status_code < 500, resp.get_json()
    assert resp.mimetype == PROBLEM
    unchanged()


def transfer_with(**line: Any) -> dict[str, Any]:
    return {
        "from": "CENTRAL",
        "to": "P1",
        "date": "2026-10-05",
        "lines": [dict({"medicine": "MET500", "quantity": 10}, **line)],
    }


BAD_TRANSFERS: list[tuple[str, dict[str, Any]]] = [
    ("negative quantity", transfer_with(quantity=-1)),
    ("zero quantity", transfer_with(quantity=0)),
    ("fractional quantity", transfer_with(quantity=0.5)),
    ("unknown medicine", transfer_with(medicine="NOPE1")),
    ("unknown lot", transfer_with(lot="NOPE")),
    ("lot of another medicine", transfer_with(medicine="AML5", lot="L1")),
    ("unknown source", dict(transfer_with(), **{"from": "P404"})),
    ("unknown destination", dict(transfer_with(), to="P404")),
    ("lower-case place", dict(transfer_with(), to="p1")),
    ("date a number", dict(transfer_with(), date=20261005)),
    ("before 2000", dict(transfer_with(), date="1999-12-31")),
    ("more than on hand", transfer_with(quantity=1001)),
]


@pytest.mark.parametrize("body", [b for _n, b in BAD_TRANSFERS], ids=[n for n, _b in BAD_TRANSFERS])
def test_a_bad_transfer_is_a_4xx_problem_that_changes_nothing(
    client: FlaskClient,
    reference: dict[str, str],
    body: dict[str, Any],
    unchanged: Callable[[], None],
) -> None:
    ok(receive(client, reference, receipt_line()))
    unchanged()
    resp = post(client, "/stock/transfers", reference, body)
    assert 400 <= resp.status_code < 500, resp.get_json()
    assert resp.mimetype == PROBLEM
    unchanged()


BAD_OTHERS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "write-off reason",
        "/stock/write-offs",
        {
            "location": "CENTRAL",
            "date": "2026-10-05",
            "reason": "stolen",
            "lines": [{"medicine": "MET500", "lot": "L1", "quantity": 1}],
        },
    ),
    (
        "write-off without lot",
        "/stock/write-offs",
        {
            "location": "CENTRAL",
            "date": "2026-10-05",
            "reason": "lost",
            "lines": [{"medicine": "MET500", "quantity": 1}],
        },
    ),
    (
        "write-off unknown lot",
        "/stock/write-offs",
        {
            "location": "CENTRAL",
            "date": "2026-10-05",
            "reason": "lost",
            "lines": [{"medicine": "MET500", "lot": "X9", "quantity": 1}],
        },
    ),
    (
        "write-off at an empty place",
        "/stock/write-offs",
        {
            "location": "P2",
            "date": "2026-10-05",
            "reason": "lost",
            "lines": [{"medicine": "MET500", "lot": "L1", "quantity": 1}],
        },
    ),
    (
        "count negative",
        "/stock/counts",
        {
            "location": "CENTRAL",
            "date": "2026-10-05",
            "lines": [{"medicine": "MET500", "lot": "L1", "counted": -1}],
        },
    ),
    (
        "count fractional",
        "/stock/counts",
        {
            "location": "CENTRAL",
            "date": "2026-10-05",
            "lines": [{"medicine": "MET500", "lot": "L1", "counted": 1.5}],
        },
    ),
    (
        "count twice one lot",
        "/stock/counts",
        {
            "location": "CENTRAL",
            "date": "2026-10-05",
            "lines": [
                {"medicine": "MET500", "lot": "L1", "counted": 1},
                {"medicine": "MET500", "lot": "L1", "counted": 2},
            ],
        },
    ),
    (
        "count unknown place",
        "/stock/counts",
        {
            "location": "NOWHERE",
            "date": "2026-10-05",
            "lines": [{"medicine": "MET500", "lot": "L1", "counted": 1}],
        },
    ),
    (
        "medicine without unit",
        "/medicines",
        {"code": "GLI80", "name": "G", "strength": "80 mg", "form": "tablet"},
    ),
    (
        "medicine name a list",
        "/medicines",
        {"code": "GLI80", "name": ["G"], "strength": "80 mg", "form": "tablet", "unit": "tablet"},
    ),
    ("supplier code lower", "/suppliers", {"code": "s2", "name": "S"}),
    ("supplier name empty", "/suppliers", {"code": "S2", "name": ""}),
]


@pytest.mark.parametrize(
    "path,body", [(p, b) for _n, p, b in BAD_OTHERS], ids=[n for n, _p, _b in BAD_OTHERS]
)
def test_bad_write_offs_counts_and_reference_data_are_4xx_problems_that_change_nothing(
    client: FlaskClient,
    reference: dict[str, str],
    path: str,
    body: dict[str, Any],
    unchanged: Callable[[], None],
) -> None:
    ok(receive(client, reference, receipt_line()))
    unchanged()
    resp = post(client, path, reference, body)
    assert 400 <= resp.status_code < 500, resp.get_json()
    assert resp.mimetype == PROBLEM
    unchanged()


def test_a_body_that_is_not_json_is_a_400_problem(
    client: FlaskClient, reference: dict[str, str]
) -> None:
    resp = client.post(
        f"{API}/stock/receipts",
        data="{not json",
        headers=dict(reference, **{"Content-Type": "application/json"}),
    )
    assert resp.status_code in (400, 422)
    assert resp.mimetype == PROBLEM
