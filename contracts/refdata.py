"""The contracts' part of the reference snapshot (``ledger.refcache``): contracts, price
lists with their versions and items, and subsidy schemes with their medicines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.tables import (
    Contract,
    PriceList,
    PriceListItem,
    PriceListVersion,
    SchemeMedicine,
    SubsidyScheme,
)
from ledger import refcache


@dataclass(frozen=True)
class ContractsRef:
    #: pharmacy -> its contracts, by start date
    contracts: Mapping[str, tuple[Contract, ...]]
    price_lists: Mapping[str, PriceList]
    #: price list -> its versions, by effective date
    versions: Mapping[str, tuple[PriceListVersion, ...]]
    #: version id -> medicine -> unit price text
    items: Mapping[int, Mapping[str, str]]
    schemes: Mapping[str, SubsidyScheme]
    #: scheme -> the medicines it covers (schemes that cover all medicines are absent)
    scheme_medicines: Mapping[str, frozenset[str]]


def load(session: Session) -> ContractsRef:
    contracts: dict[str, list[Contract]] = {}
    for c in session.scalars(select(Contract).order_by(Contract.valid_from, Contract.id)):
        contracts.setdefault(c.pharmacy, []).append(c)
    versions: dict[str, list[PriceListVersion]] = {}
    for v in session.scalars(
        select(PriceListVersion).order_by(PriceListVersion.effective_from, PriceListVersion.id)
    ):
        versions.setdefault(v.price_list, []).append(v)
    items: dict[int, dict[str, str]] = {}
    for version_id, medicine, price in session.execute(
        select(PriceListItem.version_id, PriceListItem.medicine, PriceListItem.unit_price)
    ):
        items.setdefault(int(version_id), {})[str(medicine)] = str(price)
    meds: dict[str, set[str]] = {}
    for scheme, medicine in session.execute(select(SchemeMedicine.scheme, SchemeMedicine.medicine)):
        meds.setdefault(str(scheme), set()).add(str(medicine))
    schemes = {s.code: s for s in session.scalars(select(SubsidyScheme))}
    return ContractsRef(
        contracts={p: tuple(cs) for p, cs in contracts.items()},
        price_lists={p.code: p for p in session.scalars(select(PriceList))},
        versions={p: tuple(vs) for p, vs in versions.items()},
        items=items,
        schemes=schemes,
        scheme_medicines={
            code: frozenset(meds.get(code, ())) for code, s in schemes.items() if not s.all_eligible
        },
    )


def contracts_ref(snapshot: refcache.Snapshot) -> ContractsRef:
    part: ContractsRef = snapshot["contracts"]
    return part
