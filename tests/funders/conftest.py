"""The funders' tests run on the worked example's fund (``tests/dispensing/conftest.py``):
1,000 MET500 lot L1 bought for 35,000 KHR, 400 of them at P1, priced 50 KHR, HEF at 50 %.

The fund's fixtures are those of ``tests/dispensing``; the PostgreSQL template of the fund
is made here under a name of its own (a session fixture of the same name in two packages
would otherwise make the same database twice in one run)."""

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.conftest import _admin_engine, _pg_url
from tests.dispensing.conftest import (  # noqa: F401 - fixtures
    Fund,
    FundTemplate,
    _build_template,
    fresh_fund,
    pg_fund,
    pg_fund_url,
    sqlite_fund_template,
)


@pytest.fixture(scope="session")
def pg_fund_template(pg_template: str) -> Iterator[FundTemplate]:
    name = f"{pg_template}_funders"
    eng = _admin_engine()
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    try:
        yield FundTemplate(name, _build_template(_pg_url(name)))
    finally:
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()
