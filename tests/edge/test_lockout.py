"""Nobody can lock others out (22.3): only unknown tokens are counted and slowed, per
address and per credential; a valid token is admitted whatever its address sent; the
client's address comes from X-Forwarded-For only when RDF_TRUSTED_PROXIES says so; the
counters live in the database, so every worker sees them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from api.ratelimit import BadTokenLimiter, auth_failures
from tests.support import bearer, make_app

PROXY = {"REMOTE_ADDR": "10.0.0.2"}  # the reverse proxy: every client seems to come from it


def test_fifty_bad_tokens_from_one_address_do_not_lock_out_a_valid_token(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    statuses = [
        client.get(
            "/api/v1/periods", headers=bearer(f"rdf_guess{i}"), environ_base=PROXY
        ).status_code
        for i in range(50)
    ]
    assert set(statuses) == {401, 429} and statuses[-1] == 429
    r = client.get("/api/v1/periods", headers=bearer(tokens["finance"]), environ_base=PROXY)
    assert r.status_code == 200
    r = client.get("/api/v1/periods", headers=bearer(tokens["auditor"]), environ_base=PROXY)
    assert r.status_code == 200


def test_one_credential_sent_again_and_again_is_slowed_from_any_address(
    app: Flask, client: FlaskClient
) -> None:
    limiter: BadTokenLimiter = app.extensions["rdf_auth_limiter"]
    stale = "rdf_an-old-revoked-token"
    seen = []
    for i in range(limiter.credential_limit + 1):
        where = {"REMOTE_ADDR": f"198.51.100.{i + 1}"}  # a new address each time
        seen.append(client.get("/api/v1/periods", headers=bearer(stale), environ_base=where))
    assert [r.status_code for r in seen[:-1]] == [401] * limiter.credential_limit
    assert seen[-1].status_code == 429
    assert seen[-1].mimetype == "application/problem+json"


def test_the_counters_are_in_the_database_and_hold_no_token(
    app: Flask, client: FlaskClient
) -> None:
    client.get("/api/v1/periods", headers=bearer("rdf_secret-guess-1234567890"))
    with app.extensions["rdf_db"].session() as s:
        rows = s.execute(select(auth_failures)).all()
    keys = sorted(r.key for r in rows)
    assert [k.split(":")[0] for k in keys] == ["addr", "cred"]
    assert all("secret-guess" not in k for k in keys)
    # Another worker (a second app on the same database) sees the same counts.
    other = make_app(app.config["DATABASE_URL"])
    try:
        limiter: BadTokenLimiter = other.extensions["rdf_auth_limiter"]
        for i in range(limiter.limit - 1):
            other.test_client().get("/api/v1/periods", headers=bearer(f"rdf_x{i}"))
        r = client.get("/api/v1/periods", headers=bearer("rdf_y"))
        assert r.status_code == 429
    finally:
        other.extensions["rdf_db"].dispose()


@pytest.fixture
def proxied(sqlite_database: str) -> Iterator[Flask]:
    from app import create_app

    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": sqlite_database,
            "SECRET_KEY": "test-secret",
            "RDF_TRUSTED_PROXIES": "1",
        }
    )
    yield application
    application.extensions["rdf_db"].dispose()


def test_behind_a_trusted_proxy_clients_are_told_apart_by_x_forwarded_for(
    proxied: Flask,
) -> None:
    c = proxied.test_client()
    limiter: BadTokenLimiter = proxied.extensions["rdf_auth_limiter"]
    guesser = {**PROXY}
    for i in range(limiter.limit):
        r = c.get(
            "/api/v1/periods",
            headers={**bearer(f"rdf_g{i}"), "X-Forwarded-For": "203.0.113.9"},
            environ_base=guesser,
        )
        assert r.status_code == 401
    r = c.get(
        "/api/v1/periods",
        headers={**bearer("rdf_g-more"), "X-Forwarded-For": "203.0.113.9"},
        environ_base=guesser,
    )
    assert r.status_code == 429
    # Another client behind the same proxy, with a token it mistyped once: a 401, not 429.
    r = c.get(
        "/api/v1/periods",
        headers={**bearer("rdf_typo"), "X-Forwarded-For": "192.0.2.44"},
        environ_base=guesser,
    )
    assert r.status_code == 401


def test_without_trusted_proxies_x_forwarded_for_is_ignored(
    app: Flask, client: FlaskClient
) -> None:
    limiter: BadTokenLimiter = app.extensions["rdf_auth_limiter"]
    for i in range(limiter.limit):
        client.get(
            "/api/v1/periods",
            headers={**bearer(f"rdf_h{i}"), "X-Forwarded-For": f"192.0.2.{i + 1}"},
            environ_base=PROXY,
        )
    r = client.get(
        "/api/v1/periods",
        headers={**bearer("rdf_h-more"), "X-Forwarded-For": "192.0.2.200"},
        environ_base=PROXY,
    )
    assert r.status_code == 429
