"""Deny by default: every route declares who may call it; roles are enforced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.access import PUBLIC_ENDPOINTS, access_for
from tests.ledger.conftest import assert_problem, body, pharmacist_token, snapshot
from tests.support import bearer, make_app

LEDGER_READS = [
    "/api/v1/accounts",
    "/api/v1/accounts/1010/balance",
    "/api/v1/accounts/1010/statement",
    "/api/v1/journal-entries/1",
    "/api/v1/reports/trial-balance",
    "/api/v1/periods",
]
LEDGER_WRITES = [
    ("/api/v1/journal-entries", body()),
    ("/api/v1/journal-entries/1/reverse", {}),
    ("/api/v1/periods/2026-10/close", {}),
]


@pytest.fixture
def sqlite_app(sqlite_database: str) -> Iterator[Flask]:
    application = make_app(sqlite_database)
    yield application
    application.extensions["rdf_db"].dispose()


def test_every_route_of_the_url_map_declares_who_may_call_it(sqlite_app: Flask) -> None:
    missing = []
    checked = 0
    for rule in sqlite_app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in sorted((rule.methods or set()) - {"OPTIONS"}):
            checked += 1
            if access_for(sqlite_app, rule.endpoint, method) is None:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert checked >= 10
    assert not missing, "routes without an @access declaration: " + ", ".join(missing)


def test_a_route_without_a_declaration_is_refused_even_to_admin(
    sqlite_app: Flask,
) -> None:
    @sqlite_app.route("/api/v1/undeclared")
    def undeclared() -> str:
        return "secret"

    from api.auth import create_user

    with sqlite_app.extensions["rdf_db"].session() as s:
        _u, token = create_user(s, "boss", "admin")
        s.commit()
    r = sqlite_app.test_client().get("/api/v1/undeclared", headers=bearer(token))
    assert r.status_code in (401, 403)
    assert access_for(sqlite_app, "undeclared", "GET") is None


def test_the_health_check_and_openapi_document_need_no_token(sqlite_app: Flask) -> None:
    c = sqlite_app.test_client()
    assert c.get("/healthz").status_code == 200
    assert c.get("/api/v1/openapi.json").status_code == 200


@pytest.mark.parametrize("path", LEDGER_READS)
@pytest.mark.parametrize(
    "header",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer rdf_not-a-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "rdf_x"},
    ],
    ids=["none", "empty", "unknown", "basic", "no-scheme"],
)
def test_reads_without_a_valid_token_are_401(
    client: FlaskClient, path: str, header: dict[str, str]
) -> None:
    assert_problem(client.get(path, headers=header), 401)


@pytest.mark.parametrize(("path", "payload"), LEDGER_WRITES)
def test_writes_without_a_valid_token_are_401_and_change_nothing(
    app: Flask, client: FlaskClient, path: str, payload: object
) -> None:
    before = snapshot(app)
    assert_problem(client.post(path, json=payload), 401)
    assert_problem(client.post(path, json=payload, headers=bearer("rdf_forged")), 401)
    assert snapshot(app) == before


@pytest.mark.parametrize(("path", "payload"), LEDGER_WRITES)
def test_an_auditor_cannot_write(
    app: Flask, client: FlaskClient, tokens: dict[str, str], path: str, payload: object
) -> None:
    before = snapshot(app)
    assert_problem(client.post(path, json=payload, headers=bearer(tokens["auditor"])), 403)
    assert snapshot(app) == before


@pytest.mark.parametrize("path", LEDGER_READS)
def test_auditor_and_finance_can_read_the_books(
    client: FlaskClient, tokens: dict[str, str], path: str
) -> None:
    for role in ("auditor", "finance", "admin"):
        r = client.get(path, headers=bearer(tokens[role]))
        assert r.status_code in (200, 404), (role, path, r.status_code)


@pytest.mark.parametrize("path", LEDGER_READS)
def test_a_pharmacist_cannot_read_the_ledger(app: Flask, client: FlaskClient, path: str) -> None:
    token = pharmacist_token(app, "PX")
    for p in (path, path.replace("1010", "1200-PX")):
        assert_problem(client.get(p, headers=bearer(token)), 403)


@pytest.mark.parametrize(("path", "payload"), LEDGER_WRITES)
def test_a_pharmacist_cannot_write_the_ledger(
    app: Flask, client: FlaskClient, path: str, payload: object
) -> None:
    token = pharmacist_token(app, "PX")
    before = snapshot(app)
    assert_problem(client.post(path, json=payload, headers=bearer(token)), 403)
    assert snapshot(app) == before


def test_a_revoked_token_is_401(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> None:
    from api.auth import revoke

    with app.extensions["rdf_db"].session() as s:
        revoke(s, "test-auditor")
        s.commit()
    assert_problem(client.get("/api/v1/accounts", headers=bearer(tokens["auditor"])), 401)


def educator_token(app: Flask) -> str:
    from api.auth import create_user
    from care.service import create_educator

    with app.extensions["rdf_db"].session() as s:
        create_educator(s, {"code": "E1", "network": "N", "district": "D"})
        _u, token = create_user(s, "educator-e1", "educator", educator="E1")
        s.commit()
    return token


@pytest.mark.parametrize("path", LEDGER_READS)
def test_an_educator_cannot_read_the_ledger(app: Flask, client: FlaskClient, path: str) -> None:
    assert_problem(client.get(path, headers=bearer(educator_token(app))), 403)


@pytest.mark.parametrize(("path", "payload"), LEDGER_WRITES)
def test_an_educator_cannot_write_the_ledger(
    app: Flask, client: FlaskClient, path: str, payload: object
) -> None:
    token = educator_token(app)
    before = snapshot(app)
    assert_problem(client.post(path, json=payload, headers=bearer(token)), 403)
    assert snapshot(app) == before


def test_an_educator_is_admitted_only_where_a_route_names_the_role(sqlite_app: Flask) -> None:
    admitted = sorted(
        f"{method} {rule.rule}"
        for rule in sqlite_app.url_map.iter_rules()
        if rule.endpoint not in PUBLIC_ENDPOINTS
        for method in sorted((rule.methods or set()) - {"OPTIONS", "HEAD"})
        if (a := access_for(sqlite_app, rule.endpoint, method)) is not None
        and "educator" in a.roles
    )
    assert admitted == [
        "GET /api/v1/care/adherence",
        "GET /api/v1/care/overdue-refills",
        "GET /api/v1/peer-educators",
        # the pages: home (a link to the visit list), the visit list, sign-out
        "GET /app",
        "GET /app/care",
        "POST /app/logout",
    ]
