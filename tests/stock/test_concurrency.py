"""On PostgreSQL, concurrent takes from one lot never overdraw it (DESIGN invariant 3)."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ledger.db import make_engine, run_in_transaction
from ledger.errors import InsufficientStock
from ledger.tables import Balance
from stock import movements
from stock.commands import (
    MoveLineIn,
    NewMedicine,
    NewPharmacy,
    NewSupplier,
    ReceiptLineIn,
    Receive,
    Transfer,
)
from stock.refdata import create_medicine, create_pharmacy, create_supplier
from tests.stock.conftest import lot_position
from tests.support import API, bearer

THREADS = 16


def seed(app: Flask, units: int, cost: int) -> None:
    with app.extensions["rdf_db"].session() as s:
        create_medicine(s, NewMedicine("MET500", "Metformin", "500 mg", "tablet", "tablet"))
        create_supplier(s, NewSupplier("S1", "Supplier"))
        for code in ("P1", "P2"):
            create_pharmacy(s, NewPharmacy(code, code, "Takeo", "Doun Kaev"))
        movements.receive(
            s,
            Receive(
                "S1",
                "CENTRAL",
                date(2026, 10, 1),
                (ReceiptLineIn("MET500", "L1", date(2028, 3, 31), units, str(cost)),),
            ),
            by="test",
        )
        s.commit()


def run_all(work: Any) -> list[Any]:
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def roomy_pool(app: Flask) -> None:
    """Give the app's database a pool with a connection for each thread and one more for the
    balance rows ``post_entry`` makes in a transaction of its own (16 workers would have 16
    pools in production; here they share one). The sessionmaker is re-bound in place, so
    everything holding it (the sealer after commit) uses the new pool."""
    db = app.extensions["rdf_db"]
    old = db.engine
    db.engine = make_engine(db.url, pool_size=2 * THREADS + 2)
    db.sessionmaker.configure(bind=db.engine)
    old.dispose()


def no_negative_lot_balance(app: Flask) -> None:
    with app.extensions["rdf_db"].session() as s:
        worst = s.scalars(
            select(Balance.amount).where(Balance.nonneg.is_(True)).order_by(Balance.amount)
        ).first()
    assert worst is None or worst >= 0


@pytest.mark.postgres_only
def test_sixteen_concurrent_transfers_from_one_lot_succeed_only_as_far_as_the_lot_goes(
    pg_app: Flask,
) -> None:
    # Room for exactly 10 takes of 10. An uneven value makes each take's value depend on
    # what the takes before it left (333, 333, 333, 334, …): a take that read the lot
    # before locking it would leave a residue or go below zero.
    seed(pg_app, units=100, cost=3333)
    roomy_pool(pg_app)
    db = pg_app.extensions["rdf_db"]

    def work(i: int) -> Any:
        s = db.sessionmaker()
        try:
            return run_in_transaction(
                s,
                lambda: movements.transfer(
                    s,
                    Transfer(
                        "CENTRAL",
                        "P1" if i % 2 else "P2",
                        date(2026, 10, 5),
                        (MoveLineIn("MET500", 10),),
                    ),
                    by=f"thread-{i}",
                ),
            )
        finally:
            s.close()

    results = run_all(work)
    won = [r for r in results if isinstance(r, movements.MoveResult)]
    short = [r for r in results if isinstance(r, InsufficientStock)]
    assert len(won) == 10 and len(short) == 6, results
    assert sum(r.lines[0].lots[0].value for r in won) == 3333
    assert lot_position(pg_app, "CENTRAL", "MET500", "L1") == (0, 0)
    p1, p2 = lot_position(pg_app, "P1", "MET500", "L1"), lot_position(pg_app, "P2", "MET500", "L1")
    assert (p1[0] + p2[0], p1[1] + p2[1]) == (100, 3333)
    no_negative_lot_balance(pg_app)


@pytest.mark.postgres_only
def test_sixteen_concurrent_http_transfers_from_one_lot_never_overdraw_it(pg_app: Flask) -> None:
    seed(pg_app, units=45, cost=4500)  # 4 takes of 10 fit, the fifth would need 50
    roomy_pool(pg_app)
    from api.auth import create_user

    with pg_app.extensions["rdf_db"].session() as s:
        _u, token = create_user(s, "finance-concurrent", "finance")
        s.commit()
    headers = bearer(token)

    def work(i: int) -> Any:
        client: FlaskClient = pg_app.test_client()
        resp = client.post(
            f"{API}/stock/transfers",
            json={
                "from": "CENTRAL",
                "to": "P1",
                "date": "2026-10-05",
                "lines": [{"medicine": "MET500", "quantity": 10}],
            },
            headers=headers,
        )
        return resp.status_code

    statuses = run_all(work)
    assert sorted(statuses) == [201] * 4 + [409] * 12, statuses
    assert lot_position(pg_app, "CENTRAL", "MET500", "L1") == (5, 500)
    assert lot_position(pg_app, "P1", "MET500", "L1") == (40, 4000)
    no_negative_lot_balance(pg_app)
