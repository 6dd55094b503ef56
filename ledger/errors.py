"""The service's error hierarchy. Each error is named after the rule it enforces.

Every error carries an HTTP status, a problem ``type`` slug and a sentence a person
understands; ``app.py`` maps them to ``application/problem+json`` in one place.
Domain packages (stock, contracts, invoices) subclass these.
"""

from __future__ import annotations

from typing import Any


class RdfError(Exception):
    """Base of every rule the books enforce; never raised itself."""

    status = 422
    slug = "unprocessable"
    title = "The request cannot be processed"

    def __init__(
        self, detail: str, *, errors: dict[str, list[str]] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra


class InvalidRequest(RdfError):
    """A field of the request is malformed (bad amount, unknown code…): 422 with ``errors``."""

    status = 422
    slug = "invalid-request"
    title = "The request has invalid fields"


class NotFound(RdfError):
    """The object does not exist, or the caller may not know that it exists."""

    status = 404
    slug = "not-found"
    title = "Not found"


class Forbidden(RdfError):
    """The caller's role does not allow this operation."""

    status = 403
    slug = "forbidden"
    title = "Forbidden"


class Conflict(RdfError):
    """A rule of the books forbids the request in the current state (409)."""

    status = 409
    slug = "conflict"
    title = "Conflict with the state of the books"


class UnbalancedEntry(RdfError):
    """An entry's postings do not sum to zero for every commodity (invariant 1)."""

    status = 422
    slug = "unbalanced-entry"
    title = "The entry does not balance per commodity"


class UnknownAccount(InvalidRequest):
    """A posting names an account that does not exist or cannot be posted to."""

    slug = "unknown-account"
    title = "Unknown account"


def no_such_commodity(code: object) -> str:
    """The answer to a commodity code that names nothing, with how to find the right one."""
    return (
        f"no commodity {code!r}: codes are case-sensitive (a currency such as KHR or USD,"
        " or a medicine code: GET /api/v1/medicines lists them)"
    )


class UnknownCommodity(InvalidRequest):
    """A posting names a commodity (currency or medicine) that does not exist."""

    slug = "unknown-commodity"
    title = "Unknown commodity"


class InsufficientStock(Conflict):
    """A lot balance of an inventory account would go below zero (invariant 3)."""

    slug = "insufficient-stock"
    title = "Not enough stock"


class PeriodClosed(Conflict):
    """The request needs a month that is closed, or a month that cannot be closed yet."""

    slug = "period-closed"
    title = "The period is closed"


class PeriodCloseRefused(Conflict):
    """A month close was asked but an earlier month is open or its checks failed."""

    slug = "period-close-refused"
    title = "The month cannot be closed"


class IdempotencyConflict(Conflict):
    """The same idempotency key came with a different request body (invariant 5)."""

    slug = "idempotency-key-reused"
    title = "Idempotency key reused with a different request"


class AlreadyReversed(Conflict):
    """An entry that was already reversed is asked to be reversed again."""

    slug = "already-reversed"
    title = "The entry is already reversed"


class StaleWrite(Exception):  # noqa: N818 - not a refusal: an internal signal
    """A write planned from unlocked reads found, under its locks, that what it was planned
    on changed (a lot's stock, a month closed): nothing of it is kept, and the caller
    records the request again through the path that locks before it reads. Never reaches
    a client."""
