"""Plain rules of stock: first-expiry-first-out lot picking and the lot value rule.

Design note (kept true):

* Stock of a lot at a place is a position ``(units, value)``: the balance of that place's
  inventory account ``1400-{location}`` in the medicine and in the fund currency for the lot.
  Both are integers (base units of the medicine; minor units of the currency).
* **Lot value rule** (DESIGN.md): taking ``q`` of the ``Q`` units left in a lot worth ``V``
  moves ``round_half_up(V * q / Q)``, and ``V`` itself when ``q == Q``. Units and value
  therefore reach zero together: no residue, ever.
* **At least one minor unit per unit**: a receipt must cost at least one minor unit of the
  fund currency per base unit (``value >= units``). The lot value rule keeps ``V >= Q`` true
  for what stays (``V - round(Vq/Q) >= Q - q``) and for what moves (``round(Vq/Q) >= q``),
  so a position's value is zero exactly when its units are zero, wherever the units go.
* **FEFO**: lots are picked by expiry (earliest first), ties by received date, then lot id.
  A lot whose expiry is before the event's date is never picked; a lot expiring on that day
  still is. Not enough unexpired stock is a :class:`Shortage`; nothing is taken.
* Counts: a count above book adds ``d`` units valued by the lot's current average
  (``round_half_up(V * d / Q)``); when nothing is left of the lot at that place (``Q == 0``)
  the lot's receipt cost per unit is used instead (see :func:`count_gain_value`).

Nothing here imports Flask or SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from ledger.money import lot_value_taken, round_half_up


@dataclass(frozen=True)
class LotPosition:
    """What is left of one lot at one place: ``units`` base units worth ``value`` minor units."""

    lot_id: int
    lot_code: str
    expiry_on: date
    received_on: date
    units: int
    value: int


@dataclass(frozen=True)
class Take:
    """``units`` taken from a lot, worth ``value`` by the lot value rule."""

    lot_id: int
    lot_code: str
    expiry_on: date
    units: int
    value: int


class Shortage(Exception):
    """Not enough stock to take: ``available`` is what could have been taken."""

    def __init__(self, requested: int, available: int, *, expired_lot: LotPosition | None = None):
        super().__init__(f"{requested} requested, {available} available")
        self.requested = requested
        self.available = available
        #: set when the one named lot exists here but expired before the event's date
        self.expired_lot = expired_lot


def fefo_order(positions: Iterable[LotPosition]) -> list[LotPosition]:
    """Lots in picking order: expiry, then received date, then lot id."""
    return sorted(positions, key=lambda p: (p.expiry_on, p.received_on, p.lot_id))


def usable(position: LotPosition, on: date) -> bool:
    """A lot can be picked on ``on`` unless it expired before that day."""
    return position.expiry_on >= on and position.units > 0


def available_units(positions: Iterable[LotPosition], on: date) -> int:
    return sum(p.units for p in positions if usable(p, on))


def take_value(position: LotPosition, units: int) -> int:
    """The value that leaves ``position`` when ``units`` are taken (the lot value rule)."""
    return lot_value_taken(position.value, position.units, units)


def pick_lots(
    positions: Iterable[LotPosition],
    quantity: int,
    on: date,
    *,
    lot_code: str | None = None,
    allow_expired: bool = False,
) -> list[Take]:
    """Choose which lots give ``quantity`` units on ``on`` and what value leaves each.

    First-expiry-first-out unless ``lot_code`` names the one lot to take from. Expired lots
    (expiry before ``on``) are never picked, unless ``allow_expired`` (write-offs and
    counts name the lot and may remove expired stock). Raises :class:`Shortage`.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValueError(f"quantity must be a positive integer, not {quantity!r}")
    candidates = list(positions)
    if lot_code is not None:
        candidates = [p for p in candidates if p.lot_code == lot_code]
        if not allow_expired:
            expired = [p for p in candidates if p.expiry_on < on and p.units > 0]
            if expired:
                raise Shortage(quantity, 0, expired_lot=expired[0])
    ordered = [
        p for p in fefo_order(candidates) if p.units > 0 and (allow_expired or p.expiry_on >= on)
    ]
    have = sum(p.units for p in ordered)
    if have < quantity:
        raise Shortage(quantity, have)
    takes: list[Take] = []
    left = quantity
    for p in ordered:
        if left == 0:
            break
        q = min(left, p.units)
        takes.append(Take(p.lot_id, p.lot_code, p.expiry_on, q, take_value(p, q)))
        left -= q
    assert sum(t.units for t in takes) == quantity
    return takes


def after_pending(
    positions: Iterable[LotPosition], pending: Mapping[int, tuple[int, int]]
) -> list[LotPosition]:
    """Positions less what an earlier line of the same entry already took (units, value)."""
    out = []
    for p in positions:
        u, v = pending.get(p.lot_id, (0, 0))
        out.append(
            LotPosition(p.lot_id, p.lot_code, p.expiry_on, p.received_on, p.units - u, p.value - v)
        )
    return out


def count_gain_value(
    units_on_book: int,
    value_on_book: int,
    units_found: int,
    *,
    received_units: int,
    received_value: int,
) -> int:
    """Value of ``units_found`` more units counted than the book shows for a lot at a place.

    The lot's current average at that place, ``round_half_up(V * d / Q)``; when nothing of the
    lot is left there (``Q == 0``), its receipt cost per unit, ``round_half_up(C * d / R)``
    over everything received of the lot (``R`` units for ``C``). Never below one minor unit
    per unit, so value stays zero exactly when units are zero.
    """
    if units_found <= 0:
        raise ValueError("units_found must be positive")
    if units_on_book > 0:
        v = round_half_up(Fraction(value_on_book * units_found, units_on_book))
    elif received_units > 0:
        v = round_half_up(Fraction(received_value * units_found, received_units))
    else:
        v = units_found
    return max(v, units_found)
