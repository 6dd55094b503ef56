"""Fixtures of the page tests: the demo fund, users with passwords, signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

import demo
from app import attach_database
from tests.conftest import seeded_copy
from tests.support import make_app

PASSWORD = "a-long-enough-password"


def _seed_demo(url: str) -> dict[str, tuple[str, str]]:
    application = make_app(url)
    try:
        with application.extensions["rdf_db"].session() as s:
            tokens = demo.seed(s)
            demo.seed_passwords(s)
            s.commit()
        return tokens
    finally:
        application.extensions["rdf_db"].dispose()


@pytest.fixture
def fund(
    request: pytest.FixtureRequest, app: Flask, database_url: str
) -> Iterator[dict[str, tuple[str, str]]]:
    """The demo fund with every user's password set (``<name>-demo-2026``): seeded once per
    run and backend (hashing every password is slow), the app pointed at a fresh copy."""
    with seeded_copy(request, database_url, "demo", _seed_demo) as (url, tokens):
        app.extensions["rdf_db"].dispose()
        attach_database(app, url)
        yield tokens
        app.extensions["rdf_db"].dispose()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def sign_in(client: FlaskClient, name: str, password: str | None = None) -> str:
    """Sign ``name`` in through the form; returns the CSRF token of the signed-in session."""
    page = client.get("/app/login")
    token = csrf_of(page.get_data(as_text=True))
    r = client.post(
        "/app/login",
        data={
            "username": name,
            "password": password or f"{name}{demo.DEMO_PASSWORD_SUFFIX}",
            "csrf_token": token,
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    home = client.get("/app")
    assert home.status_code == 200
    return csrf_of(home.get_data(as_text=True))
