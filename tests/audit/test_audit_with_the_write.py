"""A successful write's audit event is inserted in the write's own transaction: one commit
per write, and the event exists exactly when the write was committed. Refusals, failed
writes and replays are still written apart, after the answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text

import api.audit_trail
import api.writes
from tests.audit.conftest import post_capital
from tests.support import bearer

CAPITAL = {
    "date": "2026-11-02",
    "memo": "donor",
    "postings": [
        {"account": "1010", "commodity": "KHR", "amount": "500"},
        {"account": "3000", "commodity": "KHR", "amount": "-500"},
    ],
}


def trail(app: Flask) -> list[tuple[str, str, int, str | None, str | None]]:
    with app.extensions["rdf_db"].engine.connect() as c:
        rows = c.execute(
            text("SELECT method, path, status, object_ref, user_name FROM audit_events ORDER BY id")
        ).all()
    return [(r[0], r[1], int(r[2]), r[3], r[4]) for r in rows]


def entry_count(app: Flask) -> int:
    with app.extensions["rdf_db"].engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM entries")).scalar_one())


@pytest.fixture
def no_sealing(app: Flask) -> Iterator[None]:
    """No sealer after commit, so what a request commits is the request's own doing."""
    previous = app.extensions["rdf_after_commit"]
    app.extensions["rdf_after_commit"] = None
    yield
    app.extensions["rdf_after_commit"] = previous


def test_a_write_and_its_audit_event_are_one_commit(
    app: Flask, client: FlaskClient, tokens: dict[str, str], no_sealing: None
) -> None:
    commits: list[int] = []
    engine = app.extensions["rdf_db"].engine
    listener = lambda *_a: commits.append(1)  # noqa: E731
    event.listen(engine, "commit", listener)
    try:
        r = client.post("/api/v1/journal-entries", json=CAPITAL, headers=bearer(tokens["finance"]))
    finally:
        event.remove(engine, "commit", listener)
    assert r.status_code == 201, r.get_json()
    assert len(commits) == 1
    assert trail(app) == [
        ("POST", "/api/v1/journal-entries", 201, f"id={r.get_json()['id']}", "test-finance")
    ]


def test_a_write_rolled_back_after_its_event_was_staged_leaves_only_its_failure(
    app: Flask, client: FlaskClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = api.audit_trail.stage_event  # what api.writes calls, until patched below

    def stage_then_fail(*a: Any, **k: Any) -> bool:
        assert real(*a, **k)  # the 201 event is in the transaction...
        raise RuntimeError("the server died before the commit")  # ...which never commits

    monkeypatch.setattr(api.writes, "stage_event", stage_then_fail)
    r = client.post("/api/v1/journal-entries", json=CAPITAL, headers=bearer(tokens["finance"]))
    assert r.status_code == 500
    assert entry_count(app) == 0
    assert trail(app) == [("POST", "/api/v1/journal-entries", 500, None, "test-finance")]


def test_an_event_that_cannot_be_built_in_the_write_is_written_after_it(
    app: Flask, client: FlaskClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = api.audit_trail.event_of
    calls: list[int] = []

    def fails_once(*a: Any, **k: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("cannot build it now")
        return real(*a, **k)

    monkeypatch.setattr(api.audit_trail, "event_of", fails_once)
    entry_id = post_capital(client, tokens["finance"], 100, "still posted", date(2026, 11, 2))
    assert len(calls) == 2  # staged (failed), then written apart by after_request
    assert trail(app) == [
        ("POST", "/api/v1/journal-entries", 201, f"id={entry_id}", "test-finance")
    ]


def test_a_replayed_write_is_recorded_apart_with_the_same_answer(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    h = {**bearer(tokens["finance"]), "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/journal-entries", json=CAPITAL, headers=h)
    again = client.post("/api/v1/journal-entries", json=CAPITAL, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.data == again.data
    ref = f"id={first.get_json()['id']}"
    assert entry_count(app) == 1
    assert trail(app) == [("POST", "/api/v1/journal-entries", 201, ref, "test-finance")] * 2


def test_a_refused_write_is_recorded_apart(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    bad = {**CAPITAL, "postings": CAPITAL["postings"][:1]}  # unbalanced: 422
    r = client.post("/api/v1/journal-entries", json=bad, headers=bearer(tokens["finance"]))
    assert r.status_code == 422
    assert entry_count(app) == 0
    assert trail(app) == [("POST", "/api/v1/journal-entries", 422, None, "test-finance")]
