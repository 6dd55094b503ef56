"""Donors and donated receipts (DESIGN.md "Funders").

A donor gives medicines in kind; its equity sub-account ``chart.donated_medicines(code)``
(3200-{code}) is made with it. A donated receipt posts, per line, the place's inventory
``+units[lot]`` against units received ``-units[lot]`` (as a purchase) and the inventory
``+fair value[lot]`` against the donor's ``-fair value`` (a fair value may be 0). A lot keeps
the funding source of its first receipt for life (``lots.funding``, ``lots.donor``): a later
receipt of the same lot with another source is refused (409). FEFO ignores the source.

``stock.movements.receive`` asks this module the few things that differ from a purchase
(``check_funding``, ``line_value``, ``counter_account``, ``new_lot_funding``,
``check_lot_funding``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger import chart, clock
from ledger.db import Base
from ledger.errors import Conflict
from ledger.money import AmountError, parse_amount
from ledger.tables import Lot
from stock.commands import NewDonor, ReceiptLineIn, Receive
from stock.errors import DuplicateReference, UnknownReference
from stock.refdata import CODE_RE, CODE_RULE, new_account

PURCHASED = "purchased"
DONATED = "donated"
FUNDING_KINDS = (PURCHASED, DONATED)


class Donor(Base):
    """A donor of medicines in kind (migration 0016)."""

    __tablename__ = "donors"
    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LotFundingConflict(Conflict):
    """A receipt adds to a lot whose funding source (purchased, or donated by a donor) is
    another: a lot keeps its funding source for life."""

    slug = "lot-funding-conflict"
    title = "The lot has another funding source"


def create_donor(session: Session, cmd: NewDonor) -> Donor:
    """A donor and its equity sub-account ``chart.donated_medicines(code)``."""
    code = cmd.code
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise UnknownReference(
            f"{code!r} is not a valid code: {CODE_RULE}", errors={"code": [CODE_RULE]}
        )
    account = chart.donated_medicines(code)
    taken = DuplicateReference(f"a donor with code {code} already exists")
    if session.get(Donor, code) is not None:
        raise taken
    new_account(
        session,
        account,
        chart.DONATED_MEDICINES,
        f"Donated medicines: {cmd.name}"[:200],
        "equity",
        "money",
        exists=taken,
    )
    donor = Donor(code=code, name=cmd.name, created_at=clock.now())
    session.add(donor)
    session.flush()
    return donor


def list_donors(session: Session, *, after: str | None, limit: int) -> list[Donor]:
    q = select(Donor).order_by(Donor.code).limit(limit)
    if after is not None:
        q = q.where(Donor.code > after)
    return list(session.scalars(q))


def donor_codes(session: Session) -> list[str]:
    return list(session.scalars(select(Donor.code).order_by(Donor.code)))


def is_donated(cmd: Receive) -> bool:
    return cmd.funding == DONATED


def check_funding(session: Session, cmd: Receive, errors: dict[str, list[str]]) -> None:
    """The funding of a receipt and which amount each line carries: a purchase needs a
    supplier and a ``total_cost`` per line (no ``fair_value``); a donation a known donor and
    a ``fair_value`` per line (no ``total_cost``). Problems go to ``errors`` (422)."""
    if cmd.funding not in FUNDING_KINDS:
        errors.setdefault("funding.kind", []).append(f"must be one of {list(FUNDING_KINDS)}")
        return
    donated = is_donated(cmd)
    if donated:
        if cmd.donor is None:
            errors.setdefault("funding.donor", []).append("a donated receipt names its donor")
        elif session.get(Donor, cmd.donor) is None:
            errors.setdefault("funding.donor", []).append(f"no donor {cmd.donor!r}")
    elif cmd.donor is not None:
        errors.setdefault("funding.donor", []).append("only a donated receipt has a donor")
    if not donated and cmd.supplier is None:
        errors.setdefault("supplier", []).append("a purchased receipt names its supplier")
    for i, line in enumerate(cmd.lines):
        f = f"lines.{i}"
        if donated and line.total_cost is not None:
            errors.setdefault(f"{f}.total_cost", []).append(
                "a donated line has a fair_value, not a total_cost"
            )
        if donated and line.fair_value is None:
            errors.setdefault(f"{f}.fair_value", []).append("a donated line needs a fair_value")
        if not donated and line.fair_value is not None:
            errors.setdefault(f"{f}.fair_value", []).append(
                "a purchased line has a total_cost, not a fair_value"
            )
        if not donated and line.total_cost is None:
            errors.setdefault(f"{f}.total_cost", []).append("a purchased line needs a total_cost")


def line_value(
    cmd: Receive, line: ReceiptLineIn, exp: int, field: str, errors: dict[str, list[str]]
) -> int | None:
    """A donated line's fair value in minor units (0 allowed), or None with the problem in
    ``errors``."""
    try:
        return parse_amount(line.fair_value or "", exp, allow_negative=False)
    except AmountError as exc:
        errors.setdefault(f"{field}.fair_value", []).append(str(exc))
        return None


def counter_account(cmd: Receive) -> str:
    """The account a receipt's value is credited to: the donor's, or the supplier's."""
    if is_donated(cmd):
        assert cmd.donor is not None
        return chart.donated_medicines(cmd.donor)
    assert cmd.supplier is not None
    return chart.due_to_supplier(cmd.supplier)


def new_lot_funding(cmd: Receive) -> dict[str, str | None]:
    """The funding columns of a lot a receipt makes."""
    return {"funding": cmd.funding, "donor": cmd.donor if is_donated(cmd) else None}


def check_lot_funding(lot: Lot, cmd: Receive, field: str) -> None:
    """409 when an existing lot has another funding source than the receipt's."""
    want = new_lot_funding(cmd)
    if (lot.funding, lot.donor) != (want["funding"], want["donor"]):
        have = lot.funding + (f" by {lot.donor}" if lot.donor else "")
        raise LotFundingConflict(
            f"lot {lot.lot_code} of {lot.commodity} is {have}: a lot keeps its funding source "
            f"for life; receive this stock under another lot number",
            errors={field: [f"lot {lot.lot_code} is {have}"]},
        )


def donated_lots(session: Session, donor: str | None) -> Sequence[Lot]:
    """The lots a donor gave (every donated lot when ``donor`` is None)."""
    q = select(Lot).where(Lot.funding == DONATED).order_by(Lot.commodity, Lot.lot_code)
    if donor is not None:
        q = q.where(Lot.donor == donor)
    return list(session.scalars(q))
