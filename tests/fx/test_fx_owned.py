"""An exchange's and a landed cost's entries belong to their documents: a manual reversal of
either is a 409 that says how to undo it, and posts nothing."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.fx.conftest import rate, snapshot
from tests.fx.test_fx_events import usd_receipt
from tests.support import ok, post


def _refused(client: FlaskClient, fin: dict[str, str], fund: Flask, entry_id: str) -> str:
    before = snapshot(fund)
    r = post(client, f"/journal-entries/{entry_id}/reverse", fin, {})
    assert r.status_code == 409, r.get_json()
    assert r.mimetype == "application/problem+json"
    assert snapshot(fund) == before
    return str(r.get_json()["detail"])


def test_an_exchange_entry_is_not_reversed_by_hand(
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
            },
        )
    )
    detail = _refused(client, fin, fund, out["entry_id"])
    assert "exchange" in detail and "opposite exchange" in detail


def test_a_landed_cost_entry_is_not_reversed_by_hand(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    rate(client, fin, "2026-10-01", "4100")
    rec = usd_receipt(client, fin)
    out = ok(
        post(
            client,
            f"/stock/receipts/{rec['id']}/landed-costs",
            fin,
            {
                "date": "2026-10-06",
                "counterparty": "FWD",
                "amount": "12.50",
                "currency": "USD",
                "description": "Freight",
            },
        )
    )
    detail = _refused(client, fin, fund, out["entry_id"])
    assert "landed cost" in detail
    # a manual entry elsewhere is still reversible (the refusal is about the owner)
    manual = ok(
        post(
            client,
            "/journal-entries",
            fin,
            {
                "date": "2026-10-06",
                "memo": "bank fee",
                "postings": [
                    {"account": "5100", "commodity": "KHR", "amount": "100"},
                    {"account": "1010", "commodity": "KHR", "amount": "-100"},
                ],
            },
        )
    )
    ok(post(client, f"/journal-entries/{manual['id']}/reverse", fin, {}))
