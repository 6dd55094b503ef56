"""What the counter is asked to do (typed commands) and what it answers (domain results):
frozen dataclasses, amounts in minor units of ``currency``. The HTTP edge
(``api.dispensing``) builds the commands and serialises the results."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from datetime import date

#: (medicine, quantity in base units), in the order the client sent them.
Items = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class DispenseRequest:
    """Dispense ``items`` at ``pharmacy`` to ``patient`` (None: a walk-in) on
    ``service_date``; ``client_ref`` is unique per pharmacy."""

    pharmacy: str
    patient: str | None
    service_date: date
    client_ref: str | None
    items: Items
    #: per item, in the same order, the days of treatment it carries (care/); None or a
    #: shorter tuple: the medicine's default
    days_supply: tuple[int | None, ...] = ()

    def days_of(self, i: int) -> int | None:
        """The days of treatment item ``i`` carries, or None."""
        return self.days_supply[i] if i < len(self.days_supply) else None


@dataclass(frozen=True)
class ReturnRequest:
    """Return ``items`` of the dispensing ``dispensing_id`` (as the client wrote it) on
    ``on`` (None: today); ``pharmacy_scope``: a pharmacist sees only their pharmacy's."""

    dispensing_id: str
    items: Items
    on: date | None
    pharmacy_scope: str | None


@dataclass(frozen=True)
class LotShare:
    """Units of one lot in a line, with their value."""

    lot_code: str
    quantity: int
    value: int


@dataclass(frozen=True)
class DispensedLine:
    medicine: str
    quantity: int
    unit_price: str  # the unit price as stored (exact decimal text)
    price: int
    subsidy: int
    copayment: int
    cost: int
    lots: tuple[LotShare, ...]
    #: days of treatment taken home, or None: the medicine's default (care/)
    days_supply: int | None = None


@dataclass(frozen=True)
class Dispensed:
    """A dispensing as recorded."""

    id: int
    pharmacy: str
    patient: str | None
    service_date: date
    accounting_date: date
    currency: str
    client_ref: str | None
    model: str
    scheme: str | None
    lines: tuple[DispensedLine, ...]
    total_price: int
    total_subsidy: int
    total_copayment: int
    fee: int
    entry_id: int | None  # the journal entry (set once posted)
    #: per line, the subsidy a scheme's budget cut (moved to the co-payment); None: no cut
    budget_cuts: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ReturnedLine:
    medicine: str
    quantity: int
    price: int
    subsidy: int
    copayment: int
    cost: int
    lots: tuple[LotShare, ...]


@dataclass(frozen=True)
class Returned:
    """A return of (part of) a dispensing, as recorded."""

    id: int
    dispensing_id: int
    pharmacy: str
    date: datetime.date
    accounting_date: datetime.date
    currency: str
    lines: tuple[ReturnedLine, ...]
    total_price: int
    total_subsidy: int
    total_copayment: int
    total_cost: int
    fee: int
    entry_id: int | None  # the journal entry (set once posted)
