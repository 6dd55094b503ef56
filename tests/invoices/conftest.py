"""Fixtures of the invoices tests: a small chart of counterparties, helpers to post.

Pharmacy, scheme and supplier sub-accounts are inserted directly (the reference-data
endpoints belong to another package); everything else goes through the API.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ledger.tables import Account, Commodity, Lot
from tests.support import bearer

SUB_ACCOUNTS = [
    ("1200-P1", "1200", "Due from pharmacy P1", "asset", "money", False, "P1"),
    ("1200-P2", "1200", "Due from pharmacy P2", "asset", "money", False, "P2"),
    ("2100-P1", "2100", "Due to pharmacy P1", "liability", "money", False, "P1"),
    ("2100-P2", "2100", "Due to pharmacy P2", "liability", "money", False, "P2"),
    ("1400-P1", "1400", "Inventory at P1", "asset", "money+units", True, "P1"),
    ("1300-HEF", "1300", "Due from HEF", "asset", "money", False, None),
    ("1300-NGO", "1300", "Due from NGO", "asset", "money", False, None),
    ("2000-S1", "2000", "Due to supplier S1", "liability", "money", False, None),
]


@pytest.fixture
def books(app: Flask) -> Flask:
    """The seeded chart plus two pharmacies, two schemes, one supplier, one medicine lot."""
    now = datetime.now(UTC)
    with app.extensions["rdf_db"].session() as s:
        if s.get(Commodity, "MET500") is None:
            s.add(Commodity(code="MET500", kind="medicine", exponent=0, name="Metformin 500"))
        for code, parent, name, typ, carries, inv, pharmacy in SUB_ACCOUNTS:
            if s.get(Account, code) is None:
                s.add(
                    Account(
                        code=code,
                        parent=parent,
                        name=name,
                        type=typ,
                        carries=carries,
                        is_header=False,
                        is_inventory=inv,
                        currency=None,
                        pharmacy=pharmacy,
                        created_at=now,
                    )
                )
        s.flush()
        s.add(
            Lot(
                commodity="MET500",
                lot_code="L1",
                expiry_on=date(2028, 3, 31),
                received_on=date(2026, 8, 1),
                supplier="S1",
            )
        )
        s.commit()
    return app


@pytest.fixture
def pharmacist(books: Flask) -> dict[str, str]:
    from api.auth import create_user

    with books.extensions["rdf_db"].session() as s:
        _u, token = create_user(s, "pharmacist-p1", "pharmacist", "P1")
        s.commit()
    return bearer(token)


def pay(
    client: FlaskClient,
    headers: dict[str, str],
    *,
    direction: str,
    kind: str,
    code: str,
    amount: str,
    currency: str = "KHR",
    reference: str = "REF",
    when: str = "2026-10-15",
    applies_to: dict[str, str] | None = None,
    status: int = 201,
    key: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date": when,
        "direction": direction,
        "counterparty": {"kind": kind, "code": code},
        "amount": amount,
        "currency": currency,
        "reference": reference,
    }
    if applies_to is not None:
        body["applies_to"] = applies_to
    h = dict(headers)
    if key:
        h["Idempotency-Key"] = key
    r = client.post("/api/v1/payments", json=body, headers=h)
    assert r.status_code == status, r.get_json()
    out: dict[str, Any] = r.get_json()
    return out


def journal(
    client: FlaskClient,
    headers: dict[str, str],
    when: str,
    postings: list[tuple[str, str, str] | tuple[str, str, str, str]],
    memo: str = "test entry",
) -> dict[str, Any]:
    body = {
        "date": when,
        "memo": memo,
        "postings": [
            {
                "account": p[0],
                "commodity": p[1],
                "amount": p[2],
                **({"lot": p[3]} if len(p) > 3 else {}),
            }
            for p in postings
        ],
    }
    r = client.post("/api/v1/journal-entries", json=body, headers=headers)
    assert r.status_code == 201, r.get_json()
    out: dict[str, Any] = r.get_json()
    return out


def balance(client: FlaskClient, headers: dict[str, str], code: str, commodity: str = "KHR") -> str:
    r = client.get(f"/api/v1/accounts/{code}/balance", headers=headers)
    assert r.status_code == 200, r.get_json()
    total = [b["amount"] for b in r.get_json()["balances"] if b["commodity"] == commodity]
    if not total:
        return "0"
    if len(total) == 1:
        return str(total[0])
    raise AssertionError(f"several lot balances for {code}: {total}")
