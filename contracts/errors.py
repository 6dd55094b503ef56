"""Errors of the contracts package, each named after the rule it enforces."""

from __future__ import annotations

from ledger.errors import Conflict, InvalidRequest


class NoContractInForce(Conflict):
    """No contract of the pharmacy covers the service date, or it is suspended or ended."""

    slug = "no-contract-in-force"
    title = "No contract in force"


class OverlappingContract(Conflict):
    """A new contract's dates overlap another contract of the same pharmacy."""

    slug = "overlapping-contract"
    title = "The contract overlaps another one"


class DuplicateVersion(Conflict):
    """A price list already has a version with this ``effective_from``."""

    slug = "duplicate-price-list-version"
    title = "A version with this date exists"


class AlreadyExists(Conflict):
    """A code (price list, scheme, member code) is already taken."""

    slug = "already-exists"
    title = "Already exists"


class ContractStateConflict(Conflict):
    """A suspend/resume/end asked of a contract in a state that does not allow it."""

    slug = "contract-state"
    title = "The contract cannot change to this state"


def invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {message}", errors={field: [message]})
