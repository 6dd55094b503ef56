"""Payments: each counterparty kind and direction to the riel, USD cents, partial and
over-payment visible, nonsensical combinations refused, idempotency, roles."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from invoices import payments
from tests.invoices.conftest import balance, journal, pay


def test_a_pharmacy_remittance_reduces_what_it_owes_and_fills_the_khr_bank(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    journal(client, fin, "2026-10-05", [("1200-P1", "KHR", "5000"), ("4000", "KHR", "-5000")])
    p = pay(client, fin, direction="in", kind="pharmacy", code="P1", amount="3000")
    assert balance(client, fin, "1010") == "3000"
    assert balance(client, fin, "1200-P1") == "2000"
    assert p["counterparty_balance"] == {
        "account": "1200-P1",
        "currency": "KHR",
        "balance": "2000",
        "due": "2000",
        "position": "owing",
    }
    entry = client.get(f"/api/v1/journal-entries/{p['entry_id']}", headers=fin).get_json()
    assert entry["source"] == f"payment:{p['id']}"
    assert sorted((x["account"], x["amount"]) for x in entry["postings"]) == [
        ("1010", "3000"),
        ("1200-P1", "-3000"),
    ]


def test_a_partial_then_an_overpaying_remittance_shows_as_a_credit_of_the_pharmacy(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    journal(client, fin, "2026-10-05", [("1200-P1", "KHR", "5000"), ("4000", "KHR", "-5000")])
    first = pay(client, fin, direction="in", kind="pharmacy", code="P1", amount="3000")
    assert first["counterparty_balance"]["position"] == "owing"
    second = pay(client, fin, direction="in", kind="pharmacy", code="P1", amount="2500")
    assert balance(client, fin, "1200-P1") == "-500"
    assert second["counterparty_balance"]["due"] == "-500"
    assert second["counterparty_balance"]["position"] == "overpaid"
    again = client.get(f"/api/v1/payments/{first['id']}", headers=fin).get_json()
    assert again["counterparty_balance"]["position"] == "overpaid"


def test_paying_a_pharmacy_its_fees_debits_what_the_fund_owes_it(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    pay(client, fin, direction="in", kind="donor", code="Health Donor", amount="100000")
    journal(client, fin, "2026-10-05", [("5100", "KHR", "300"), ("2100-P1", "KHR", "-300")])
    p = pay(client, fin, direction="out", kind="pharmacy", code="P1", amount="300")
    assert balance(client, fin, "2100-P1") == "0"
    assert balance(client, fin, "1010") == "99700"
    assert p["counterparty_balance"]["account"] == "2100-P1"
    assert p["counterparty_balance"]["position"] == "settled"


def test_a_scheme_payment_settles_its_due_from_account(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    journal(client, fin, "2026-10-05", [("1300-HEF", "KHR", "1500"), ("4000", "KHR", "-1500")])
    p = pay(client, fin, direction="in", kind="scheme", code="HEF", amount="1500")
    assert balance(client, fin, "1300-HEF") == "0"
    assert balance(client, fin, "1010") == "1500"
    assert p["counterparty_balance"]["position"] == "settled"


def test_a_supplier_paid_in_two_parts_against_its_receipt_shows_partial_then_overpaid(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    from ledger.model import EntryDraft, PostingDraft
    from ledger.posting import post_entry
    from ledger.tables import Lot

    pay(client, fin, direction="in", kind="donor", code="Health Donor", amount="100000")
    with books.extensions["rdf_db"].session() as s:
        lot = s.query(Lot).filter_by(lot_code="L1").one()
        post_entry(
            s,
            EntryDraft(
                service_date=__import__("datetime").date(2026, 10, 2),
                memo="receipt",
                postings=(
                    PostingDraft("1400-CENTRAL", "KHR", 35000, lot.id),
                    PostingDraft("2000-S1", "KHR", -35000),
                ),
                source="stock-receipt:7",
            ),
            created_by="test",
        )
        s.commit()
    first = pay(
        client,
        fin,
        direction="out",
        kind="supplier",
        code="S1",
        amount="20000",
        applies_to={"kind": "receipt", "id": "7"},
    )
    assert first["applies_to"] == {
        "kind": "receipt",
        "id": "7",
        "verified": True,
        "amount_due": "35000",
        "paid_total": "20000",
        "outstanding": "15000",
        "status": "partial",
    }
    assert balance(client, fin, "2000-S1") == "-15000"
    assert first["counterparty_balance"]["due"] == "15000"
    second = pay(
        client,
        fin,
        direction="out",
        kind="supplier",
        code="S1",
        amount="20000",
        applies_to={"kind": "receipt", "id": "7"},
    )
    assert second["applies_to"]["outstanding"] == "-5000"
    assert second["applies_to"]["status"] == "overpaid"
    assert balance(client, fin, "2000-S1") == "5000"
    assert second["counterparty_balance"]["position"] == "overpaid"
    assert balance(client, fin, "1010") == "60000"


def test_a_donor_may_capitalise_the_fund_in_usd_cents(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    p = pay(
        client,
        fin,
        direction="in",
        kind="donor",
        code="Friends of the Fund",
        amount="100.05",
        currency="USD",
    )
    assert p["amount"] == "100.05"
    assert p["counterparty"] == {"kind": "donor", "code": "Friends of the Fund"}
    assert balance(client, fin, "1020", "USD") == "100.05"
    assert balance(client, fin, "3000", "USD") == "-100.05"
    assert balance(client, fin, "1010") == "0"


def test_nonsensical_payments_are_refused_and_nothing_is_recorded(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"direction": "out", "kind": "scheme", "code": "HEF", "amount": "10"}, "direction"),
        ({"direction": "in", "kind": "supplier", "code": "S1", "amount": "10"}, "direction"),
        ({"direction": "out", "kind": "donor", "code": "X", "amount": "10"}, "direction"),
        (
            {
                "direction": "in",
                "kind": "pharmacy",
                "code": "P1",
                "amount": "10",
                "currency": "USD",
            },
            "currency",
        ),
        (
            {"direction": "in", "kind": "pharmacy", "code": "P9", "amount": "10"},
            "counterparty.code",
        ),
        ({"direction": "in", "kind": "pharmacy", "code": "P1", "amount": "0"}, "amount"),
        ({"direction": "in", "kind": "pharmacy", "code": "P1", "amount": "-5"}, "amount"),
        (
            {"direction": "in", "kind": "donor", "code": "D", "amount": "1.005", "currency": "USD"},
            "amount",
        ),
        (
            {
                "direction": "in",
                "kind": "pharmacy",
                "code": "P1",
                "amount": "10",
                "currency": "MET500",
            },
            "currency",
        ),
        (
            {
                "direction": "in",
                "kind": "pharmacy",
                "code": "P1",
                "amount": "10",
                "applies_to": {"kind": "claim", "id": "3"},
            },
            "applies_to.kind",
        ),
        (
            {
                "direction": "out",
                "kind": "supplier",
                "code": "S1",
                "amount": "10",
                "applies_to": {"kind": "receipt", "id": "999"},
            },
            None,
        ),
    ]
    for fields, errfield in cases:
        r = client.post(
            "/api/v1/payments",
            json={
                "date": "2026-10-15",
                "direction": fields["direction"],
                "counterparty": {"kind": fields["kind"], "code": fields["code"]},
                "amount": fields["amount"],
                "currency": fields.get("currency", "KHR"),
                "reference": "R",
                **({"applies_to": fields["applies_to"]} if "applies_to" in fields else {}),
            },
            headers=fin,
        )
        assert r.status_code in (404, 422), (fields, r.get_json())
        assert r.mimetype == "application/problem+json"
        body = r.get_json()
        if errfield is not None:
            assert errfield in body["errors"], (fields, body)
    assert client.get("/api/v1/payments", headers=fin).get_json()["items"] == []
    assert balance(client, fin, "1010") == "0"


def test_a_money_out_to_a_scheme_is_explained_in_the_problem(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    body = pay(client, fin, direction="out", kind="scheme", code="HEF", amount="10", status=422)
    assert "a payer pays the fund" in body["detail"]


def test_a_reference_to_an_unknown_claim_or_settlement_is_refused_when_they_are_checked(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    # The dispatch table checks both (the resolvers of invoices.settlements).
    assert (
        "claim" in payments.APPLIES_TO_RESOLVERS and "settlement" in payments.APPLIES_TO_RESOLVERS
    )
    pay(
        client,
        fin,
        direction="in",
        kind="scheme",
        code="HEF",
        amount="1500",
        applies_to={"kind": "claim", "id": "424242"},
        status=404,
    )
    pay(
        client,
        fin,
        direction="in",
        kind="pharmacy",
        code="P1",
        amount="100",
        applies_to={"kind": "settlement", "id": "424242"},
        status=404,
    )
    assert client.get("/api/v1/payments", headers=fin).get_json()["items"] == []
    assert balance(client, fin, "1010") == "0"


def test_references_of_a_kind_nobody_checks_are_stored_unverified(
    books: Flask, client: FlaskClient, fin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(payments.APPLIES_TO_RESOLVERS, "claim", raising=False)
    monkeypatch.delitem(payments.APPLIES_TO_RESOLVERS, "settlement", raising=False)
    p = pay(
        client,
        fin,
        direction="in",
        kind="scheme",
        code="HEF",
        amount="1500",
        applies_to={"kind": "claim", "id": "CLAIM-2026-10-HEF"},
    )
    assert p["applies_to"] == {"kind": "claim", "id": "CLAIM-2026-10-HEF", "verified": False}
    q = pay(
        client,
        fin,
        direction="in",
        kind="pharmacy",
        code="P1",
        amount="100",
        applies_to={"kind": "settlement", "id": "12"},
    )
    assert q["applies_to"]["kind"] == "settlement"
    listed = client.get("/api/v1/payments?applies_to_kind=claim", headers=fin).get_json()["items"]
    assert [x["id"] for x in listed] == [p["id"]]


def test_a_retried_payment_with_the_same_key_posts_once(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    a = pay(client, fin, direction="in", kind="scheme", code="HEF", amount="700", key="k-1")
    b = pay(client, fin, direction="in", kind="scheme", code="HEF", amount="700", key="k-1")
    assert a == b
    assert balance(client, fin, "1010") == "700"
    pay(client, fin, direction="in", kind="scheme", code="HEF", amount="701", key="k-1", status=409)


def test_payments_are_listed_with_filters_and_pages(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    pay(client, fin, direction="in", kind="scheme", code="HEF", amount="1", when="2026-10-01")
    pay(client, fin, direction="in", kind="scheme", code="NGO", amount="2", when="2026-10-02")
    pay(client, fin, direction="in", kind="pharmacy", code="P1", amount="3", when="2026-10-03")
    r = client.get("/api/v1/payments?counterparty_kind=scheme&limit=1", headers=fin).get_json()
    assert [x["amount"] for x in r["items"]] == ["1"]
    r2 = client.get(
        f"/api/v1/payments?counterparty_kind=scheme&limit=1&cursor={r['next_cursor']}",
        headers=fin,
    ).get_json()
    assert [x["amount"] for x in r2["items"]] == ["2"]
    assert r2["next_cursor"] is None
    r3 = client.get("/api/v1/payments?from=2026-10-02&to=2026-10-02", headers=fin).get_json()
    assert [x["counterparty"]["code"] for x in r3["items"]] == ["NGO"]
    assert client.get("/api/v1/payments/99999", headers=fin).status_code == 404
    assert client.get("/api/v1/payments/abc", headers=fin).status_code == 404


def test_only_finance_records_payments_and_auditors_read_them(
    books: Flask,
    client: FlaskClient,
    fin: dict[str, str],
    aud: dict[str, str],
    pharmacist: dict[str, str],
) -> None:
    p = pay(client, fin, direction="in", kind="scheme", code="HEF", amount="5")
    pay(client, aud, direction="in", kind="scheme", code="HEF", amount="5", status=403)
    pay(client, pharmacist, direction="in", kind="pharmacy", code="P1", amount="5", status=403)
    assert client.get(f"/api/v1/payments/{p['id']}", headers=aud).status_code == 200
    assert client.get(f"/api/v1/payments/{p['id']}", headers=pharmacist).status_code == 403
    assert client.get("/api/v1/payments").status_code == 401
