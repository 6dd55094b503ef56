"""DESIGN.md's worked receipt and transfer, to the riel, told step by step."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.stock.conftest import lot_position, receipt_line, receive, transfer
from tests.support import API, ok


def postings_of(client: FlaskClient, headers: dict[str, str], entry_id: str) -> list[Any]:
    entry = ok(client.get(f"{API}/journal-entries/{entry_id}", headers=headers), 200)
    return sorted((p["account"], p["commodity"], p["lot"], p["amount"]) for p in entry["postings"])


def test_a_receipt_posts_units_and_cost_per_lot_as_design_says(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    body = ok(receive(client, reference, receipt_line()))
    assert body["total_cost"] == "35000"
    assert body["currency"] == "KHR"
    assert body["lines"] == [
        {
            "medicine": "MET500",
            "lot": "L1",
            "expiry": "2028-03-31",
            "quantity": 1000,
            "total_cost": "35000",
        }
    ]
    assert postings_of(client, reference, body["entry_id"]) == sorted(
        [
            ("1400-CENTRAL", "MET500", "L1", "1000"),
            ("9000", "MET500", "L1", "-1000"),
            ("1400-CENTRAL", "KHR", "L1", "35000"),
            ("2000-S1", "KHR", None, "-35000"),
        ]
    )
    assert lot_position(app, "CENTRAL", "MET500", "L1") == (1000, 35000)


def test_a_transfer_of_400_moves_14000_riel_of_value_with_the_units(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line()))
    body = ok(transfer(client, reference, {"medicine": "MET500", "quantity": 400}))
    assert set(body) >= {"id", "entry_id", "lines"}
    assert body["lines"][0]["medicine"] == "MET500"
    assert body["lines"][0]["quantity"] == 400
    assert [
        {k: lot[k] for k in ("lot", "quantity", "value")} for lot in body["lines"][0]["lots"]
    ] == [{"lot": "L1", "quantity": 400, "value": "14000"}]
    assert postings_of(client, reference, body["entry_id"]) == sorted(
        [
            ("1400-CENTRAL", "MET500", "L1", "-400"),
            ("1400-P1", "MET500", "L1", "400"),
            ("1400-CENTRAL", "KHR", "L1", "-14000"),
            ("1400-P1", "KHR", "L1", "14000"),
        ]
    )
    assert lot_position(app, "CENTRAL", "MET500", "L1") == (600, 21000)
    assert lot_position(app, "P1", "MET500", "L1") == (400, 14000)
    on_hand = ok(client.get(f"{API}/stock/on-hand?medicine=MET500", headers=reference), 200)
    assert on_hand == [
        {
            "location": "CENTRAL",
            "medicine": "MET500",
            "lot": "L1",
            "expiry": "2028-03-31",
            "quantity": 600,
            "value": "21000",
            "currency": "KHR",
        },
        {
            "location": "P1",
            "medicine": "MET500",
            "lot": "L1",
            "expiry": "2028-03-31",
            "quantity": 400,
            "value": "14000",
            "currency": "KHR",
        },
    ]


def test_taking_the_last_units_of_a_lot_takes_all_its_value_leaving_no_residue(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line(quantity=3, total_cost="100")))
    first = ok(transfer(client, reference, {"medicine": "MET500", "quantity": 1}))
    assert first["lines"][0]["lots"][0]["value"] == "33"
    second = ok(transfer(client, reference, {"medicine": "MET500", "quantity": 1}))
    assert second["lines"][0]["lots"][0]["value"] == "34"  # round_half_up(67 / 2) = 34
    last = ok(transfer(client, reference, {"medicine": "MET500", "quantity": 1}))
    assert last["lines"][0]["lots"][0]["value"] == "33"
    assert lot_position(app, "CENTRAL", "MET500", "L1") == (0, 0)
    assert lot_position(app, "P1", "MET500", "L1") == (3, 100)
