"""Receipts, transfers, write-offs, counts and stock reports through the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.stock.conftest import lot_position, receipt_line, receive, transfer
from tests.support import API, PROBLEM, ok, post


def entry_postings(client: FlaskClient, headers: dict[str, str], entry_id: str) -> list[Any]:
    entry = ok(client.get(f"{API}/journal-entries/{entry_id}", headers=headers), 200)
    return sorted((p["account"], p["commodity"], p["lot"], p["amount"]) for p in entry["postings"])


# --------------------------------------------------------------------------- receipts


def test_a_receipt_of_several_lines_makes_several_lots_in_one_entry(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    body = ok(
        receive(
            client,
            reference,
            receipt_line(lot="A1", quantity=500, total_cost="20000"),
            receipt_line(lot="A2", expiry="2027-06-30", quantity=300, total_cost="11000"),
            receipt_line(medicine="INSNPH", lot="N7", quantity=1000, total_cost="2500000"),
        )
    )
    assert body["total_cost"] == "2531000"
    assert len(entry_postings(client, reference, body["entry_id"])) == 12
    assert lot_position(app, "CENTRAL", "MET500", "A2") == (300, 11000)
    assert lot_position(app, "CENTRAL", "INSNPH", "N7") == (1000, 2500000)


def test_a_known_lot_number_with_the_same_expiry_adds_to_the_lot(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line()))
    ok(receive(client, reference, receipt_line(quantity=200, total_cost="8000"), date="2026-10-02"))
    assert lot_position(app, "CENTRAL", "MET500", "L1") == (1200, 43000)


def test_a_known_lot_number_with_another_expiry_is_a_conflict_and_changes_nothing(
    client: FlaskClient, reference: dict[str, str], unchanged: Callable[[], None]
) -> None:
    ok(receive(client, reference, receipt_line()))
    unchanged()
    resp = receive(client, reference, receipt_line(expiry="2028-04-30"))
    assert resp.status_code == 409
    assert resp.mimetype == PROBLEM
    assert "2028-03-31" in resp.get_json()["detail"]
    unchanged()


def test_a_lot_received_already_expired_is_refused(
    client: FlaskClient, reference: dict[str, str], unchanged: Callable[[], None]
) -> None:
    unchanged()
    resp = receive(client, reference, receipt_line(expiry="2026-09-30"), date="2026-10-01")
    assert resp.status_code == 422
    assert "lines.0.expiry" in resp.get_json()["errors"]
    unchanged()


def test_a_lot_expiring_on_the_receipt_date_may_be_received(
    client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line(expiry="2026-10-01"), date="2026-10-01"))


def test_a_receipt_into_a_pharmacy_fills_its_inventory_account(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line(), location="P2"))
    assert lot_position(app, "P2", "MET500", "L1") == (1000, 35000)


# --------------------------------------------------------------------------- transfers


def two_lots(client: FlaskClient, headers: dict[str, str]) -> None:
    ok(
        receive(
            client,
            headers,
            receipt_line(lot="LATE", expiry="2028-06-30", quantity=100, total_cost="4000"),
            receipt_line(lot="SOON", expiry="2027-01-31", quantity=100, total_cost="3000"),
        )
    )


def test_a_transfer_takes_the_lot_expiring_first_then_the_next(
    client: FlaskClient, reference: dict[str, str]
) -> None:
    two_lots(client, reference)
    body = ok(transfer(client, reference, {"medicine": "MET500", "quantity": 150}))
    assert [(x["lot"], x["quantity"], x["value"]) for x in body["lines"][0]["lots"]] == [
        ("SOON", 100, "3000"),
        ("LATE", 50, "2000"),
    ]


def test_a_transfer_naming_a_lot_takes_only_from_it(
    client: FlaskClient, reference: dict[str, str]
) -> None:
    two_lots(client, reference)
    body = ok(transfer(client, reference, {"medicine": "MET500", "quantity": 10, "lot": "LATE"}))
    assert [(x["lot"], x["quantity"]) for x in body["lines"][0]["lots"]] == [("LATE", 10)]


def test_expired_lots_are_never_picked_and_one_expiring_that_day_is(
    client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(
        receive(
            client,
            reference,
            receipt_line(lot="OLD", expiry="2026-11-04", quantity=50, total_cost="2000"),
            receipt_line(lot="TODAY", expiry="2026-11-05", quantity=50, total_cost="2000"),
            receipt_line(lot="NEW", expiry="2028-01-31", quantity=50, total_cost="2000"),
        )
    )
    body = ok(
        transfer(client, reference, {"medicine": "MET500", "quantity": 60}, date="2026-11-05")
    )
    assert [(x["lot"], x["quantity"]) for x in body["lines"][0]["lots"]] == [
        ("TODAY", 50),
        ("NEW", 10),
    ]


def test_a_short_transfer_is_409_naming_the_medicine_and_what_is_available(
    client: FlaskClient, reference: dict[str, str], unchanged: Callable[[], None]
) -> None:
    ok(
        receive(
            client,
            reference,
            receipt_line(lot="OLD", expiry="2026-11-01", quantity=500, total_cost="20000"),
            receipt_line(lot="NEW", expiry="2028-01-31", quantity=70, total_cost="2800"),
        )
    )
    unchanged()
    resp = transfer(client, reference, {"medicine": "MET500", "quantity": 71}, date="2026-11-05")
    assert resp.status_code == 409
    problem = resp.get_json()
    assert "MET500" in problem["detail"] and "CENTRAL" in problem["detail"]
    assert problem["available"] == 70
    assert "70" in problem["detail"]
    unchanged()


def test_naming_an_expired_lot_in_a_transfer_is_refused(
    client: FlaskClient, reference: dict[str, str], unchanged: Callable[[], None]
) -> None:
    ok(receive(client, reference, receipt_line(lot="OLD", expiry="2026-11-01")))
    unchanged()
    resp = transfer(
        client, reference, {"medicine": "MET500", "quantity": 1, "lot": "OLD"}, date="2026-11-02"
    )
    assert resp.status_code == 409
    assert "expired" in resp.get_json()["detail"]
    unchanged()


def test_two_lines_of_one_transfer_share_the_lot_without_overdrawing_it(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line(quantity=3, total_cost="100")))
    body = ok(
        transfer(
            client,
            reference,
            {"medicine": "MET500", "quantity": 2},
            {"medicine": "MET500", "quantity": 1},
        )
    )
    assert [line["lots"][0]["value"] for line in body["lines"]] == ["67", "33"]
    assert lot_position(app, "CENTRAL", "MET500", "L1") == (0, 0)
    resp = transfer(
        client,
        reference,
        {"medicine": "MET500", "quantity": 1},
        {"medicine": "MET500", "quantity": 1},
        src="P1",
        dst="P2",
    )
    assert ok(resp)["lines"][1]["lots"][0]["value"] == "34"
    short = transfer(
        client,
        reference,
        {"medicine": "MET500", "quantity": 1},
        {"medicine": "MET500", "quantity": 1},
        src="P2",
        dst="CENTRAL",
    )
    assert short.status_code == 201


def test_a_transfer_to_the_same_place_is_refused(
    client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line()))
    resp = transfer(client, reference, {"medicine": "MET500", "quantity": 1}, dst="CENTRAL")
    assert resp.status_code == 422


def test_a_transfer_is_idempotent_under_its_key(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line()))
    body = {
        "from": "CENTRAL",
        "to": "P1",
        "date": "2026-10-05",
        "lines": [{"medicine": "MET500", "quantity": 10}],
    }
    headers = dict(reference, **{"Idempotency-Key": "t-1"})
    first = client.post(f"{API}/stock/transfers", json=body, headers=headers)
    again = client.post(f"{API}/stock/transfers", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert lot_position(app, "P1", "MET500", "L1") == (10, 350)
    other = client.post(
        f"{API}/stock/transfers", json=dict(body, date="2026-10-06"), headers=headers
    )
    assert other.status_code == 409


# --------------------------------------------------------------------------- write-offs


def test_a_write_off_moves_units_and_value_to_5200_and_keeps_the_reason(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line(lot="OLD", expiry="2026-11-01")))
    body = ok(
        post(
            client,
            "/stock/write-offs",
            reference,
            {
                "location": "CENTRAL",
                "date": "2026-11-20",
                "reason": "expired",
                "lines": [{"medicine": "MET500", "lot": "OLD", "quantity": 1000}],
            },
        )
    )
    assert body["reason"] == "expired"
    assert body["lines"][0]["lots"][0]["value"] == "35000"
    assert entry_postings(client, reference, body["entry_id"]) == sorted(
        [
            ("1400-CENTRAL", "MET500", "OLD", "-1000"),
            ("5200", "MET500", "OLD", "1000"),
            ("1400-CENTRAL", "KHR", "OLD", "-35000"),
            ("5200", "KHR", None, "35000"),
        ]
    )
    entry = ok(client.get(f"{API}/journal-entries/{body['entry_id']}", headers=reference), 200)
    assert "expired" in entry["memo"]
    assert lot_position(app, "CENTRAL", "MET500", "OLD") == (0, 0)


def test_a_write_off_of_more_than_the_lot_holds_is_409(
    client: FlaskClient, reference: dict[str, str], unchanged: Callable[[], None]
) -> None:
    ok(receive(client, reference, receipt_line(quantity=5, total_cost="500")))
    unchanged()
    resp = post(
        client,
        "/stock/write-offs",
        reference,
        {
            "location": "CENTRAL",
            "date": "2026-11-20",
            "reason": "damaged",
            "lines": [{"medicine": "MET500", "lot": "L1", "quantity": 6}],
        },
    )
    assert resp.status_code == 409
    unchanged()


# --------------------------------------------------------------------------- counts


def count(
    client: FlaskClient, headers: dict[str, str], counted: int, location: str = "CENTRAL"
) -> Any:
    return post(
        client,
        "/stock/counts",
        headers,
        {
            "location": location,
            "date": "2026-11-20",
            "lines": [{"medicine": "MET500", "lot": "L1", "counted": counted}],
        },
    )


def test_a_count_below_book_posts_the_loss_to_5400_by_the_lot_value_rule(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line()))
    body = ok(count(client, reference, 990))
    assert body["differences"] == [
        {
            "medicine": "MET500",
            "lot": "L1",
            "expiry": "2028-03-31",
            "book": 1000,
            "counted": 990,
            "difference": -10,
            "value": "-350",
        }
    ]
    assert lot_position(app, "CENTRAL", "MET500", "L1") == (990, 34650)
    assert ("5400", "KHR", None, "350") in entry_postings(client, reference, body["entry_id"])


def test_a_count_above_book_adds_units_at_the_lots_average_value(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line(quantity=3, total_cost="100")))
    body = ok(count(client, reference, 4))
    assert body["differences"][0]["value"] == "33"  # round_half_up(100 * 1 / 3)
    assert lot_position(app, "CENTRAL", "MET500", "L1") == (4, 133)


def test_a_count_finding_a_lot_the_books_show_empty_values_it_at_receipt_cost(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line()))
    ok(transfer(client, reference, {"medicine": "MET500", "quantity": 1000}))
    body = ok(count(client, reference, 7))
    assert body["differences"][0]["value"] == "245"  # 35000 / 1000 * 7
    assert lot_position(app, "CENTRAL", "MET500", "L1") == (7, 245)


def test_a_count_that_matches_the_book_posts_nothing(
    client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line()))
    body = ok(count(client, reference, 1000))
    assert body["entry_id"] is None
    assert body["differences"] == []


def test_counting_an_expired_lot_to_zero_is_allowed(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line(expiry="2026-11-01")))
    ok(count(client, reference, 0))
    assert lot_position(app, "CENTRAL", "MET500", "L1") == (0, 0)


# --------------------------------------------------------------------------- reading


def test_on_hand_as_of_a_past_date_leaves_out_later_movements(
    client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line()))
    ok(transfer(client, reference, {"medicine": "MET500", "quantity": 400}, date="2026-10-20"))
    before = ok(
        client.get(f"{API}/stock/on-hand?location=CENTRAL&as_of=2026-10-19", headers=reference),
        200,
    )
    assert [(r["quantity"], r["value"]) for r in before] == [(1000, "35000")]
    none_yet = ok(
        client.get(f"{API}/stock/on-hand?location=P1&as_of=2026-10-19", headers=reference), 200
    )
    assert none_yet == []


def test_on_hand_of_an_unknown_place_is_404(client: FlaskClient, reference: dict[str, str]) -> None:
    assert client.get(f"{API}/stock/on-hand?location=NOPE", headers=reference).status_code == 404


def test_expiring_lists_lots_within_the_window_with_quantity_and_value(
    client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(
        receive(
            client,
            reference,
            receipt_line(lot="SOON", expiry="2026-12-31", quantity=100, total_cost="3000"),
            receipt_line(lot="LATER", expiry="2028-01-31", quantity=100, total_cost="3000"),
        )
    )
    ok(transfer(client, reference, {"medicine": "MET500", "quantity": 40}))
    rows = ok(client.get(f"{API}/stock/expiring?within_days=60", headers=reference), 200)
    assert [(r["location"], r["lot"], r["quantity"], r["value"], r["days_left"]) for r in rows] == [
        ("CENTRAL", "SOON", 60, "1800", 38),
        ("P1", "SOON", 40, "1200", 38),
    ]
    bad = client.get(f"{API}/stock/expiring?within_days=-1", headers=reference)
    assert bad.status_code == 422


def test_the_stock_card_runs_from_opening_to_closing(
    client: FlaskClient, reference: dict[str, str]
) -> None:
    ok(receive(client, reference, receipt_line(), date="2026-09-20"))
    ok(transfer(client, reference, {"medicine": "MET500", "quantity": 400}, date="2026-10-05"))
    ok(transfer(client, reference, {"medicine": "MET500", "quantity": 100}, date="2026-10-06"))
    card = ok(
        client.get(
            f"{API}/stock/movements?location=CENTRAL&medicine=MET500&from=2026-10-01&to=2026-10-31",
            headers=reference,
        ),
        200,
    )
    assert card["opening"] == {"quantity": 1000, "value": "35000"}
    assert [
        (i["quantity"], i["value"], i["balance_quantity"], i["balance_value"])
        for i in card["items"]
    ] == [(-400, "-14000", 600, "21000"), (-100, "-3500", 500, "17500")]
    assert card["closing"] == {"quantity": 500, "value": "17500"}
    page = ok(
        client.get(
            f"{API}/stock/movements?location=CENTRAL&medicine=MET500&from=2026-10-01"
            f"&to=2026-10-31&limit=1",
            headers=reference,
        ),
        200,
    )
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = ok(
        client.get(
            f"{API}/stock/movements?location=CENTRAL&medicine=MET500&from=2026-10-01"
            f"&to=2026-10-31&limit=1&cursor={page['next_cursor']}",
            headers=reference,
        ),
        200,
    )
    assert [i["balance_quantity"] for i in rest["items"]] == [500]
    assert rest["next_cursor"] is None
