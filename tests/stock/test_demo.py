"""The demo stock loads on an empty fund and leaves every pharmacy stocked."""

from __future__ import annotations

from flask import Flask

from demo.stock import PHARMACIES, TRANSFERS, seed_stock
from ledger import clock
from stock import queries


def test_the_demo_stock_fills_the_central_store_and_every_pharmacy(app: Flask) -> None:
    with app.extensions["rdf_db"].session() as s:
        summary = seed_stock(s)
        s.commit()
    assert len(summary["transfer_entries"]) == len(PHARMACIES) == 4
    with app.extensions["rdf_db"].session() as s:
        rows = queries.on_hand(s)
    for pharmacy, wanted in TRANSFERS.items():
        for medicine, units in wanted.items():
            here = [r for r in rows if r.location == pharmacy and r.medicine == medicine]
            assert sum(r.quantity for r in here) == units
            assert all(r.value >= r.quantity > 0 for r in here)
    assert {r.location for r in rows} == {"CENTRAL"} | set(TRANSFERS)
    with app.extensions["rdf_db"].session() as s:
        soon = queries.expiring(s, within_days=60, today=clock.today())
    assert {r.lot for r in soon} == {"MT23-1102"}  # the short-dated metformin went out first
