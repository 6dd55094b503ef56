"""Fixtures of the hardening tests (issue 22): the small fund of tests/dispensing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.dispensing.conftest import Fund, seeded_fund


@pytest.fixture
def fund(
    request: pytest.FixtureRequest,
    app: Flask,
    client: FlaskClient,
    tokens: dict[str, str],
    database_url: str,
) -> Iterator[Fund]:
    yield from seeded_fund(request, app, client, tokens, database_url)
