"""Pharmacy contracts: the model (consignment or purchase), the retail and wholesale price
lists, the fee, and the life of a contract (active, suspended, ended). A contract is in force
on a day in ``[valid_from, valid_to]``; contracts of one pharmacy never overlap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.checks import (
    check_date,
    check_range,
    currency_exponent,
    format_percent,
    overlaps,
    parse_money,
    parse_percent,
)
from contracts.errors import ContractStateConflict, NoContractInForce, OverlappingContract, invalid
from contracts.pricing import FeeRule
from contracts.refdata import contracts_ref
from contracts.tables import Contract, PriceList
from ledger import clock
from ledger.errors import NotFound
from ledger.refcache import reference
from ledger.settings import functional_currency
from stock.refdata import pharmacy_exists


def fee_rule(contract: Contract, exponent: int) -> FeeRule:
    if contract.fee_kind == "percent":
        return FeeRule("percent", Fraction(Decimal(contract.fee_value)))
    return FeeRule(contract.fee_kind, Fraction(int(contract.fee_value)))


def _parse_fee(fee: dict[str, Any], exponent: int) -> str:
    kind, value = fee["kind"], fee["value"]
    if kind == "percent":
        return format_percent(parse_percent(value, "fee.value"))
    return str(parse_money(value, "fee.value", exponent))


def effective_status(contract: Contract, today: date | None = None) -> str:
    """The stored status, or "ended" once the contract's last day is past."""
    t = today or clock.today()
    if contract.status == "active" and contract.valid_to is not None and contract.valid_to < t:
        return "ended"
    return contract.status


def create_contract(session: Session, pharmacy: str, data: dict[str, Any], *, by: str) -> Contract:
    if not pharmacy_exists(session, pharmacy, lock=True):
        raise NotFound(f"no pharmacy {pharmacy!r}")
    check_range(data["valid_from"], data.get("valid_to"))
    model = data["model"]
    lists: dict[str, str | None] = {
        "price_list": data["price_list"],
        "wholesale_price_list": data.get("wholesale_price_list"),
    }
    if model == "purchase" and lists["wholesale_price_list"] is None:
        raise invalid("wholesale_price_list", "a purchase-model contract needs one")
    if model == "consignment" and lists["wholesale_price_list"] is not None:
        raise invalid("wholesale_price_list", "only a purchase-model contract has one")
    fund = functional_currency(session)
    for field, code in lists.items():
        if code is None:
            continue
        pl = session.get(PriceList, code)
        if pl is None:
            raise invalid(field, f"unknown price list {code!r}")
        if pl.currency != fund:
            raise invalid(field, f"a contract prices in the fund currency {fund}")
    fee_value = _parse_fee(data["fee"], currency_exponent(session, fund))
    for other in session.scalars(select(Contract).where(Contract.pharmacy == pharmacy)):
        if overlaps(data["valid_from"], data.get("valid_to"), other.valid_from, other.valid_to):
            raise OverlappingContract(
                f"pharmacy {pharmacy} already has contract {other.id} from {other.valid_from}"
                f" to {other.valid_to or 'open end'}, which overlaps these dates"
            )
    c = Contract(
        pharmacy=pharmacy,
        valid_from=data["valid_from"],
        valid_to=data.get("valid_to"),
        model=model,
        price_list=data["price_list"],
        wholesale_price_list=lists["wholesale_price_list"],
        fee_kind=data["fee"]["kind"],
        fee_value=fee_value,
        settlement_cycle=data.get("settlement_cycle") or "monthly",
        status="active",
        created_at=clock.now(),
        created_by=by,
    )
    session.add(c)
    session.flush()
    return c


def get_contract(
    session: Session, pharmacy: str, contract_id: int, *, lock: bool = False
) -> Contract:
    # An id beyond a 64-bit key names nothing (and would overflow the driver).
    in_range = 0 < contract_id < 2**62
    c = session.get(Contract, contract_id, with_for_update=lock) if in_range else None
    if c is None or c.pharmacy != pharmacy:
        raise NotFound(f"no contract {contract_id} of pharmacy {pharmacy!r}")
    return c


def set_contract_status(
    session: Session, pharmacy: str, contract_id: int, action: str, on: date | None = None
) -> Contract:
    """``suspend`` (active -> suspended), ``resume`` (suspended -> active), ``end``."""
    c = get_contract(session, pharmacy, contract_id, lock=True)
    status = effective_status(c)
    if action == "suspend":
        if status != "active":
            raise ContractStateConflict(
                f"contract {c.id} is {status}; only an active one can be suspended"
            )
        c.status = "suspended"
    elif action == "resume":
        if status != "suspended":
            raise ContractStateConflict(f"contract {c.id} is {status}, not suspended")
        c.status = "active"
    elif action == "end":
        if c.status == "ended":
            raise ContractStateConflict(f"contract {c.id} has ended already")
        end = on or clock.today()
        check_date(end, "on")
        if end < c.valid_from:
            raise invalid("on", f"must not be before the contract's start {c.valid_from}")
        if c.valid_to is None or end < c.valid_to:
            c.valid_to = end
        c.status = "ended"
    else:  # pragma: no cover - the routes name the action
        raise ValueError(action)
    session.flush()
    return c


def contracts_of(session: Session, pharmacy: str) -> list[Contract]:
    return list(
        session.scalars(
            select(Contract).where(Contract.pharmacy == pharmacy).order_by(Contract.valid_from)
        )
    )


def contract_on(session: Session, pharmacy: str, on: date) -> Contract | None:
    return contract_on_of(contracts_ref(reference(session)).contracts.get(pharmacy, ()), on)


def contract_on_of(contracts: Sequence[Contract], on: date) -> Contract | None:
    """The contract covering ``on`` (contracts of one pharmacy never overlap)."""
    for c in contracts:
        if c.valid_from <= on and (c.valid_to is None or c.valid_to >= on):
            return c
    return None


def contract_in_force(contracts: Sequence[Contract], pharmacy: str, on: date) -> Contract:
    c = contract_on_of(contracts, on)
    if c is None:
        ended = [x for x in contracts if x.valid_to is not None and x.valid_to < on]
        last = max(ended, key=lambda x: x.valid_to or on) if ended else None
        if last is not None and last.status == "ended":
            raise NoContractInForce(
                f"no contract in force: contract {last.id} of pharmacy {pharmacy} was ended"
                f" on {last.valid_to} (service date {on})"
            )
        detail = f"no contract in force for pharmacy {pharmacy} on {on}"
        if last is not None:
            detail += f"; contract {last.id} ended on {last.valid_to}"
        raise NoContractInForce(detail)
    if c.status == "suspended":
        raise NoContractInForce(
            f"contract {c.id} of pharmacy {pharmacy} is suspended; resume it to dispense"
        )
    return c


def list_contracts(
    session: Session, pharmacy: str, *, after: int | None, limit: int
) -> list[Contract]:
    """Up to ``limit + 1`` contracts of a pharmacy in id order after ``after``."""
    q = select(Contract).where(Contract.pharmacy == pharmacy).order_by(Contract.id)
    if after:
        q = q.where(Contract.id > after)
    return list(session.scalars(q.limit(limit + 1)))


def price_lists_of_pharmacy(session: Session, pharmacy: str) -> set[str]:
    """The price lists (retail and wholesale) the pharmacy's contracts use, any time."""
    codes: set[str] = set()
    for pl, wpl in session.execute(
        select(Contract.price_list, Contract.wholesale_price_list).where(
            Contract.pharmacy == pharmacy
        )
    ):
        codes.add(pl)
        if wpl:
            codes.add(wpl)
    return codes
