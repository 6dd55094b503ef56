"""Reading dispensings and returns back as domain results (``dispensing.commands``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispensing.commands import Dispensed, DispensedLine, LotShare, Returned, ReturnedLine
from dispensing.tables import (
    Dispensing,
    DispensingLine,
    DispensingLot,
    DispensingReturn,
    ReturnLine,
    ReturnLot,
)
from ledger.errors import NotFound

LineWithLots = tuple[DispensingLine, list[DispensingLot]]


def dispensed(d: Any, lines: Sequence[tuple[Any, Sequence[Any]]]) -> Dispensed:
    """The result of a dispensing row and its lines with their lots: ORM rows, or the
    attribute bags of rows just written (anything with the columns as attributes)."""
    return Dispensed(
        id=d.id,
        pharmacy=d.pharmacy,
        patient=d.patient,
        service_date=d.service_date,
        accounting_date=d.accounting_date,
        currency=d.currency,
        client_ref=d.client_ref,
        model=d.model,
        scheme=d.scheme,
        lines=tuple(
            DispensedLine(
                medicine=ln.medicine,
                quantity=ln.quantity,
                unit_price=ln.unit_price,
                price=ln.price,
                subsidy=ln.subsidy,
                copayment=ln.copayment,
                cost=ln.cost,
                lots=tuple(LotShare(lot.lot_code, lot.quantity, lot.value) for lot in lots),
                days_supply=ln.days_supply,
            )
            for ln, lots in lines
        ),
        total_price=d.total_price,
        total_subsidy=d.total_subsidy,
        total_copayment=d.total_copayment,
        fee=d.fee,
        entry_id=d.entry_id,
    )


def get_dispensing(
    session: Session, dispensing_id: str | int, pharmacy_scope: str | None = None
) -> Dispensing:
    """A dispensing; for a pharmacist, one of another pharmacy does not exist."""
    if isinstance(dispensing_id, str) and (
        not (dispensing_id.isascii() and dispensing_id.isdigit()) or len(dispensing_id) > 18
    ):
        raise NotFound(f"no dispensing {dispensing_id!r}")
    d = session.get(Dispensing, int(dispensing_id))
    if d is None or (pharmacy_scope is not None and d.pharmacy != pharmacy_scope):
        raise NotFound(f"no dispensing {dispensing_id!r}")
    return d


def lines_by_dispensing(session: Session, ids: Sequence[int]) -> dict[int, list[LineWithLots]]:
    """The lines of several dispensings with their lots, in two queries."""
    lines = list(
        session.scalars(
            select(DispensingLine)
            .where(DispensingLine.dispensing_id.in_(ids))
            .order_by(DispensingLine.line_no)
        )
    )
    lots = list(
        session.scalars(
            select(DispensingLot)
            .where(DispensingLot.line_id.in_([ln.id for ln in lines]))
            .order_by(DispensingLot.seq)
        )
    )
    by_line: dict[int, list[DispensingLot]] = {}
    for lot in lots:
        by_line.setdefault(lot.line_id, []).append(lot)
    out: dict[int, list[LineWithLots]] = {i: [] for i in ids}
    for ln in lines:
        out[ln.dispensing_id].append((ln, by_line.get(ln.id, [])))
    return out


def dispensings(session: Session, ids: Sequence[int]) -> list[Dispensed]:
    """Several dispensings, in the order of ``ids`` (no query per row)."""
    found = {d.id: d for d in session.scalars(select(Dispensing).where(Dispensing.id.in_(ids)))}
    lines = lines_by_dispensing(session, ids)
    return [dispensed(found[i], lines[i]) for i in ids]


def returns_of(session: Session, dispensing_id: int) -> list[Returned]:
    """The returns of a dispensing, oldest first."""
    ids = session.scalars(
        select(DispensingReturn.id)
        .where(DispensingReturn.dispensing_id == dispensing_id)
        .order_by(DispensingReturn.id)
    )
    return [read_return(session, r) for r in list(ids)]


def read_return(session: Session, return_id: int) -> Returned:
    """One return with its lines and their lots."""
    r = session.get(DispensingReturn, return_id)
    assert r is not None
    d = session.get(Dispensing, r.dispensing_id)
    assert d is not None
    rls = list(
        session.scalars(
            select(ReturnLine).where(ReturnLine.return_id == r.id).order_by(ReturnLine.id)
        )
    )
    lots = list(
        session.scalars(
            select(ReturnLot)
            .where(ReturnLot.return_line_id.in_([x.id for x in rls]))
            .order_by(ReturnLot.id)
        )
    )
    meds = {
        ln.id: ln.medicine
        for ln in session.scalars(
            select(DispensingLine).where(DispensingLine.id.in_([x.line_id for x in rls]))
        )
    }
    return Returned(
        id=r.id,
        dispensing_id=d.id,
        pharmacy=d.pharmacy,
        date=r.return_date,
        accounting_date=r.accounting_date,
        currency=d.currency,
        lines=tuple(
            ReturnedLine(
                medicine=meds[rl.line_id],
                quantity=rl.quantity,
                price=rl.price,
                subsidy=rl.subsidy,
                copayment=rl.copayment,
                cost=rl.cost,
                lots=tuple(
                    LotShare(lt.lot_code, lt.quantity, lt.value)
                    for lt in lots
                    if lt.return_line_id == rl.id
                ),
            )
            for rl in rls
        ),
        total_price=r.total_price,
        total_subsidy=r.total_subsidy,
        total_copayment=r.total_copayment,
        total_cost=r.total_cost,
        fee=r.fee,
        entry_id=r.entry_id,
    )


def returned_so_far(session: Session, line_ids: list[int]) -> dict[int, int]:
    """Units already returned per line."""
    rows = session.execute(
        select(ReturnLine.line_id, func.sum(ReturnLine.quantity))
        .where(ReturnLine.line_id.in_(line_ids))
        .group_by(ReturnLine.line_id)
    )
    return {int(lid): int(q) for lid, q in rows}


def fees_returned(session: Session, dispensing_id: int) -> int:
    """The fee already given back by the returns of a dispensing."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(DispensingReturn.fee), 0)).where(
                DispensingReturn.dispensing_id == dispensing_id
            )
        )
        or 0
    )
