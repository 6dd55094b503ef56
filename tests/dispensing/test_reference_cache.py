"""The per-process reference snapshot (``ledger.refcache``): every change of reference data,
through the API, through the service in an open transaction, or by SQL from elsewhere, is
seen by the next dispensing; nothing changed means nothing is read again."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from sqlalchemy import text

from contracts.quote import quote_dispensing
from ledger.refcache import RefCache, Snapshot, reference
from ledger.refdata import ledger_ref
from ledger.tables import Period
from tests.dispensing.conftest import Fund


def _version(app: Flask) -> int:
    with app.extensions["rdf_db"].session() as s:
        return int(s.execute(text("SELECT version FROM ref_version")).scalar_one())


def _cache(app: Flask) -> RefCache:
    cache: RefCache = app.extensions["rdf_db"].refcache
    return cache


def test_a_dispensing_reads_reference_data_once_while_nothing_changes(
    app: Flask, fund: Fund
) -> None:
    fund.dispense([("MET500", 2)])
    loads = _cache(app).loads
    version = _version(app)
    for _ in range(3):
        fund.dispense([("MET500", 2)])
    assert _cache(app).loads == loads, "the snapshot was read again with nothing changed"
    assert _version(app) == version, "a dispensing changed reference data"


def test_a_new_price_list_version_prices_the_next_dispensing(app: Flask, fund: Fund) -> None:
    before = fund.dispense([("MET500", 10)])
    assert before["total_price"] == "500"
    fund.post(
        "/price-lists/PL1/versions",
        {
            "effective_from": "2026-10-10",
            "items": [
                {"medicine": "MET500", "unit_price": "70"},
                {"medicine": "AML5", "unit_price": "120"},
            ],
        },
    )
    after = fund.dispense([("MET500", 10)], date="2026-10-14")
    assert after["total_price"] == "700"
    earlier = fund.dispense([("MET500", 10)], date="2026-10-09")
    assert earlier["total_price"] == "500"


def test_a_suspended_contract_stops_the_next_dispensing(app: Flask, fund: Fund) -> None:
    fund.dispense([("MET500", 1)])
    contracts = fund.get("/pharmacies/P1/contracts")
    items = contracts["items"] if isinstance(contracts, dict) else contracts
    cid = items[0]["id"]
    fund.post(f"/pharmacies/P1/contracts/{cid}/suspend", {}, expect=200)
    refused = fund.dispense([("MET500", 1)], expect=409)
    assert "suspended" in refused["detail"]
    fund.post(f"/pharmacies/P1/contracts/{cid}/resume", {}, expect=200)
    fund.dispense([("MET500", 1)])


def test_a_change_made_by_sql_elsewhere_is_seen(app: Flask, fund: Fund) -> None:
    fund.dispense([("MET500", 10)])  # the snapshot is warm
    with app.extensions["rdf_db"].engine.begin() as conn:  # another process, say
        conn.execute(
            text("UPDATE price_list_items SET unit_price = '90' WHERE medicine = 'MET500'")
        )
    assert fund.dispense([("MET500", 10)])["total_price"] == "900"


def test_every_reference_table_bumps_the_version_and_a_no_op_insert_does_not(
    app: Flask, fund: Fund
) -> None:
    v0 = _version(app)
    fund.post(
        "/medicines",
        {
            "code": "GLI80",
            "name": "Gliclazide",
            "strength": "80 mg",
            "form": "tablet",
            "unit": "tablet",
        },
    )
    v1 = _version(app)
    assert v1 > v0
    with app.extensions["rdf_db"].session() as s:
        s.execute(text("UPDATE accounts SET name = name || ' ' WHERE code = '4000'"))
        s.commit()
    v2 = _version(app)
    assert v2 > v1
    with app.extensions["rdf_db"].session() as s:
        s.execute(text("DELETE FROM scheme_medicines WHERE scheme = 'NONE'"))  # no rows
        s.commit()
    assert _version(app) == v2, "a statement that changed no row bumped the version"
    # booking_date inserts the month's row "if missing" on every entry: no bump when present
    fund.dispense([("MET500", 1)])
    v3 = _version(app)
    fund.dispense([("MET500", 1)])
    assert _version(app) == v3


def test_an_uncommitted_change_is_seen_in_its_transaction_only(app: Flask, fund: Fund) -> None:
    fund.dispense([("MET500", 10)])  # warm
    db = app.extensions["rdf_db"]
    with db.session() as s:
        s.execute(text("UPDATE price_list_items SET unit_price = '80' WHERE medicine = 'MET500'"))
        q = quote_dispensing(
            s, pharmacy="P1", patient=None, service_date=date(2026, 10, 14), items=[("MET500", 10)]
        )
        assert q.priced.total_price == 800
        s.rollback()
        q = quote_dispensing(
            s, pharmacy="P1", patient=None, service_date=date(2026, 10, 14), items=[("MET500", 10)]
        )
        assert q.priced.total_price == 500
    assert fund.dispense([("MET500", 10)], patient=None)["total_price"] == "500"


def test_a_month_closed_behind_the_cache_moves_the_next_entry_forward(
    app: Flask, fund: Fund
) -> None:
    fund.dispense([("MET500", 1)], date="2026-10-14")
    snap = ledger_ref(reference_of(app))
    assert snap.periods.get("2026-10") == "open"
    with app.extensions["rdf_db"].session() as s:  # closed behind the cache's back
        row = s.get(Period, "2026-10")
        assert row is not None
        row.status = "closed"
        s.commit()
    late = fund.dispense([("MET500", 1)], date="2026-10-20")
    assert late["service_date"] == "2026-10-20"
    assert late["accounting_date"] == "2026-11-01"


def reference_of(app: Flask) -> Snapshot:
    with app.extensions["rdf_db"].session() as s:
        return reference(s)


@pytest.mark.parametrize("table", ["lots", "contracts", "price_list_versions", "periods"])
def test_the_version_trigger_exists_on(app: Flask, table: str) -> None:
    with app.extensions["rdf_db"].session() as s:
        if s.get_bind().dialect.name == "postgresql":
            n = s.execute(
                text("SELECT count(*) FROM pg_trigger WHERE tgname = :t"),
                {"t": f"{table}_ref_bump"},
            ).scalar_one()
        else:
            n = s.execute(
                text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE :t"),
                {"t": f"{table}_ref_bump_%"},
            ).scalar_one()
    assert n >= 1
