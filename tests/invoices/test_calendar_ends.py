"""Report ranges at the ends of the calendar: from 0001-01-01 (no day before it to take an
opening balance on) and up to 9999-12-31 (no month after it). Both were 500s (found by
bench/fuzz_deep.py and a sweep of the date-range reads)."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import bearer


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/reports/income-statement",
        "/api/v1/reports/fund-health",
        "/api/v1/reports/fund-health.pdf",
    ],
)
@pytest.mark.parametrize(
    "span",
    [
        "from=0001-01-01&to=0001-01-31",
        "from=0001-01-01&to=0001-03-01",
        "from=9999-12-01&to=9999-12-31",
        "from=9999-11-15&to=9999-12-31",
    ],
)
def test_a_range_at_the_ends_of_the_calendar_is_answered(
    client: FlaskClient,
    tokens: dict[str, str],
    path: str,
    span: str,
) -> None:
    r = client.get(f"{path}?{span}", headers=bearer(tokens["finance"]))
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    if path.endswith(".pdf"):
        assert r.data.startswith(b"%PDF")
    else:
        assert r.get_json()["currencies" if "income" in path else "ratios"] is not None


def test_cost_recovery_has_one_figure_per_calendar_month_of_the_range(app: Flask) -> None:
    from reports.statements import cost_recovery_by_month

    with app.extensions["rdf_db"].session() as s:
        months = [m for m, _v in cost_recovery_by_month(s, date(9999, 11, 15), date(9999, 12, 31))]
        assert months == ["9999-11", "9999-12"]
        months = [m for m, _v in cost_recovery_by_month(s, date(2026, 1, 31), date(2026, 3, 1))]
        assert months == ["2026-01", "2026-02", "2026-03"]
        months = [m for m, _v in cost_recovery_by_month(s, date(2025, 12, 1), date(2026, 1, 1))]
        assert months == ["2025-12", "2026-01"]
