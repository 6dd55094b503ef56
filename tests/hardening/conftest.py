"""Fixtures of the hardening tests (issue 22): the small fund of tests/dispensing."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.dispensing.conftest import Fund, build_fund


@pytest.fixture
def fund(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> Fund:
    return build_fund(app, client, tokens)
