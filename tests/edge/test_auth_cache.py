"""Tokens cached per process behind ``auth_version`` (``api.authcache``, migration 0017h):
a warm cache answers without reading ``users``, and every change of who a token stands
for — revoked, rotated, a role or pharmacy or expiry changed, by the service or by hand
with SQL — is seen by the very next request after it commits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from api.auth import create_user, revoke, rotate_token
from api.authcache import AuthCache
from ledger import clock
from tests.support import bearer, create_pharmacy

READ = "/api/v1/audit/events"  # auditors (and admins) only


def cache(app: Flask) -> AuthCache:
    c: AuthCache = app.extensions["rdf_auth_cache"]
    return c


def sql(app: Flask, statement: str, **params: object) -> None:
    """A change made behind the service's back (another worker, a person with psql)."""
    with app.extensions["rdf_db"].session() as s:
        s.execute(text(statement), params)
        s.commit()


def version(app: Flask) -> int:
    with app.extensions["rdf_db"].session() as s:
        return int(s.execute(text("SELECT version FROM auth_version")).scalar_one())


@pytest.fixture
def warm(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> Iterator[str]:
    """The auditor's token, admitted once (its principal now cached)."""
    token = tokens["auditor"]
    assert client.get(READ, headers=bearer(token)).status_code == 200
    yield token
    clock.pin(None)


def test_a_warm_cache_reads_no_user_row(app: Flask, client: FlaskClient, warm: str) -> None:
    reads = cache(app).reads
    for _ in range(3):
        assert client.get(READ, headers=bearer(warm)).status_code == 200
    assert cache(app).reads == reads


def test_a_revoked_token_is_refused_by_the_next_request(
    app: Flask, client: FlaskClient, warm: str
) -> None:
    with app.extensions["rdf_db"].session() as s:
        revoke(s, "test-auditor")
        s.commit()
    assert client.get(READ, headers=bearer(warm)).status_code == 401


def test_a_revocation_by_sql_is_refused_by_the_next_request(
    app: Flask, client: FlaskClient, warm: str
) -> None:
    sql(app, "UPDATE users SET revoked_at = :t WHERE name = 'test-auditor'", t=clock.now())
    assert client.get(READ, headers=bearer(warm)).status_code == 401


def test_a_rotated_token_stops_the_old_one_and_admits_the_new(
    app: Flask, client: FlaskClient, warm: str
) -> None:
    with app.extensions["rdf_db"].session() as s:
        new = rotate_token(s, "test-auditor")
        s.commit()
    assert client.get(READ, headers=bearer(warm)).status_code == 401
    assert client.get(READ, headers=bearer(new)).status_code == 200


def test_a_role_changed_by_sql_is_applied_by_the_next_request(
    app: Flask, client: FlaskClient, warm: str
) -> None:
    sql(app, "UPDATE users SET role = 'finance' WHERE name = 'test-auditor'")
    assert client.get(READ, headers=bearer(warm)).status_code == 403


def test_a_deleted_user_is_refused_by_the_next_request(
    app: Flask, client: FlaskClient, warm: str
) -> None:
    sql(app, "DELETE FROM users WHERE name = 'test-auditor'")
    assert client.get(READ, headers=bearer(warm)).status_code == 401


def test_an_expiry_set_by_sql_and_an_expiry_reached_are_both_refused(
    app: Flask, client: FlaskClient, warm: str
) -> None:
    soon = clock.now() + timedelta(hours=1)
    sql(app, "UPDATE users SET expires_at = :t WHERE name = 'test-auditor'", t=soon)
    assert client.get(READ, headers=bearer(warm)).status_code == 200  # cached again
    reads = cache(app).reads
    clock.pin(soon + timedelta(seconds=1))  # no change in the database: the clock alone
    assert client.get(READ, headers=bearer(warm)).status_code == 401
    assert cache(app).reads == reads
    clock.pin(None)
    sql(app, "UPDATE users SET expires_at = :t WHERE name = 'test-auditor'", t=clock.now())
    assert client.get(READ, headers=bearer(warm)).status_code == 401


def test_a_pharmacist_moved_to_another_pharmacy_is_confined_to_it_at_once(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    for code in ("PA", "PB"):
        create_pharmacy(app, client, tokens["finance"], code)
    with app.extensions["rdf_db"].session() as s:
        _u, token = create_user(s, "ph", "pharmacist", pharmacy="PA")
        s.commit()
    assert client.get("/api/v1/pharmacies/PA", headers=bearer(token)).status_code == 200
    sql(app, "UPDATE users SET pharmacy = 'PB' WHERE name = 'ph'")
    assert client.get("/api/v1/pharmacies/PA", headers=bearer(token)).status_code == 404
    assert client.get("/api/v1/pharmacies/PB", headers=bearer(token)).status_code == 200


def test_users_and_passwords_bump_the_version_by_more_than_one(
    app: Flask, tokens: dict[str, str]
) -> None:
    """Random steps: a database restored to an earlier state under a running process does
    not climb back to a number the process trusts (nor does ``ref_version``)."""
    v0 = version(app)
    sql(app, "UPDATE users SET role = role WHERE name = 'test-auditor'")
    v1 = version(app)
    sql(app, "UPDATE users SET role = role WHERE name = 'test-auditor'")
    v2 = version(app)
    assert v0 < v1 < v2
    assert (v1 - v0, v2 - v1) != (1, 1)
    sql(app, "DELETE FROM users WHERE name = 'nobody'")  # no row: no bump
    assert version(app) == v2


def test_expired_tokens_stay_refused_after_the_clock_is_released(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    past = datetime(2020, 1, 1, tzinfo=UTC)
    sql(app, "UPDATE users SET expires_at = :t WHERE name = 'test-auditor'", t=past)
    assert client.get(READ, headers=bearer(tokens["auditor"])).status_code == 401
    assert client.get(READ, headers=bearer(tokens["auditor"])).status_code == 401
