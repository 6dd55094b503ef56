"""Random receipts, transfers, write-offs and counts never break the rules of stock.

After every step, for every lot at every place: units and value are never negative; value
is zero exactly when units are zero; units are conserved (received = on hand + written off
+ counted away); value likewise (cost received = value on hand + value written off + value
counted away); and each inventory account's value is the sum of its lots' values.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ledger.errors import RdfError
from ledger.tables import Balance, Lot
from stock import movements, queries
from stock.commands import (
    Count,
    CountLineIn,
    MoveLineIn,
    NewMedicine,
    NewPharmacy,
    NewSupplier,
    ReceiptLineIn,
    Receive,
    Transfer,
    WriteOff,
)
from stock.refdata import create_medicine, create_pharmacy, create_supplier
from stock.tables import Supplier

PLACES = ["CENTRAL", "P1", "P2"]
LOTS = [("A", date(2027, 6, 30)), ("B", date(2027, 1, 31)), ("C", date(2026, 10, 10))]
ON = date(2026, 10, 10)
_codes = itertools.count(1)

place = st.sampled_from(PLACES)
lot_ix = st.integers(min_value=0, max_value=len(LOTS) - 1)
qty = st.integers(min_value=1, max_value=400)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), place, lot_ix, qty, st.integers(0, 50_000)),
        st.tuples(st.just("transfer"), place, place, qty, st.one_of(st.none(), lot_ix)),
        st.tuples(st.just("write_off"), place, lot_ix, qty),
        st.tuples(st.just("count"), place, lot_ix, st.integers(min_value=0, max_value=500)),
    ),
    min_size=1,
    max_size=12,
)


def ensure_places(app: Flask) -> None:
    with app.extensions["rdf_db"].session() as s:
        if s.get(Supplier, "S1") is not None:
            return
        create_supplier(s, NewSupplier("S1", "Supplier"))
        for code in PLACES[1:]:
            create_pharmacy(s, NewPharmacy(code, code, "Kampot", "Kampot"))
        s.commit()


def apply(s: Any, med: str, step: tuple[Any, ...]) -> Any:
    kind = step[0]
    if kind == "receive":
        _k, loc, ix, q, extra = step
        code, expiry = LOTS[ix]
        return movements.receive(
            s,
            Receive(
                "S1",
                loc,
                date(2026, 10, 1),
                (ReceiptLineIn(med, code, expiry, q, str(q + extra)),),
            ),
            by="prop",
        )
    if kind == "transfer":
        _k, src, dst, q, ix = step
        line = MoveLineIn(med, q, LOTS[ix][0] if ix is not None else None)
        return movements.transfer(s, Transfer(src, dst, ON, (line,)), by="prop")
    if kind == "write_off":
        _k, loc, ix, q = step
        return movements.write_off(
            s, WriteOff(loc, ON, "damaged", (MoveLineIn(med, q, LOTS[ix][0]),)), by="prop"
        )
    _k, loc, ix, counted = step
    return movements.count(s, Count(loc, ON, (CountLineIn(med, LOTS[ix][0], counted),)), by="prop")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_random_stock_movements_keep_units_and_value_exact(
    app: Flask, plan: list[tuple[Any, ...]]
) -> None:
    ensure_places(app)
    db = app.extensions["rdf_db"]
    med = f"H{next(_codes)}"
    with db.session() as s:
        create_medicine(s, NewMedicine(med, "x", "1 mg", "tablet", "tablet"))
        s.commit()
    received: defaultdict[str, list[int]] = defaultdict(
        lambda: [0, 0]
    )  # lot code -> [units, value]
    gone: defaultdict[str, list[int]] = defaultdict(
        lambda: [0, 0]
    )  # lot code -> [units, value] written off or counted away
    for step in plan:
        with db.session() as s:
            try:
                result = apply(s, med, step)
                s.commit()
            except RdfError:
                s.rollback()
                result = None
        if isinstance(result, movements.ReceiptResult):
            for line in result.lines:
                received[line.lot][0] += line.quantity
                received[line.lot][1] += line.cost
        elif isinstance(result, movements.MoveResult) and result.kind == "write_off":
            for taken in result.lines:
                for t in taken.lots:
                    gone[t.lot_code][0] += t.quantity
                    gone[t.lot_code][1] += t.value
        elif isinstance(result, movements.CountResult):
            for c in result.lines:
                gone[c.lot][0] -= c.difference
                gone[c.lot][1] -= c.value
        check_books(app, med, received, gone)


def check_books(
    app: Flask, med: str, received: dict[str, list[int]], gone: dict[str, list[int]]
) -> None:
    with app.extensions["rdf_db"].session() as s:
        lots = dict(s.execute(select(Lot.id, Lot.lot_code).where(Lot.commodity == med)).all())
        on_hand: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
        value_at: dict[str, int] = defaultdict(int)  # every medicine's lots, per place
        for r in queries.on_hand(s):
            value_at[r.location] += r.value
            if r.medicine != med:
                continue
            assert r.quantity >= 0 and r.value >= 0, r
            assert (r.quantity == 0) == (r.value == 0), r
            on_hand[r.lot][0] += r.quantity
            on_hand[r.lot][1] += r.value
        for code in set(received) | set(on_hand) | set(gone):
            assert received[code][0] == on_hand[code][0] + gone[code][0], code
            assert received[code][1] == on_hand[code][1] + gone[code][1], code
        for loc in PLACES:
            account = f"1400-{loc}"
            whole = s.scalar(
                select(func.coalesce(func.sum(Balance.amount), 0)).where(
                    Balance.account_code == account, Balance.commodity == "KHR"
                )
            )
            assert whole == value_at[loc], loc
            no_lot = s.scalar(
                select(func.coalesce(func.sum(Balance.amount), 0)).where(
                    Balance.account_code == account, Balance.lot_key == 0
                )
            )
            assert no_lot == 0
        assert set(lots.values()) >= set(received)
