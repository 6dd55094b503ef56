"""What a pharmacy's contract says about stock sent to it: the purchase model's wholesale
prices. Gathered here and handed to ``stock.movements.transfer`` as ``SaleTerms`` (stock sits
below contracts and never asks it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from fractions import Fraction

from sqlalchemy.orm import Session

from contracts.agreements import contract_on, contract_on_of
from contracts.pricelists import version_on
from contracts.refdata import contracts_ref
from ledger import chart
from ledger.money import parse_unit_price
from ledger.refcache import reference
from ledger.refdata import ledger_ref
from stock.commands import SaleTerms


def wholesale_price(session: Session, pharmacy: str, medicine: str, on: date) -> Fraction | None:
    """The wholesale unit price (minor units, exact) at which a purchase-model pharmacy buys
    ``medicine`` on ``on``: from the wholesale list's version in force that day. None when the
    pharmacy has no contract that day, its contract is consignment, no version is in force, or
    the version does not price the medicine (the caller decides whether that is an error)."""
    snapshot = reference(session)
    cref = contracts_ref(snapshot)
    c = contract_on_of(cref.contracts.get(pharmacy, ()), on)
    if c is None or c.model != "purchase" or c.wholesale_price_list is None:
        return None
    pl = cref.price_lists[c.wholesale_price_list]
    version = version_on(cref.versions.get(pl.code, ()), on)
    text = None if version is None else cref.items.get(version.id, {}).get(medicine)
    if text is None:
        return None
    return parse_unit_price(text, ledger_ref(snapshot).exponents[pl.currency])


def contract_model_on(session: Session, pharmacy: str, on: date) -> str | None:
    """ "consignment" or "purchase": the model of the pharmacy's contract covering ``on``
    (suspended or not), or None without one. A transfer to a purchase-model pharmacy is a
    sale at ``wholesale_price`` (see ``sale_terms``)."""
    c = contract_on(session, pharmacy, on)
    return None if c is None else c.model


def sale_terms(
    session: Session, pharmacy: str, on: date, medicines: Sequence[str]
) -> SaleTerms | None:
    """The terms of a transfer of ``medicines`` to ``pharmacy`` on ``on``: None when the stock
    stays the fund's (the central store, no contract that day, a consignment contract); for
    a pharmacy on the purchase model, the transfer is a sale at the wholesale price list in
    force that day (suspended or not), with the unit price of each medicine it prices."""
    if pharmacy == chart.CENTRAL:
        return None
    snapshot = reference(session)
    cref = contracts_ref(snapshot)
    c = contract_on_of(cref.contracts.get(pharmacy, ()), on)
    if c is None or c.model != "purchase":
        return None
    prices: dict[str, Fraction] = {}
    for medicine in medicines:
        unit = wholesale_price(session, pharmacy, medicine, on)
        if unit is not None:
            prices[medicine] = unit
    return SaleTerms(pharmacy, prices)
