"""Security headers on every answer (22.8)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.headers import API_CSP
from app import create_app
from tests.support import bearer

COMMON = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def check_common(r: object) -> None:
    headers = r.headers  # type: ignore[attr-defined]
    for name, value in COMMON.items():
        assert headers.get(name) == value, (name, headers)
    assert headers.get("Content-Security-Policy"), headers


def test_api_answers_errors_and_documents_carry_the_headers_and_are_not_stored(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    auth = bearer(tokens["finance"])
    answers = [
        client.get("/api/v1/accounts", headers=auth),  # JSON
        client.get("/api/v1/reports/trial-balance?format=csv", headers=auth),  # CSV
        client.get("/api/v1/reports/trial-balance.pdf", headers=auth),  # PDF
        client.get("/api/v1/accounts"),  # 401 problem
        client.get("/api/v1/no-such-thing", headers=auth),  # 404
        client.post("/api/v1/journal-entries", json={}, headers=auth),  # 422
    ]
    for r in answers:
        check_common(r)
        assert r.headers["Content-Security-Policy"] == API_CSP
        assert r.headers["Cache-Control"] == "no-store", r.request.path
        # Tests (and development) do not pin browsers to HTTPS.
        assert "Strict-Transport-Security" not in r.headers


def test_the_health_check_and_openapi_document_carry_the_headers(client: FlaskClient) -> None:
    for path in ("/healthz", "/api/v1/openapi.json"):
        r = client.get(path)
        assert r.status_code == 200
        check_common(r)
    assert "no-store" not in client.get("/api/v1/openapi.json").headers.get("Cache-Control", "")


def test_a_page_that_sets_its_own_policy_keeps_it(client: FlaskClient) -> None:
    r = client.get("/api/v1/docs")
    assert r.status_code == 200
    check_common(r)
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["Content-Security-Policy"] != API_CSP


@pytest.fixture
def production_app(sqlite_database: str) -> Iterator[Flask]:
    application = create_app(
        {
            "DATABASE_URL": sqlite_database,
            "SECRET_KEY": "s3cret",
            "RDF_ENV": "production",
            "RDF_SEAL_MODE": "inline",
        }
    )
    yield application
    application.extensions["rdf_db"].dispose()


def test_hsts_is_sent_outside_development(production_app: Flask) -> None:
    r = production_app.test_client().get("/healthz")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    check_common(r)
