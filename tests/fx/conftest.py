"""Fixtures of the two-currency tests: a pinned clock, role headers, reference data made
through the API (medicines, an importer, a forwarder, a pharmacy), a payer's account, and
helpers that read the books and prove a refusal posted nothing."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from ledger.fx_tables import FxConversion, FxExchange, FxRate, LandedCost
from ledger.tables import Account, Entry, Posting
from tests.support import NOW, ok, post
from tests.support import pinned_clock as pinned_clock


@pytest.fixture
def fund(app: Flask, client: FlaskClient, fin: dict[str, str]) -> Flask:
    """Medicines MET500 and AML5, importer IMP (invoices USD), local wholesaler LOC,
    forwarder FWD, pharmacy P1, and a payer's account 1300-HEF."""
    for code, name in (("MET500", "Metformin"), ("AML5", "Amlodipine")):
        ok(
            post(
                client,
                "/medicines",
                fin,
                {"code": code, "name": name, "strength": "x", "form": "tablet", "unit": "tablet"},
            )
        )
    for code in ("IMP", "LOC", "FWD"):
        ok(post(client, "/suppliers", fin, {"code": code, "name": f"Supplier {code}"}))
    ok(
        post(
            client,
            "/pharmacies",
            fin,
            {"code": "P1", "name": "Pharmacy 1", "province": "PP", "district": "D"},
        )
    )
    with app.extensions["rdf_db"].session() as s:
        s.add(
            Account(
                code="1300-HEF",
                parent="1300",
                name="Due from HEF",
                type="asset",
                carries="money",
                is_header=False,
                is_inventory=False,
                currency=None,
                pharmacy=None,
                created_at=NOW,
            )
        )
        s.commit()
    return app


def rate(client: FlaskClient, fin: dict[str, str], day: str, value: str) -> Any:
    return ok(
        post(client, "/fx-rates", fin, {"date": day, "base": "USD", "quote": "KHR", "rate": value})
    )


def balance(app: Flask, account: str, commodity: str, lot: str | None = None) -> int:
    with app.extensions["rdf_db"].session() as s:
        q = select(func.coalesce(func.sum(Posting.amount), 0)).where(
            Posting.account_code == account, Posting.commodity == commodity
        )
        return int(s.scalar(q) or 0)


def snapshot(app: Flask) -> tuple[int, ...]:
    """Counts of everything a write could add: entries, postings, fx documents."""
    with app.extensions["rdf_db"].session() as s:
        return tuple(
            int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (Entry, Posting, FxRate, FxConversion, FxExchange, LandedCost)
        )


def postings_of(app: Flask, entry_id: str) -> list[tuple[str, str, int]]:
    with app.extensions["rdf_db"].session() as s:
        rows = s.execute(
            select(Posting.account_code, Posting.commodity, Posting.amount)
            .where(Posting.entry_id == int(entry_id))
            .order_by(Posting.account_code, Posting.commodity, Posting.amount)
        ).all()
    return [(a, c, int(v)) for a, c, v in rows]
