"""Fixtures of the reports tests: a pinned clock, role headers, and October 2026 of a small
fund posted through the API (manual entries in KHR and in USD with cents, a receipt of lots
at the central store, a transfer to a pharmacy, a write-off), plus one November entry."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import pinned_clock as pinned_clock


def ok(r: Any, status: int = 201) -> Any:
    assert r.status_code == status, r.get_data(as_text=True)
    return r.get_json()


def entry(
    client: FlaskClient, h: dict[str, str], on: str, memo: str, *postings: tuple[str, str, str]
) -> dict[str, Any]:
    body = {
        "date": on,
        "memo": memo,
        "postings": [{"account": a, "commodity": c, "amount": x} for a, c, x in postings],
    }
    out: dict[str, Any] = ok(client.post("/api/v1/journal-entries", json=body, headers=h))
    return out


@pytest.fixture
def month(app: Flask, client: FlaskClient, finance: dict[str, str]) -> dict[str, Any]:
    """Late September to early November 2026; returns what a test may want to know."""
    h = finance
    ok(client.post("/api/v1/suppliers", json={"code": "S1", "name": "Supplier"}, headers=h))
    ok(
        client.post(
            "/api/v1/medicines",
            json={
                "code": "MET500",
                "name": "Metformin",
                "strength": "500 mg",
                "form": "tablet",
                "unit": "tablet",
            },
            headers=h,
        )
    )
    ok(
        client.post(
            "/api/v1/pharmacies",
            json={"code": "P1", "name": "Pharmacy one", "province": "Takeo", "district": "Bati"},
            headers=h,
        )
    )
    entry(
        client,
        h,
        "2026-09-28",
        "Capitalisation by donor",
        ("1010", "KHR", "10000000"),
        ("3000", "KHR", "-10000000"),
    )
    entry(
        client,
        h,
        "2026-10-01",
        "Donor grant in USD",
        ("1020", "USD", "1250.50"),
        ("3000", "USD", "-1250.50"),
    )
    ok(
        client.post(
            "/api/v1/stock/receipts",
            json={
                "supplier": "S1",
                "location": "CENTRAL",
                "date": "2026-10-03",
                "lines": [
                    {
                        "medicine": "MET500",
                        "lot": "L1",
                        "expiry": "2028-01-31",
                        "quantity": 1000,
                        "total_cost": "35000",
                    },
                    {
                        "medicine": "MET500",
                        "lot": "L2",
                        "expiry": "2027-06-30",
                        "quantity": 300,
                        "total_cost": "11100",
                    },
                ],
            },
            headers=h,
        )
    )
    entry(
        client,
        h,
        "2026-10-10",
        'Supplier S1 paid in USD, "urgent" \\ ការបង់ប្រាក់',
        ("2000-S1", "USD", "19.99"),
        ("1020", "USD", "-19.99"),
    )
    entry(
        client,
        h,
        "2026-10-12",
        "Supplier S1 paid",
        ("2000-S1", "KHR", "35000"),
        ("1010", "KHR", "-35000"),
    )
    ok(
        client.post(
            "/api/v1/stock/transfers",
            json={
                "from": "CENTRAL",
                "to": "P1",
                "date": "2026-10-20",
                "lines": [{"medicine": "MET500", "quantity": 400}],
            },
            headers=h,
        )
    )
    entry(
        client, h, "2026-10-25", "Bank charges", ("5100", "USD", "0.35"), ("1020", "USD", "-0.35")
    )
    entry(
        client,
        h,
        "2026-10-31",
        "Month-end fee accrual",
        ("5100", "KHR", "1234567"),
        ("1010", "KHR", "-1234567"),
    )
    late = entry(
        client,
        h,
        "2026-11-02",
        "November grant",
        ("1010", "KHR", "500000"),
        ("3000", "KHR", "-500000"),
    )
    return {"late_entry": late}
