"""Reference data of stock: medicines, suppliers, pharmacies (places) and their accounts, and
the checks every stock use case makes of a place, a medicine or a supplier it is given.

Writes only ``flush``; the caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import chart, clock
from ledger.beancount import COMMODITY_RULE, is_valid_commodity
from ledger.errors import InvalidRequest
from ledger.settings import functional_currency
from ledger.tables import Account, Commodity
from stock.commands import NewMedicine, NewPharmacy, NewSupplier
from stock.errors import DuplicateReference, ReferenceNotFound, UnknownLocation, UnknownReference
from stock.tables import Medicine, Pharmacy, Supplier

#: Pharmacy and supplier codes: the chart's party codes.
CODE_RE = chart.PARTY_CODE_RE
CODE_RULE = chart.PARTY_CODE_RULE


def inventory_account(location: str) -> str:
    """The inventory account of a place: ``CENTRAL`` -> ``1400-CENTRAL``, ``P1`` -> ``1400-P1``.

    Checks the form of the code only; :func:`take_stock` (and the stock services) check the
    place exists and raise :class:`UnknownLocation` otherwise.
    """
    if not isinstance(location, str) or not CODE_RE.fullmatch(location):
        raise UnknownLocation(
            f"{location!r} is not a location: name CENTRAL or a pharmacy code",
            errors={"location": [CODE_RULE]},
        )
    return chart.inventory(location)


def require_location(
    session: Session,
    location: str,
    field: str = "location",
    accounts: Mapping[str, Account] | None = None,
) -> str:
    """The inventory account of an existing place, or :class:`UnknownLocation` (422).
    ``accounts``: the chart of a reference snapshot, instead of reading the account."""
    try:
        code = inventory_account(location)
    except UnknownLocation as exc:
        raise UnknownLocation(exc.detail, errors={field: [CODE_RULE]}) from exc
    acc = accounts.get(code) if accounts is not None else session.get(Account, code)
    if acc is None or not acc.is_inventory or acc.is_header:
        raise UnknownLocation(
            f"no location {location!r}: name CENTRAL or a pharmacy code",
            errors={field: [f"no location {location!r}"]},
        )
    return code


#: How to find the right code when a medicine code names nothing.
MEDICINE_CODES_HINT = "medicine codes are case-sensitive; GET /api/v1/medicines lists them"


def unknown_medicine(code: object) -> str:
    """The answer to a medicine code that names no medicine: ``no medicine 'met500': …``."""
    return f"no medicine {code!r}: {MEDICINE_CODES_HINT}"


def require_medicine(
    session: Session,
    medicine: str,
    field: str = "medicine",
    commodities: Mapping[str, Commodity] | None = None,
) -> Commodity:
    """The medicine, or :class:`UnknownReference` (422). ``commodities``: those of a
    reference snapshot, instead of reading it."""
    com = None
    if isinstance(medicine, str):
        com = (
            commodities.get(medicine)
            if commodities is not None
            else session.get(Commodity, medicine)
        )
    if com is None or com.kind != "medicine":
        raise UnknownReference(
            unknown_medicine(medicine), errors={field: [unknown_medicine(medicine)]}
        )
    return com


# --------------------------------------------------------------------------- reference data

#: A lot (batch) number as printed on the pack: letters, digits and . _ / - (no ':' — lots
#: are written MEDICINE:LOT elsewhere), 1 to 40 characters.
LOT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/\-]{0,39}")
LOT_RULE = "a lot number is 1 to 40 characters: letters, digits and . _ / -"


def _check_code(code: object, field: str = "code") -> str:
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise InvalidRequest(
            f"{code!r} is not a valid code: {CODE_RULE}", errors={field: [CODE_RULE]}
        )
    return code


def new_account(
    session: Session,
    code: str,
    parent: str,
    name: str,
    type_: str,
    carries: str,
    *,
    pharmacy: str | None = None,
    is_inventory: bool = False,
    exists: Exception | None = None,
) -> None:
    """Add the posting sub-account ``code`` of ``parent`` (no currency of its own). Where
    ``code`` exists already: raise ``exists`` (the caller's words for it), else
    ``DuplicateReference``."""
    if session.get(Account, code) is not None:
        raise exists or DuplicateReference(f"the account {code} already exists")
    session.add(
        Account(
            code=code,
            parent=parent,
            name=name,
            type=type_,
            carries=carries,
            is_header=False,
            is_inventory=is_inventory,
            currency=None,
            pharmacy=pharmacy,
            created_at=clock.now(),
        )
    )


def create_medicine(session: Session, cmd: NewMedicine) -> Medicine:
    """A medicine and its commodity (kind "medicine", exponent 0: counted in base units)."""
    code = cmd.code
    if not is_valid_commodity(code):
        raise InvalidRequest(
            f"{code!r} is not a valid medicine code: {COMMODITY_RULE}",
            errors={"code": [COMMODITY_RULE]},
        )
    if session.get(Commodity, code) is not None:
        raise DuplicateReference(f"a medicine or currency with code {code} already exists")
    session.add(
        Commodity(code=code, kind="medicine", exponent=chart.MEDICINE_EXPONENT, name=cmd.name)
    )
    session.flush()
    med = Medicine(
        code=code,
        name=cmd.name,
        strength=cmd.strength,
        form=cmd.form,
        unit=cmd.unit,
        therapeutic_class=cmd.therapeutic_class,
        default_days_supply=cmd.default_days_supply,
        created_at=clock.now(),
    )
    session.add(med)
    session.flush()
    return med


def create_supplier(session: Session, cmd: NewSupplier) -> Supplier:
    """A supplier and its sub-account ``chart.due_to_supplier(code)`` (what the fund owes it)."""
    code = _check_code(cmd.code)
    if session.get(Supplier, code) is not None:
        raise DuplicateReference(f"a supplier with code {code} already exists")
    new_account(
        session,
        chart.due_to_supplier(code),
        chart.DUE_TO_SUPPLIER,
        f"Due to supplier {cmd.name}",
        "liability",
        "money",
    )
    sup = Supplier(code=code, name=cmd.name, created_at=clock.now())
    session.add(sup)
    session.flush()
    return sup


def create_pharmacy(session: Session, cmd: NewPharmacy) -> Pharmacy:
    """A pharmacy and its sub-accounts: due from it, its inventory, due to it (``chart``)."""
    code = _check_code(cmd.code)
    if code == chart.CENTRAL:
        raise InvalidRequest(
            "CENTRAL is the central store, not a pharmacy code",
            errors={"code": ["CENTRAL is reserved for the central store"]},
        )
    if session.get(Pharmacy, code) is not None:
        raise DuplicateReference(f"a pharmacy with code {code} already exists")
    name = cmd.name
    new_account(
        session,
        chart.due_from_pharmacy(code),
        chart.DUE_FROM_PHARMACY,
        f"Due from {name}",
        "asset",
        "money",
        pharmacy=code,
    )
    new_account(
        session,
        chart.inventory(code),
        chart.INVENTORY,
        f"Medicine inventory at {name}",
        "asset",
        "money+units",
        pharmacy=code,
        is_inventory=True,
    )
    new_account(
        session,
        chart.due_to_pharmacy(code),
        chart.DUE_TO_PHARMACY,
        f"Due to {name}",
        "liability",
        "money",
        pharmacy=code,
    )
    ph = Pharmacy(
        code=code,
        name=name,
        province=cmd.province,
        district=cmd.district,
        created_at=clock.now(),
    )
    session.add(ph)
    session.flush()
    return ph


def list_reference(
    session: Session,
    table: type[Medicine] | type[Supplier] | type[Pharmacy],
    *,
    after: str | None,
    limit: int,
    only: str | None = None,
) -> tuple[list[Any], str | None]:
    """A page of reference rows in code order, and the last code when more follow."""
    q = select(table).order_by(table.code).limit(limit + 1)
    if after:
        q = q.where(table.code > after)
    if only is not None:
        q = q.where(table.code == only)
    rows: list[Any] = list(session.scalars(q))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].code if more and rows else None)


_LABELS = {"medicines": "medicine", "suppliers": "supplier", "pharmacies": "pharmacy"}


def get_reference(
    session: Session, table: type[Medicine] | type[Supplier] | type[Pharmacy], code: str
) -> Any:
    row = session.get(table, code)
    if row is None:
        raise ReferenceNotFound(f"no {_LABELS[table.__tablename__]} {code!r}")
    return row


def require_supplier(session: Session, code: object, field: str = "supplier") -> Supplier:
    sup = session.get(Supplier, code) if isinstance(code, str) else None
    if sup is None:
        raise UnknownReference(f"no supplier {code!r}", errors={field: [f"no supplier {code!r}"]})
    return sup


def fund_exponent(session: Session, currency: str | None = None) -> int:
    """Decimal exponent of the functional currency (KHR: 0), or of ``currency``."""
    return fund_exponent_of(session, currency or functional_currency(session))


def fund_exponent_of(session: Session, currency: str) -> int:
    com = session.get(Commodity, currency)
    assert com is not None and com.kind == "currency", currency
    return int(com.exponent)


def pharmacy_exists(session: Session, code: str, *, lock: bool = False) -> bool:
    """Whether the pharmacy exists (``lock``: its row ``FOR UPDATE``, so a contract made for
    it waits for a concurrent one)."""
    q = select(Pharmacy.code).where(Pharmacy.code == code)
    if lock:
        q = q.with_for_update()
    return session.scalar(q) is not None


def known_medicines(session: Session, codes: Sequence[str]) -> set[str]:
    """Those of ``codes`` that are medicines (read 500 at a time)."""
    found: set[str] = set()
    unique = sorted(set(codes))
    for i in range(0, len(unique), 500):
        chunk = unique[i : i + 500]
        found.update(session.scalars(select(Medicine.code).where(Medicine.code.in_(chunk))))
    return found


def medicine_codes(session: Session) -> list[str]:
    """Every medicine code, in order."""
    return list(session.scalars(select(Medicine.code).order_by(Medicine.code)))


def pharmacy_codes(session: Session) -> list[str]:
    """Every pharmacy code, in order."""
    return list(session.scalars(select(Pharmacy.code).order_by(Pharmacy.code)))
