"""The monthly subsidy a patient already used under a scheme: a fact the counter gathers
before pricing (``contracts.pricing`` caps the subsidy with it)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from dispensing.tables import Dispensing, DispensingReturn
from ledger.db import Base, is_postgres
from ledger.model import month_bounds, month_of

#: (patient member code, scheme code, "YYYY-MM")
Capped = tuple[str, str, str]

_DISPENSINGS = Base.metadata.tables[Dispensing.__tablename__]
_RETURNED = Base.metadata.tables[DispensingReturn.__tablename__]
#: Each dispensing of the patients and schemes in the months' range, with its subsidy and
#: what its returns gave back (``subsidy_used``'s two sums, row by row).
_SUBSIDY_ROWS = select(
    _DISPENSINGS.c.patient,
    _DISPENSINGS.c.scheme,
    _DISPENSINGS.c.service_date,
    _DISPENSINGS.c.total_subsidy,
    select(func.sum(_RETURNED.c.total_subsidy))
    .where(_RETURNED.c.dispensing_id == _DISPENSINGS.c.id)
    .scalar_subquery(),
).where(
    _DISPENSINGS.c.patient.in_(bindparam("patients", expanding=True)),
    _DISPENSINGS.c.scheme.in_(bindparam("schemes", expanding=True)),
    _DISPENSINGS.c.service_date >= bindparam("first"),
    _DISPENSINGS.c.service_date <= bindparam("last"),
)


def lock_patient(session: Session, patient: str) -> None:
    """Serialise dispensings of one patient (the monthly subsidy cap is read, then used)."""
    if is_postgres(session):
        key = zlib.crc32(patient.encode("utf-8"))
        session.execute(text("SELECT pg_advisory_xact_lock(7, :k)"), {"k": key - 2**31})


def locked_subsidy_used(session: Session, capped: Sequence[Capped]) -> dict[Capped, int]:
    """``subsidy_used`` for many (patient, scheme, month), each patient locked first
    (sorted, so two batches never wait on each other in a cycle). Only a scheme with a
    monthly cap asks, so only those dispensings queue per patient."""
    for patient in sorted({p for p, _s, _m in capped}, key=lambda p: zlib.crc32(p.encode("utf-8"))):
        lock_patient(session, patient)
    return subsidy_used(session, capped)


def subsidy_used(session: Session, capped: Sequence[Capped]) -> dict[Capped, int]:
    """Subsidy given per (patient, scheme, month) (service dates), net of returns (a return
    counts in the month of the dispensing it returns), in one query."""
    if not capped:
        return {}
    patients = sorted({p for p, _s, _m in capped})
    schemes = sorted({s for _p, s, _m in capped})
    first = month_bounds(min(m for _p, _s, m in capped))[0]
    last = month_bounds(max(m for _p, _s, m in capped))[1]
    params = {"patients": patients, "schemes": schemes, "first": first, "last": last}
    used = dict.fromkeys(capped, 0)
    for patient, scheme, on, given, returned in session.execute(_SUBSIDY_ROWS, params):
        key = (patient, scheme, month_of(on))
        if key in used:
            used[key] += int(given) - int(returned or 0)
    return used
