"""Price lists and their versions: a version is complete (every medicine it prices, not a
diff) and in force from its ``effective_from`` until the next version's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.checks import check_date, currency_exponent
from contracts.errors import AlreadyExists, DuplicateVersion, invalid
from contracts.refdata import contracts_ref
from contracts.tables import PriceList, PriceListItem, PriceListVersion
from ledger import clock
from ledger.errors import InvalidRequest, NotFound
from ledger.money import AmountError, format_unit_price, parse_unit_price
from ledger.refcache import reference
from ledger.tables import Commodity
from stock.refdata import known_medicines, unknown_medicine


def create_price_list(session: Session, code: str, currency: str) -> PriceList:
    kind = session.scalar(select(Commodity.kind).where(Commodity.code == currency))
    if kind != "currency":
        raise invalid("currency", f"{currency!r} is not a currency of this service")
    if session.get(PriceList, code) is not None:
        raise AlreadyExists(f"a price list {code!r} exists already")
    pl = PriceList(code=code, currency=currency, created_at=clock.now())
    session.add(pl)
    session.flush()
    return pl


def get_price_list(session: Session, code: str) -> PriceList:
    pl = session.get(PriceList, code)
    if pl is None:
        raise NotFound(f"no price list {code!r}")
    return pl


def add_price_list_version(
    session: Session,
    code: str,
    effective_from: date,
    items: Sequence[dict[str, Any]],
    *,
    by: str,
) -> PriceListVersion:
    """Add a complete version (every medicine it prices, not a diff) of a price list."""
    pl = session.get(PriceList, code, with_for_update=True)
    if pl is None:
        raise NotFound(f"no price list {code!r}")
    check_date(effective_from, "effective_from")
    if not items:
        raise invalid("items", "a version prices at least one medicine")
    exp = currency_exponent(session, pl.currency)
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    prices: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        med = item["medicine"]
        if med in seen:
            errors[f"items.{i}.medicine"] = [f"{med} appears twice in this version"]
        seen.add(med)
        try:
            value = parse_unit_price(item["unit_price"], exp)
        except AmountError as exc:
            errors[f"items.{i}.unit_price"] = [str(exc)]
            continue
        prices.append((med, format_unit_price(value, exp)))
    known = known_medicines(session, [str(it["medicine"]) for it in items])
    for i, item in enumerate(items):
        if item["medicine"] not in known:
            errors.setdefault(f"items.{i}.medicine", []).append(unknown_medicine(item["medicine"]))
    if errors:
        first = next(iter(errors.items()))
        raise InvalidRequest(f"{first[0]}: {first[1][0]}", errors=errors)
    clash = session.scalar(
        select(PriceListVersion.id).where(
            PriceListVersion.price_list == code, PriceListVersion.effective_from == effective_from
        )
    )
    if clash is not None:
        raise DuplicateVersion(
            f"price list {code} already has a version effective from {effective_from}"
        )
    version = PriceListVersion(
        price_list=code, effective_from=effective_from, created_at=clock.now(), created_by=by
    )
    session.add(version)
    session.flush()
    session.add_all(
        PriceListItem(version_id=version.id, medicine=med, unit_price=text) for med, text in prices
    )
    session.flush()
    return version


def version_in_force(session: Session, price_list: str, on: date) -> PriceListVersion | None:
    """The version with the latest ``effective_from`` on or before ``on``."""
    return version_on(contracts_ref(reference(session)).versions.get(price_list, ()), on)


def version_on(versions: Sequence[PriceListVersion], on: date) -> PriceListVersion | None:
    found = None
    for v in versions:  # by effective date
        if v.effective_from <= on:
            found = v
    return found


def version_items(
    session: Session, version_id: int, medicines: Sequence[str] | None = None
) -> dict[str, str]:
    """Medicine -> unit price text of a version (only ``medicines`` when given)."""
    q = select(PriceListItem.medicine, PriceListItem.unit_price).where(
        PriceListItem.version_id == version_id
    )
    if medicines is not None:
        q = q.where(PriceListItem.medicine.in_(sorted({str(m) for m in medicines})))
    rows = session.execute(q.order_by(PriceListItem.medicine))
    return {str(m): str(p) for m, p in rows}


def price_list_versions(session: Session, code: str) -> list[PriceListVersion]:
    return list(
        session.scalars(
            select(PriceListVersion)
            .where(PriceListVersion.price_list == code)
            .order_by(PriceListVersion.effective_from)
        )
    )


@dataclass(frozen=True)
class PricedVersion:
    """A price-list version with its items (medicine -> unit price text, by medicine)."""

    version: PriceListVersion
    items: dict[str, str]


def list_price_lists(
    session: Session, *, after: str | None, limit: int, only: set[str] | None = None
) -> list[PriceList]:
    """Up to ``limit + 1`` price lists in code order after ``after`` (``only``: these codes)."""
    q = select(PriceList).order_by(PriceList.code).limit(limit + 1)
    if after:
        q = q.where(PriceList.code > after)
    if only is not None:
        q = q.where(PriceList.code.in_(sorted(only)))
    return list(session.scalars(q))


def versions_of(session: Session, codes: Sequence[str]) -> dict[str, list[PricedVersion]]:
    """Every version of each price list of ``codes``, by effective date, with its items: two
    queries for any number of lists."""
    out: dict[str, list[PricedVersion]] = {c: [] for c in codes}
    if not codes:
        return out
    versions = list(
        session.scalars(
            select(PriceListVersion)
            .where(PriceListVersion.price_list.in_(sorted(set(codes))))
            .order_by(PriceListVersion.effective_from)
        )
    )
    items: dict[int, dict[str, str]] = {v.id: {} for v in versions}
    if versions:
        for version_id, medicine, price in session.execute(
            select(PriceListItem.version_id, PriceListItem.medicine, PriceListItem.unit_price)
            .where(PriceListItem.version_id.in_(sorted(items)))
            .order_by(PriceListItem.version_id, PriceListItem.medicine)
        ):
            items[int(version_id)][str(medicine)] = str(price)
    for v in versions:
        out[v.price_list].append(PricedVersion(v, items[v.id]))
    return out
