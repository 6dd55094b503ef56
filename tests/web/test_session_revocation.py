"""A signed-in session is checked through the per-process cache (``api.authcache``): a warm
cache reads no user row, and a revocation, a password change or a role change is seen by
the very next request after it commits."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from api.auth import set_password
from api.authcache import AuthCache
from ledger import clock
from tests.web.conftest import sign_in

PASSWORD = "another-long-password"


def cache(app: Flask) -> AuthCache:
    c: AuthCache = app.extensions["rdf_auth_cache"]
    return c


def sql(app: Flask, statement: str, **params: object) -> None:
    with app.extensions["rdf_db"].session() as s:
        s.execute(text(statement), params)
        s.commit()


def test_a_warm_session_reads_no_user_row(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "auditor")
    assert client.get("/app").status_code == 200
    reads = cache(app).reads
    for _ in range(3):
        assert client.get("/app").status_code == 200
    assert cache(app).reads == reads


def test_a_user_revoked_by_sql_is_signed_out_by_the_next_request(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "auditor")
    assert client.get("/app").status_code == 200
    sql(app, "UPDATE users SET revoked_at = :t WHERE name = 'auditor'", t=clock.now())
    r = client.get("/app")
    assert r.status_code == 302 and "/app/login" in r.headers["Location"]
    # the JSON API with the session cookie is refused too (401, not a redirect)
    assert client.get("/api/v1/audit/events").status_code == 401


def test_a_password_change_ends_the_sessions_signed_in_before_it(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "auditor")
    assert client.get("/app").status_code == 200
    with app.extensions["rdf_db"].session() as s:
        set_password(s, "auditor", PASSWORD)
        s.commit()
    r = client.get("/app")
    assert r.status_code == 302 and "/app/login" in r.headers["Location"]
    other = app.test_client()
    sign_in(other, "auditor", PASSWORD)  # the new password signs in, and stays in
    assert other.get("/app").status_code == 200
    assert other.get("/app").status_code == 200


def test_a_role_changed_by_sql_is_applied_by_the_next_request(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "auditor")
    assert client.get("/api/v1/audit/events").status_code == 200
    sql(app, "UPDATE users SET role = 'finance' WHERE name = 'auditor'")
    assert client.get("/api/v1/audit/events").status_code == 403
