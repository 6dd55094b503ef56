"""Rates and the other two-currency documents are history: the database itself refuses to
change or delete them, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.fx.conftest import rate


@pytest.mark.parametrize(
    "sql",
    ["UPDATE fx_rates SET rate = '1', rate_micro = 1000000", "DELETE FROM fx_rates"],
)
def test_the_database_refuses_to_edit_a_rate(
    fund: Flask, client: FlaskClient, fin: dict[str, str], sql: str
) -> None:
    rate(client, fin, "2026-10-01", "4100")
    with fund.extensions["rdf_db"].session() as s:
        with pytest.raises(DBAPIError):
            s.execute(text(sql))
            s.flush()
        s.rollback()
        assert s.execute(text("SELECT rate FROM fx_rates")).scalar_one() == "4100"
