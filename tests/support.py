"""Helpers of the test suite, in one place: every test and conftest imports them from here.

What ``bench/`` needs too (an app on a database, users and tokens, a pharmacy) lives in
``testkit`` and is re-exported here; fixtures live in the conftests, each defined once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from ledger import clock
from testkit.fund import bearer as bearer
from testkit.fund import create_pharmacy as create_pharmacy
from testkit.fund import create_user_token as create_user_token
from testkit.fund import make_app as make_app

#: The tests' "now" where a folder pins the clock: late November 2026, so October 2026 has
#: ended and November has not.
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
PROBLEM = "application/problem+json"
API = "/api/v1"


@pytest.fixture(autouse=True)
def pinned_clock() -> Iterator[datetime]:
    """The clock pinned at ``NOW``: autouse in every folder whose conftest imports it
    (``from tests.support import pinned_clock as pinned_clock``), nowhere else."""
    clock.pin(NOW)
    yield NOW
    clock.pin(None)


def post(client: FlaskClient, path: str, headers: dict[str, str], body: Any) -> Any:
    return client.post(API + path, json=body, headers=headers)


def get(client: FlaskClient, path: str, headers: dict[str, str]) -> Any:
    return client.get(API + path, headers=headers)


def ok(resp: Any, status: int = 201) -> Any:
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()
