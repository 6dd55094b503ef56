"""The refusals of the counter."""

from __future__ import annotations

from ledger.errors import Conflict, NotFound


class UnknownPharmacy(NotFound):
    """The pharmacy code names no pharmacy."""

    slug = "unknown-pharmacy"


class ClientRefReused(Conflict):
    """A pharmacy's client_ref was already used for another dispensing."""

    slug = "client-ref-reused"
    title = "client_ref already used"


class ReturnTooLarge(Conflict):
    """More units are returned than remain on the dispensing."""

    slug = "return-exceeds-dispensed"
    title = "Return exceeds what was dispensed"
