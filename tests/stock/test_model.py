"""The pure rules of stock: FEFO picking, expiry, the lot value rule, count gains."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stock.model import LotPosition, Shortage, count_gain_value, pick_lots

ON = date(2026, 11, 23)


def lot(
    lot_id: int,
    expiry: date,
    units: int = 100,
    value: int = 1000,
    received: date = date(2026, 10, 1),
) -> LotPosition:
    return LotPosition(lot_id, f"L{lot_id}", expiry, received, units, value)


def test_the_lot_expiring_first_is_picked_first() -> None:
    takes = pick_lots([lot(1, date(2028, 1, 1)), lot(2, date(2027, 1, 1))], 50, ON)
    assert [(t.lot_code, t.units) for t in takes] == [("L2", 50)]


def test_a_take_spills_into_the_next_expiring_lot() -> None:
    takes = pick_lots([lot(1, date(2028, 1, 1)), lot(2, date(2027, 1, 1))], 150, ON)
    assert [(t.lot_code, t.units, t.value) for t in takes] == [("L2", 100, 1000), ("L1", 50, 500)]


def test_equal_expiries_go_earliest_received_first_then_by_lot_id() -> None:
    lots = [
        lot(3, date(2027, 1, 1), received=date(2026, 9, 1)),
        lot(1, date(2027, 1, 1), received=date(2026, 10, 1)),
        lot(2, date(2027, 1, 1), received=date(2026, 9, 1)),
    ]
    takes = pick_lots(lots, 250, ON)
    assert [t.lot_code for t in takes] == ["L2", "L3", "L1"]


def test_a_lot_that_expired_yesterday_is_never_picked() -> None:
    takes = pick_lots([lot(1, date(2026, 11, 22)), lot(2, date(2027, 1, 1))], 10, ON)
    assert [t.lot_code for t in takes] == ["L2"]


def test_a_lot_expiring_on_the_day_is_still_picked() -> None:
    takes = pick_lots([lot(1, ON), lot(2, date(2027, 1, 1))], 10, ON)
    assert [t.lot_code for t in takes] == ["L1"]


def test_a_named_lot_is_the_only_one_taken_from() -> None:
    takes = pick_lots([lot(1, date(2027, 1, 1)), lot(2, date(2028, 1, 1))], 10, ON, lot_code="L2")
    assert [t.lot_code for t in takes] == ["L2"]


def test_a_shortage_reports_what_unexpired_stock_is_available() -> None:
    with pytest.raises(Shortage) as exc:
        pick_lots([lot(1, date(2026, 1, 1)), lot(2, date(2027, 1, 1), units=30)], 31, ON)
    assert exc.value.available == 30


def test_a_named_expired_lot_is_refused_unless_expired_stock_is_allowed() -> None:
    with pytest.raises(Shortage) as exc:
        pick_lots([lot(1, date(2026, 1, 1))], 5, ON, lot_code="L1")
    assert exc.value.expired_lot is not None
    takes = pick_lots([lot(1, date(2026, 1, 1))], 5, ON, lot_code="L1", allow_expired=True)
    assert [(t.lot_code, t.units, t.value) for t in takes] == [("L1", 5, 50)]


@pytest.mark.parametrize("quantity", [0, -1, True])
def test_a_quantity_must_be_a_positive_whole_number(quantity: int) -> None:
    with pytest.raises(ValueError):
        pick_lots([lot(1, date(2027, 1, 1))], quantity, ON)


@settings(max_examples=60, deadline=None)
@given(
    units=st.integers(min_value=1, max_value=10_000),
    extra=st.integers(min_value=0, max_value=1_000_000),
    takes=st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=30),
)
def test_taking_a_lot_in_pieces_empties_units_and_value_together(
    units: int, extra: int, takes: list[int]
) -> None:
    position = lot(1, date(2027, 1, 1), units=units, value=units + extra)
    for q in takes + [units]:  # the last take empties what is left
        q = min(q, position.units)
        if q == 0:
            break
        (t,) = pick_lots([position], q, ON)
        assert t.value >= t.units  # at least one minor unit per unit moves
        position = LotPosition(
            1,
            "L1",
            position.expiry_on,
            position.received_on,
            position.units - t.units,
            position.value - t.value,
        )
        assert position.value >= position.units >= 0
        assert (position.value == 0) == (position.units == 0)
    assert (position.units, position.value) == (0, 0)


def test_a_count_gain_is_valued_at_the_lots_average_at_that_place() -> None:
    assert count_gain_value(600, 21000, 3, received_units=1000, received_value=35000) == 105
    assert count_gain_value(3, 100, 1, received_units=3, received_value=100) == 33


def test_a_count_gain_of_a_lot_gone_from_that_place_is_valued_at_its_receipt_cost() -> None:
    assert count_gain_value(0, 0, 7, received_units=1000, received_value=35000) == 245
