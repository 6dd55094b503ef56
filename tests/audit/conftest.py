"""Fixtures of the audit tests: books with a few entries, pharmacies, pharmacists, and an
attacker's raw access to the database (guards bypassed)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from ledger import clock
from tests.support import bearer, create_user_token

#: SQLite triggers an attacker with the database file drops before rewriting history.
SQLITE_GUARDS = (
    "postings_no_update",
    "postings_no_delete",
    "entries_no_delete",
    "entries_guard",
    "entry_seals_no_update",
    "entry_seals_no_delete",
    "audit_events_no_update",
    "audit_events_no_delete",
)


def tamper(app: Flask, *statements: str, **params: Any) -> None:
    """Run SQL as an attacker with database access would: guards bypassed (PostgreSQL:
    ``session_replication_role = replica``; SQLite: the guard triggers dropped)."""
    engine = app.extensions["rdf_db"].engine
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            for trigger in SQLITE_GUARDS:
                c.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        for stmt in statements:
            c.execute(text(stmt), params)


def post_capital(client: FlaskClient, token: str, amount: int, memo: str, day: date) -> str:
    """A donor's capitalisation (1010 / 3000): one small balanced entry; returns its id."""
    r = client.post(
        "/api/v1/journal-entries",
        json={
            "date": day.isoformat(),
            "memo": memo,
            "postings": [
                {"account": "1010", "commodity": "KHR", "amount": str(amount)},
                {"account": "3000", "commodity": "KHR", "amount": str(-amount)},
            ],
        },
        headers=bearer(token),
    )
    assert r.status_code == 201, r.get_json()
    entry_id: str = r.get_json()["id"]
    return entry_id


@pytest.fixture
def books(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> list[int]:
    """Six sealed entries of different amounts and memos, in the current month.

    Sealed before the test tampers with them: the sealer is flushed (a no-op when it seals
    inline, the test suite's default; with ``RDF_SEAL_MODE=background`` the entries would
    otherwise be sealed up to an interval later, over whatever the test changed)."""
    today = clock.today()
    day = date(today.year, today.month, 1)
    ids = [
        int(post_capital(client, tokens["finance"], 1000 * (i + 1), f"capital #{i + 1}", day))
        for i in range(6)
    ]
    app.extensions["rdf_after_commit"].flush()
    return ids


@pytest.fixture
def tokens_pg(pg_app: Flask) -> dict[str, str]:
    """Staff tokens on the PostgreSQL-only app."""
    return {
        role: create_user_token(pg_app, f"pg-{role}", role)
        for role in ("admin", "finance", "auditor")
    }
