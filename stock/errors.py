"""Errors of the stock package, each named after the rule it enforces."""

from __future__ import annotations

from ledger.errors import Conflict, InsufficientStock, InvalidRequest, NotFound

__all__ = [
    "InsufficientStock",
    "LotExpiryMismatch",
    "LotExpired",
    "UnknownLocation",
    "UnknownReference",
    "DuplicateReference",
    "ReferenceNotFound",
]


class UnknownLocation(InvalidRequest):
    """A request names a place that is neither ``CENTRAL`` nor a known pharmacy."""

    slug = "unknown-location"
    title = "Unknown location"


class UnknownReference(InvalidRequest):
    """A request names a medicine, supplier or lot that does not exist."""

    slug = "unknown-reference"
    title = "Unknown medicine, supplier or lot"


class ReferenceNotFound(NotFound):
    """GET of a medicine, supplier or pharmacy that does not exist (or may not be seen)."""


class DuplicateReference(Conflict):
    """A medicine, supplier or pharmacy with this code already exists."""

    slug = "duplicate-code"
    title = "The code is already taken"


class LotExpiryMismatch(Conflict):
    """A receipt names a lot number already known for the medicine with another expiry."""

    slug = "lot-expiry-mismatch"
    title = "The lot exists with another expiry date"


class LotExpired(InsufficientStock):
    """A named lot expired before the event's date: expired stock is never moved out
    except by a write-off or a count."""

    slug = "lot-expired"
    title = "The lot has expired"
