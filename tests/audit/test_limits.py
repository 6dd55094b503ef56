"""Limits and token life: oversized bodies, expiry, revocation, rotation, bad-token floods;
and no token ever stored in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import MetaData, select

from api.auth import hash_token
from tests.support import bearer, create_user_token


def test_a_body_over_one_mebibyte_is_refused_with_413_problem(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    body = b'{"memo": "' + b"x" * (1024 * 1024) + b'"}'
    r = client.post(
        "/api/v1/journal-entries",
        data=body,
        headers={**bearer(tokens["finance"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.mimetype == "application/problem+json"
    assert r.get_json()["status"] == 413


def test_a_body_just_under_the_limit_is_read_normally(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    body = b'{"memo": "' + b"x" * (1024 * 1024 - 100) + b'"}'
    r = client.post(
        "/api/v1/journal-entries",
        data=body,
        headers={**bearer(tokens["finance"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 422  # read, then refused for its content


def test_an_expired_token_is_refused_and_a_valid_one_accepted(
    app: Flask, client: FlaskClient
) -> None:
    now = datetime.now(UTC)
    old = create_user_token(app, "old-auditor", "auditor", expires_at=now - timedelta(seconds=1))
    new = create_user_token(app, "new-auditor", "auditor", expires_at=now + timedelta(hours=1))
    assert client.get("/api/v1/periods", headers=bearer(old)).status_code == 401
    assert client.get("/api/v1/periods", headers=bearer(new)).status_code == 200


def test_the_revoke_token_command_stops_a_token_at_once(app: Flask, client: FlaskClient) -> None:
    token = create_user_token(app, "leaver", "finance")
    assert client.get("/api/v1/periods", headers=bearer(token)).status_code == 200
    out = app.test_cli_runner().invoke(args=["revoke-token", "leaver"])
    assert out.exit_code == 0, out.output
    r = client.get("/api/v1/periods", headers=bearer(token))
    assert r.status_code == 401
    assert r.mimetype == "application/problem+json"


def test_the_rotate_token_command_gives_a_new_token_and_kills_the_old(
    app: Flask, client: FlaskClient
) -> None:
    old = create_user_token(app, "rotator", "auditor")
    out = app.test_cli_runner().invoke(args=["rotate-token", "rotator"])
    assert out.exit_code == 0, out.output
    new = out.output.strip().splitlines()[-1]
    assert new != old and new.startswith("rdf_")
    assert client.get("/api/v1/periods", headers=bearer(old)).status_code == 401
    assert client.get("/api/v1/periods", headers=bearer(new)).status_code == 200


def test_rotating_a_revoked_token_brings_the_user_back_with_the_new_token_only(
    app: Flask, client: FlaskClient
) -> None:
    old = create_user_token(app, "returner", "auditor")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["revoke-token", "returner"]).exit_code == 0
    new = runner.invoke(args=["rotate-token", "returner"]).output.strip().splitlines()[-1]
    assert client.get("/api/v1/periods", headers=bearer(old)).status_code == 401
    assert client.get("/api/v1/periods", headers=bearer(new)).status_code == 200


def test_many_bad_tokens_from_one_address_are_slowed_with_429(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    limit = app.extensions["rdf_auth_limiter"].limit
    guesser = {"REMOTE_ADDR": "203.0.113.7"}
    for i in range(limit):
        r = client.get("/api/v1/periods", headers=bearer(f"rdf_guess{i}"), environ_base=guesser)
        assert r.status_code == 401
    r = client.get("/api/v1/periods", headers=bearer("rdf_guess-more"), environ_base=guesser)
    assert r.status_code == 429
    assert r.mimetype == "application/problem+json"
    # Another address is not punished for the guesser.
    other = {"REMOTE_ADDR": "198.51.100.1"}
    r = client.get("/api/v1/periods", headers=bearer(tokens["auditor"]), environ_base=other)
    assert r.status_code == 200


def test_no_token_appears_anywhere_in_a_dump_of_the_database(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    pharmacist_less = create_user_token(app, "dumped", "finance")
    every = [*tokens.values(), pharmacist_less]
    runner = app.test_cli_runner()
    rotated = runner.invoke(args=["rotate-token", "dumped"]).output.strip().splitlines()[-1]
    every.append(rotated)
    # Leave traces: writes with an idempotency key, refusals, document downloads, bad tokens.
    for token in every:
        client.post(
            "/api/v1/journal-entries",
            json={"date": "2026-11-02", "memo": token, "postings": []},
            headers={**bearer(token), "Idempotency-Key": "k-1"},
        )
        client.get("/api/v1/reports/trial-balance", headers={**bearer(token), "Accept": "text/csv"})
    client.get("/api/v1/periods", headers=bearer("rdf_" + "x" * 43))
    engine = app.extensions["rdf_db"].engine
    meta = MetaData()
    meta.reflect(engine)
    dump: list[str] = []
    with engine.connect() as c:
        for table in meta.sorted_tables:
            for row in c.execute(select(table)):
                dump.append(" ".join(str(v) for v in row))
    text = "\n".join(dump)
    assert "audit_events" in meta.tables and len(dump) > 20
    assert hash_token(rotated) in text  # the dump does hold the users' rows: hashes only
    for token in every:
        secret = token.removeprefix("rdf_")
        assert secret[:16] not in text, "a token (or a large piece of one) is stored"
