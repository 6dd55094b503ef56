"""The audit trail: every write and every document download leaves one append-only row."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.auth import hash_token
from tests.audit.conftest import post_capital
from tests.support import bearer


def events(client: FlaskClient, token: str, query: str = "") -> list[dict[str, object]]:
    r = client.get(f"/api/v1/audit/events{query}", headers=bearer(token))
    assert r.status_code == 200, r.get_json()
    items: list[dict[str, object]] = r.get_json()["items"]
    return items


def test_a_write_is_recorded_with_who_when_what_and_the_token_hash_prefix(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    from datetime import date

    entry_id = post_capital(client, tokens["finance"], 5000, "donor", date(2026, 11, 2))
    [event] = events(client, tokens["auditor"])
    assert event["user_name"] == "test-finance" and event["role"] == "finance"
    assert event["method"] == "POST" and event["path"] == "/api/v1/journal-entries"
    assert event["status"] == 201
    assert event["object_ref"] == f"id={entry_id}"
    assert event["token_hash_prefix"] == hash_token(tokens["finance"])[:8]
    assert event["remote_addr"] == "127.0.0.1"
    assert tokens["finance"] not in str(event)


def test_refused_writes_are_recorded_too(client: FlaskClient, tokens: dict[str, str]) -> None:
    client.post("/api/v1/journal-entries", json={})  # 401, no token
    client.post("/api/v1/journal-entries", json={}, headers=bearer(tokens["auditor"]))  # 403
    client.post("/api/v1/journal-entries", json={}, headers=bearer(tokens["finance"]))  # 422
    got = [(e["status"], e["user_name"]) for e in events(client, tokens["auditor"])]
    assert got == [(422, "test-finance"), (403, "test-auditor"), (401, None)]


def test_document_downloads_are_recorded_and_plain_reads_are_not(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    h = bearer(tokens["finance"])
    client.get("/api/v1/periods", headers=h)
    client.get("/api/v1/reports/trial-balance", headers=h)
    client.get("/api/v1/reports/trial-balance", headers={**h, "Accept": "text/csv"})
    client.get("/api/v1/reports/trial-balance.pdf?as_of=2026-11-01", headers=h)
    client.get("/api/v1/reports/trial-balance?format=xlsx", headers=h)
    paths = [e["path"] for e in events(client, tokens["auditor"])]
    assert paths == [
        "/api/v1/reports/trial-balance?format=xlsx",
        "/api/v1/reports/trial-balance.pdf?as_of=2026-11-01",
        "/api/v1/reports/trial-balance",
    ]


def test_events_are_paginated_newest_first_and_filtered_by_user(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    for _ in range(3):
        client.post("/api/v1/journal-entries", json={}, headers=bearer(tokens["finance"]))
        client.post("/api/v1/journal-entries", json={}, headers=bearer(tokens["admin"]))
    h = bearer(tokens["auditor"])
    first = client.get("/api/v1/audit/events?limit=4", headers=h).get_json()
    second = client.get(
        f"/api/v1/audit/events?limit=4&cursor={first['next_cursor']}", headers=h
    ).get_json()
    ids = [int(e["id"]) for e in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 6 and len(set(ids)) == 6
    assert second["next_cursor"] is None
    mine = events(client, tokens["admin"], "?user=test-admin")
    assert len(mine) == 3 and {e["user_name"] for e in mine} == {"test-admin"}
    assert events(client, tokens["auditor"], "?from=2000-01-01&to=2000-01-31") == []
    assert len(events(client, tokens["auditor"], "?from=2000-01-01")) == 6


def test_events_are_filtered_by_what_method_or_part_of_the_path(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    client.post("/api/v1/journal-entries", json={}, headers=bearer(tokens["finance"]))
    client.get("/api/v1/reports/trial-balance?format=csv", headers=bearer(tokens["finance"]))
    client.get("/api/v1/reports/trial-balance.pdf", headers=bearer(tokens["finance"]))
    a = tokens["auditor"]
    posts = events(client, a, "?what=post")
    assert posts and {e["method"] for e in posts} == {"POST"}
    tb = events(client, a, "?what=/reports/trial-balance")
    assert len(tb) == 2 and all("/reports/trial-balance" in str(e["path"]) for e in tb)
    assert events(client, a, "?what=journal-entries")[0]["method"] == "POST"
    assert events(client, a, "?what=%25") == []  # a LIKE wildcard matches only itself
    assert events(client, a, "?what=_") == []
    r = client.get("/api/v1/audit/events?what=" + "x" * 101, headers=bearer(a))
    assert r.status_code == 422


def test_only_auditors_and_admins_read_the_trail(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    assert client.get("/api/v1/audit/events", headers=bearer(tokens["finance"])).status_code == 403
    assert client.get("/api/v1/audit/events", headers=bearer(tokens["admin"])).status_code == 200


def test_a_bad_cursor_or_range_is_a_422_problem(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    h = bearer(tokens["auditor"])
    assert client.get("/api/v1/audit/events?cursor=nope", headers=h).status_code == 422
    r = client.get("/api/v1/audit/events?from=2026-02-01&to=2026-01-01", headers=h)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"


def test_the_database_refuses_to_update_or_delete_audit_events(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    client.post("/api/v1/journal-entries", json={}, headers=bearer(tokens["finance"]))
    engine = app.extensions["rdf_db"].engine
    for stmt in ("UPDATE audit_events SET status = 200", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError), engine.begin() as c:
            c.execute(text(stmt))
    with engine.connect() as c:
        assert c.execute(text("SELECT status FROM audit_events")).scalar_one() == 422


def test_the_checkpoint_cannot_be_moved_back_or_deleted(
    app: Flask, client: FlaskClient, tokens: dict[str, str], books: list[int]
) -> None:
    engine = app.extensions["rdf_db"].engine
    for stmt in ("UPDATE seal_checkpoints SET seal_count = 1", "DELETE FROM seal_checkpoints"):
        with pytest.raises(DBAPIError), engine.begin() as c:
            c.execute(text(stmt))


def test_a_failing_audit_write_never_fails_the_request(
    app: Flask, client: FlaskClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.audit_trail

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(api.audit_trail, "write_event", broken)
    from datetime import date

    post_capital(client, tokens["finance"], 100, "still posted", date(2026, 11, 2))
