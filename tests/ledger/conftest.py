"""Fixtures of the ledger API tests: a pinned clock, role headers, and helpers that post
entries and take snapshots of the books (to prove that a refused request changed nothing)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from api.auth import create_user
from ledger import clock
from ledger.tables import Account, Entry, IdempotencyKey, Posting
from tests.support import PROBLEM
from tests.support import pinned_clock as pinned_clock


def add_accounts(app: Flask, *rows: tuple[str, str, str]) -> None:
    """Insert sub-accounts ``(code, parent, pharmacy)`` of header accounts through the ORM."""
    with app.extensions["rdf_db"].session() as s:
        for code, parent, pharmacy in rows:
            head = s.get(Account, parent)
            assert head is not None and head.is_header
            s.add(
                Account(
                    code=code,
                    parent=parent,
                    name=f"{head.name} {pharmacy}",
                    type=head.type,
                    carries=head.carries,
                    is_header=False,
                    is_inventory=head.is_inventory,
                    currency=None,
                    pharmacy=pharmacy,
                    created_at=clock.now(),
                )
            )
        s.commit()


def pharmacist_token(app: Flask, pharmacy: str = "PX") -> str:
    add_accounts(
        app,
        (f"1200-{pharmacy}", "1200", pharmacy),
        (f"1400-{pharmacy}", "1400", pharmacy),
        (f"2100-{pharmacy}", "2100", pharmacy),
    )
    with app.extensions["rdf_db"].session() as s:
        _u, token = create_user(s, f"pharmacist-{pharmacy}", "pharmacist", pharmacy)
        s.commit()
    return token


def body(
    on: date | str = "2026-10-14",
    memo: str = "test entry",
    postings: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "date": on if isinstance(on, str) else on.isoformat(),
        "memo": memo,
        "postings": postings
        if postings is not None
        else [
            {"account": "1010", "commodity": "KHR", "amount": "1000"},
            {"account": "3000", "commodity": "KHR", "amount": "-1000"},
        ],
    }


def pair(debit: str, credit: str, commodity: str, amount: str) -> list[dict[str, Any]]:
    neg = amount[1:] if amount.startswith("-") else "-" + amount
    return [
        {"account": debit, "commodity": commodity, "amount": amount},
        {"account": credit, "commodity": commodity, "amount": neg},
    ]


def post(client: FlaskClient, headers: dict[str, str], payload: Any, key: str | None = None) -> Any:
    h = dict(headers)
    if key is not None:
        h["Idempotency-Key"] = key
    return client.post("/api/v1/journal-entries", json=payload, headers=h)


def posted(client: FlaskClient, headers: dict[str, str], payload: Any) -> dict[str, Any]:
    r = post(client, headers, payload)
    assert r.status_code == 201, r.get_data(as_text=True)
    out: dict[str, Any] = r.get_json()
    return out


def snapshot(app: Flask) -> tuple[Any, ...]:
    """Everything a write could change: postings per account, entries, idempotency keys."""
    with app.extensions["rdf_db"].session() as s:
        sums = sorted(
            s.execute(
                select(Posting.account_code, Posting.commodity, func.sum(Posting.amount)).group_by(
                    Posting.account_code, Posting.commodity
                )
            )
        )
        entries = s.scalar(select(func.count()).select_from(Entry))
        keys = s.scalar(select(func.count()).select_from(IdempotencyKey))
        return (tuple(sums), entries, keys)


def trial_balance(client: FlaskClient, headers: dict[str, str], **query: str) -> Any:
    r = client.get("/api/v1/reports/trial-balance", query_string=query, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def assert_problem(r: Any, *statuses: int, validation: bool = False) -> dict[str, Any]:
    assert r.status_code in statuses, (r.status_code, r.get_data(as_text=True))
    assert r.mimetype == PROBLEM
    p: dict[str, Any] = r.get_json()
    for field in ("type", "title", "status", "detail"):
        assert p.get(field), (field, p)
    assert p["status"] == r.status_code
    if validation:
        assert isinstance(p.get("errors"), dict) and p["errors"], p
    return p


@pytest.fixture
def books(app: Flask, client: FlaskClient, finance: dict[str, str]) -> dict[str, Any]:
    """A donor capitalisation in KHR and USD, so the books are not empty."""
    return posted(
        client,
        finance,
        body(
            "2026-10-01",
            "Donor capitalisation",
            pair("1010", "3000", "KHR", "1000000") + pair("1020", "3000", "USD", "2500.00"),
        ),
    )
