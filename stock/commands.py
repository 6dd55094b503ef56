"""Typed commands of stock: what the edge (``api/stock.py``, the demo, tests) asks the stock
services to do, built from the loaded request. Plain frozen dataclasses, no behaviour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction


@dataclass(frozen=True)
class NewMedicine:
    code: str
    name: str
    strength: str
    form: str
    #: the base unit quantities are counted in (tablet, ml…)
    unit: str
    #: care: the class adherence is measured in, and the days of treatment a line carries
    #: when it names none
    therapeutic_class: str | None = None
    default_days_supply: int | None = None


@dataclass(frozen=True)
class NewSupplier:
    code: str
    name: str


@dataclass(frozen=True)
class NewPharmacy:
    code: str
    name: str
    province: str
    district: str


@dataclass(frozen=True)
class ReceiptLineIn:
    medicine: str
    lot: str
    expiry: date
    quantity: int
    #: decimal text in major units of the invoice's currency, as the client wrote it
    #: (purchased)
    total_cost: str | None = None
    #: a donated line's fair value instead (decimal text in the fund currency, may be 0)
    fair_value: str | None = None


@dataclass(frozen=True)
class Receive:
    """Receive lots from a supplier (or a donor's gift) into a place."""

    supplier: str | None
    location: str
    on: date
    lines: tuple[ReceiptLineIn, ...]
    memo: str | None = None
    #: the invoice's currency (None: the functional currency) and, for the other currency,
    #: the rate as the client wrote it (KHR per USD; None: the one in force on ``on``)
    currency: str | None = None
    rate: str | None = None
    #: "purchased" | "donated" (DESIGN.md "Funders"); a donation names its donor
    funding: str = "purchased"
    donor: str | None = None


@dataclass(frozen=True)
class NewDonor:
    code: str
    name: str


@dataclass(frozen=True)
class MoveLineIn:
    medicine: str
    quantity: int
    #: the lot to take from; None: first-expiry-first-out (transfers only)
    lot: str | None = None


@dataclass(frozen=True)
class Transfer:
    """Move stock from one place to another."""

    from_location: str
    to_location: str
    on: date
    lines: tuple[MoveLineIn, ...]
    memo: str | None = None


@dataclass(frozen=True)
class WriteOff:
    """Write named lots off (expired, damaged, lost)."""

    location: str
    on: date
    reason: str
    lines: tuple[MoveLineIn, ...]
    memo: str | None = None


@dataclass(frozen=True)
class CountLineIn:
    medicine: str
    lot: str
    counted: int


@dataclass(frozen=True)
class Count:
    """A physical count of named lots at a place."""

    location: str
    on: date
    lines: tuple[CountLineIn, ...]
    memo: str | None = None


@dataclass(frozen=True)
class SaleTerms:
    """The terms of a transfer to a pharmacy on the purchase model that day: the transfer is
    a sale at its wholesale price list (DESIGN.md). Gathered by the caller from ``contracts``
    (``contracts.terms.sale_terms``) and handed to ``stock.movements.transfer`` as a value,
    so stock never asks contracts."""

    pharmacy: str
    #: medicine -> wholesale unit price (minor units of the fund currency, exact); a medicine
    #: absent has no price in force that day (the transfer is refused, 409)
    unit_prices: Mapping[str, Fraction]


@dataclass(frozen=True)
class AddLandedCost:
    """Freight, port, customs or bank fees added to a receipt's lots (DESIGN.md "Two
    currencies"), owed to ``counterparty`` (a supplier code: a forwarder, a broker)."""

    receipt_id: str
    on: date
    counterparty: str
    #: decimal text in major units of ``currency``, as the client wrote it
    amount: str
    currency: str
    description: str
    #: KHR per USD as the client wrote it when ``currency`` is not the functional currency
    #: (None: the rate in force on ``on``)
    rate: str | None = None
