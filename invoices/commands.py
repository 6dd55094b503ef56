"""Typed commands of invoices: what the edge (``api/invoices.py``, ``api/settlements.py``)
asks the payment services to do, built from the loaded request. Plain frozen dataclasses,
no behaviour. (Settlements and claims take their two facts, party and month, as arguments:
``invoices.settlements.settle(session, pharmacy, period, by=...)``.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class AppliesTo:
    """The document a payment settles: a settlement, a subsidy claim or a stock receipt."""

    kind: str
    id: str


@dataclass(frozen=True)
class RecordPayment:
    """Money in or out against a counterparty (codes and texts as the client wrote them)."""

    on: date
    direction: str
    counterparty_kind: str
    counterparty_code: str
    #: decimal text in major units of ``currency``, as the client wrote it
    amount: str
    currency: str
    reference: str
    applies_to: AppliesTo | None = None
    #: KHR per USD as the client wrote it, when ``currency`` differs from the settled
    #: balance's (None: the rate in force on ``on``)
    rate: str | None = None
    #: the currency of the balance settled (None: ``invoices.payments.settled_currency``)
    settles: str | None = None


@dataclass(frozen=True)
class PaymentFilter:
    """Which payments to list (each criterion only if given)."""

    direction: str | None = None
    counterparty_kind: str | None = None
    counterparty_code: str | None = None
    currency: str | None = None
    start: date | None = None
    end: date | None = None
    applies_to_kind: str | None = None
    applies_to_id: str | None = None
    matched: bool | None = None


@dataclass(frozen=True)
class MoneyIn:
    """An amount as the client wrote it: decimal text in major units of ``currency``."""

    currency: str
    amount: str


@dataclass(frozen=True)
class RecordExchange:
    """Sell one currency for the other at the bank (the rate is implied by the amounts)."""

    on: date
    sell: MoneyIn
    buy: MoneyIn
    reference: str | None = None
