"""The demo seed of contracts: what it makes, and that a quote works on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from contracts.quote import quote_dispensing
from demo.contracts import seed_contracts
from ledger import clock
from tests.contracts.conftest import Api, count_rows


def test_the_demo_seed_makes_lists_schemes_patients_and_contracts(api: Api) -> None:
    with api.app.extensions["rdf_db"].session() as s:
        for code in ("P3", "P4"):
            s.execute(
                text(
                    "INSERT INTO pharmacies (code, name, province, district, created_at) "
                    "VALUES (:c, :c, 'Kandal', 'Ta Khmau', :t)"
                ),
                {"c": code, "t": datetime(2026, 1, 1, tzinfo=UTC)},
            )
        summary = seed_contracts(s)
        s.commit()
    assert summary["patients"] == {"HEF": 80, "NGO50": 61, "none": 59}
    assert [c["model"] for c in summary["contracts"]] == [
        "consignment",
        "consignment",
        "consignment",
        "purchase",
    ]
    assert count_rows(api.app, "patients") == 200
    assert count_rows(api.app, "price_list_versions") == 3
    today = clock.today()
    last_month = today.replace(day=1) - timedelta(days=1)
    with api.app.extensions["rdf_db"].session() as s:
        now = quote_dispensing(
            s, pharmacy="P1", patient="M-00010", service_date=today, items=[("MET500", 10)]
        )
        before = quote_dispensing(
            s, pharmacy="P1", patient="M-00010", service_date=last_month, items=[("MET500", 10)]
        )
        hef = quote_dispensing(
            s, pharmacy="P4", patient="M-00001", service_date=today, items=[("AML5", 10)]
        )
    assert now.scheme is None and before.scheme is not None and before.scheme.code == "NGO50"
    assert now.priced.total_price == 550 and before.priced.total_price == 500  # +10 %
    assert hef.model == "purchase" and hef.priced.total_copayment == 0
