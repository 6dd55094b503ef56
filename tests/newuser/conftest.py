"""Fixtures of the new user's tests (issue 23): the small fund of DESIGN.md's worked
example (``tests.dispensing.conftest.build_fund``), on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.dispensing.conftest import Fund, build_fund


@pytest.fixture
def fund(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> Fund:
    return build_fund(app, client, tokens)
