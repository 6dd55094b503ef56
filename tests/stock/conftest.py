"""Fixtures of the stock tests: a pinned clock, role headers, reference data made through the
API, and helpers that read the books and take snapshots (to prove a refusal changed nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from api.auth import create_user
from ledger.tables import Account, Balance, Commodity, Entry, Lot, Posting
from stock.tables import Medicine, Pharmacy, StockMovement, Supplier
from tests.support import bearer, ok, post
from tests.support import pinned_clock as pinned_clock


def pharmacist_of(app: Flask, pharmacy: str, name: str | None = None) -> dict[str, str]:
    with app.extensions["rdf_db"].session() as s:
        _u, token = create_user(s, name or f"pharmacist-{pharmacy}", "pharmacist", pharmacy)
        s.commit()
    return bearer(token)


MEDICINES = [
    ("MET500", "Metformin", "500 mg", "tablet", "tablet"),
    ("AML5", "Amlodipine", "5 mg", "tablet", "tablet"),
    ("INSNPH", "Insulin NPH", "100 IU/ml", "injection", "ml"),
]


@pytest.fixture
def reference(client: FlaskClient, finance: dict[str, str]) -> dict[str, str]:
    """Medicines MET500, AML5, INSNPH; supplier S1; pharmacies P1 and P2."""
    for code, name, strength, form, unit in MEDICINES:
        ok(
            post(
                client,
                "/medicines",
                finance,
                {"code": code, "name": name, "strength": strength, "form": form, "unit": unit},
            )
        )
    ok(post(client, "/suppliers", finance, {"code": "S1", "name": "Pharma Supplier One"}))
    for code in ("P1", "P2"):
        ok(
            post(
                client,
                "/pharmacies",
                finance,
                {
                    "code": code,
                    "name": f"Pharmacy {code}",
                    "province": "Takeo",
                    "district": "Doun Kaev",
                },
            )
        )
    return finance


def receipt_line(
    medicine: str = "MET500",
    lot: str = "L1",
    expiry: str = "2028-03-31",
    quantity: int = 1000,
    total_cost: Any = "35000",
) -> dict[str, Any]:
    return {
        "medicine": medicine,
        "lot": lot,
        "expiry": expiry,
        "quantity": quantity,
        "total_cost": total_cost,
    }


def receive(
    client: FlaskClient,
    headers: dict[str, str],
    *lines: dict[str, Any],
    location: str = "CENTRAL",
    date: str = "2026-10-01",
    supplier: str = "S1",
) -> Any:
    return post(
        client,
        "/stock/receipts",
        headers,
        {"supplier": supplier, "location": location, "date": date, "lines": list(lines)},
    )


def transfer(
    client: FlaskClient,
    headers: dict[str, str],
    *lines: dict[str, Any],
    src: str = "CENTRAL",
    dst: str = "P1",
    date: str = "2026-10-05",
) -> Any:
    return post(
        client,
        "/stock/transfers",
        headers,
        {"from": src, "to": dst, "date": date, "lines": list(lines)},
    )


def lot_position(app: Flask, location: str, medicine: str, lot: str) -> tuple[int, int]:
    """(units, value in KHR) of a lot at a place, from the kept balances."""
    with app.extensions["rdf_db"].session() as s:
        lot_id = s.scalar(select(Lot.id).where(Lot.commodity == medicine, Lot.lot_code == lot))
        rows = dict(
            s.execute(
                select(Balance.commodity, func.sum(Balance.amount))
                .where(Balance.account_code == f"1400-{location}", Balance.lot_key == lot_id)
                .group_by(Balance.commodity)
            ).all()
        )
    return int(rows.get(medicine, 0)), int(rows.get("KHR", 0))


def snapshot(app: Flask) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    with app.extensions["rdf_db"].session() as s:
        return {
            "entries": s.scalar(select(func.count()).select_from(Entry)),
            "postings": s.scalar(select(func.count()).select_from(Posting)),
            "balances": sorted(
                s.execute(
                    select(
                        Balance.account_code, Balance.commodity, Balance.lot_key, Balance.amount
                    ).where(Balance.amount != 0)
                )
            ),
            "lots": sorted(s.execute(select(Lot.commodity, Lot.lot_code, Lot.expiry_on))),
            "accounts": s.scalar(select(func.count()).select_from(Account)),
            "commodities": s.scalar(select(func.count()).select_from(Commodity)),
            "medicines": s.scalar(select(func.count()).select_from(Medicine)),
            "suppliers": s.scalar(select(func.count()).select_from(Supplier)),
            "pharmacies": s.scalar(select(func.count()).select_from(Pharmacy)),
            "movements": s.scalar(select(func.count()).select_from(StockMovement)),
        }


@pytest.fixture
def unchanged(app: Flask) -> Callable[[], None]:
    """Call once before and once after: the second call asserts nothing changed."""
    before: list[dict[str, Any]] = []

    def check() -> None:
        now = snapshot(app)
        if not before:
            before.append(now)
        else:
            assert now == before[0]

    return check
