"""Care use cases: peer educators, a patient's educator over time, and the adherence and
overdue lists read from the dispensing record (the arithmetic is ``care.pdc``).

Reads are few and indexed: the patients in scope (an educator's on a day: one query on
``ix_educator_assignments_educator``; a pharmacy's: one query on
``ix_dispensings_pharmacy_date``), then ONE query for their dispensing lines over the window
and the :data:`LOOKBACK_DAYS` before it (``ix_dispensings_patient_date``, then the lines by
``dispensing_id`` and the returned units by ``return_lines.line_id``), then one for their
educators. Nothing else is read, whatever the size of the books.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from care import pdc
from care.tables import (
    EducatorAssignment,
    PeerEducator,
    dispensing_lines,
    dispensings,
    return_lines,
)
from contracts.checks import normalise_member_code
from contracts.tables import Patient
from ledger import clock
from ledger.errors import Conflict, InvalidRequest, NotFound
from stock.tables import Medicine, Pharmacy

#: Supply dispensed this many days before a window (or an as-of day) is still read: one
#: line carries at most 365 days, so only a stack of early refills older than that is cut.
LOOKBACK_DAYS = 365
#: The longest adherence window, and the largest grace.
MAX_WINDOW_DAYS = 1096
MAX_GRACE_DAYS = 365
#: Days after a supply runs out before the patient is on the visit list (by default).
DEFAULT_GRACE_DAYS = 7
#: Patients per query (SQLite's bound parameters; PostgreSQL would take more).
CHUNK = 2000

CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_\-]{0,23}")
CODE_RULE = "1-24 characters: capitals, digits, '-' or '_', starting with a capital or a digit"


class UnknownEducator(NotFound):
    slug = "unknown-educator"


class UnknownPatient(NotFound):
    slug = "unknown-patient"


class DuplicateEducator(Conflict):
    slug = "duplicate-educator"
    title = "Peer educator exists"


class AssignmentOutOfOrder(Conflict):
    slug = "assignment-out-of-order"
    title = "An assignment starts after the patient's latest one"


# --------------------------------------------------------------------------- educators


def check_code(code: object, field: str = "code") -> str:
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise InvalidRequest(
            f"{code!r} is not a valid code: {CODE_RULE}", errors={field: [CODE_RULE]}
        )
    return code


def create_educator(session: Session, data: Mapping[str, Any]) -> PeerEducator:
    code = check_code(data["code"])
    if session.get(PeerEducator, code) is not None:
        raise DuplicateEducator(f"a peer educator {code} exists already")
    row = PeerEducator(
        code=code,
        name=data.get("name"),
        network=data["network"],
        district=data["district"],
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row


def list_educators(
    session: Session, *, after: str | None, limit: int, only: str | None = None
) -> tuple[list[PeerEducator], str | None]:
    q = select(PeerEducator).order_by(PeerEducator.code).limit(limit + 1)
    if after:
        q = q.where(PeerEducator.code > after)
    if only is not None:
        q = q.where(PeerEducator.code == only)
    rows = list(session.scalars(q))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].code if more and rows else None)


def require_educator(session: Session, code: str, field: str = "educator") -> PeerEducator:
    row = session.get(PeerEducator, code) if isinstance(code, str) else None
    if row is None:
        raise UnknownEducator(f"no peer educator {code!r}", errors={field: ["unknown educator"]})
    return row


def require_patient(session: Session, member_code: object, field: str = "patient") -> str:
    code = normalise_member_code(member_code, field)
    if session.scalar(select(Patient.id).where(Patient.member_code == code)) is None:
        raise UnknownPatient(f"no patient {code!r}", errors={field: ["unknown patient"]})
    return code


def assignment_json(a: EducatorAssignment) -> dict[str, Any]:
    return {
        "patient": a.patient,
        "educator": a.educator,
        "valid_from": a.valid_from.isoformat(),
        "valid_to": a.valid_to.isoformat() if a.valid_to else None,
    }


def assign_educator(
    session: Session, member_code: str, educator: str, valid_from: date, *, by: str
) -> dict[str, Any]:
    """Put a patient in an educator's care from ``valid_from``. One educator at a time: the
    assignment in force closes the day before (409 if the new one does not start after
    the patient's latest start: history is appended, never rewritten)."""
    check_day(valid_from, "valid_from")
    patient = require_patient(session, member_code, "member_code")
    require_educator(session, educator)
    latest = session.scalars(
        select(EducatorAssignment)
        .where(EducatorAssignment.patient == patient)
        .order_by(EducatorAssignment.valid_from.desc())
        .limit(1)
        .with_for_update()
    ).first()
    closed = None
    if latest is not None:
        if valid_from <= latest.valid_from:
            raise AssignmentOutOfOrder(
                f"{patient} is assigned from {latest.valid_from.isoformat()}; a new "
                "assignment must start after it",
                errors={"valid_from": [f"must be after {latest.valid_from.isoformat()}"]},
            )
        day_before = valid_from - timedelta(days=1)
        if latest.valid_to is None or latest.valid_to > day_before:
            latest.valid_to = day_before
        closed = assignment_json(latest)
    row = EducatorAssignment(
        patient=patient,
        educator=educator,
        valid_from=valid_from,
        valid_to=None,
        created_at=clock.now(),
        created_by=by,
    )
    session.add(row)
    session.flush()
    return {**assignment_json(row), "previous": closed}


def _in_force(on: date) -> Any:
    return and_(
        EducatorAssignment.valid_from <= on,
        or_(EducatorAssignment.valid_to.is_(None), EducatorAssignment.valid_to >= on),
    )


def patients_of_educator(session: Session, educator: str, on: date) -> list[str]:
    """The patients in ``educator``'s care on ``on``."""
    q = select(EducatorAssignment.patient).where(
        EducatorAssignment.educator == educator, _in_force(on)
    )
    return sorted(set(session.scalars(q)))


def educators_of(session: Session, patients: Sequence[str] | None, on: date) -> dict[str, str]:
    """Each patient's educator on ``on`` (all patients when ``patients`` is None)."""
    out: dict[str, str] = {}
    base = select(EducatorAssignment.patient, EducatorAssignment.educator).where(_in_force(on))
    if patients is None:
        out.update({p: e for p, e in session.execute(base)})
        return out
    for part in _chunks(patients):
        out.update(
            {p: e for p, e in session.execute(base.where(EducatorAssignment.patient.in_(part)))}
        )
    return out


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), CHUNK):
        yield list(items[i : i + CHUNK])


# --------------------------------------------------------------------------- the record


class LineFact(NamedTuple):
    """One dispensing line of a patient as care sees it: its class and the days it still
    supplies (returns removed, ``care.pdc.line_days``). Immutable."""

    dispensing_id: int
    line_no: int
    patient: str
    pharmacy: str
    service_date: date
    medicine: str
    therapeutic_class: str
    days: int

    def supply(self) -> pdc.Supply:
        return pdc.Supply(self.service_date, self.days, (self.dispensing_id, self.line_no))


_RETURNED = (
    select(func.coalesce(func.sum(return_lines.c.quantity), 0))
    .where(return_lines.c.line_id == dispensing_lines.c.id)
    .scalar_subquery()
)
_LINES = (
    select(
        dispensings.c.id,
        dispensing_lines.c.line_no,
        dispensings.c.patient,
        dispensings.c.pharmacy,
        dispensings.c.service_date,
        dispensing_lines.c.medicine,
        Medicine.therapeutic_class,
        dispensing_lines.c.days_supply,
        Medicine.default_days_supply,
        dispensing_lines.c.quantity,
        _RETURNED,
    )
    .select_from(dispensings)
    .join(dispensing_lines, dispensing_lines.c.dispensing_id == dispensings.c.id)
    .join(Medicine, Medicine.code == dispensing_lines.c.medicine)
)


def read_lines(
    session: Session, patients: Sequence[str] | None, first: date, last: date
) -> list[LineFact]:
    """The dispensing lines of ``patients`` (None: every patient) with service dates in
    ``[first, last]``: one query (per :data:`CHUNK` patients)."""
    q = _LINES.where(
        dispensings.c.patient.is_not(None),
        dispensings.c.service_date >= first,
        dispensings.c.service_date <= last,
    )
    if patients is None:
        batches: list[Any] = [q]
    else:
        batches = [q.where(dispensings.c.patient.in_(part)) for part in _chunks(patients)]
    out = []
    for stmt in batches:
        for (
            d_id,
            line_no,
            patient,
            pharmacy,
            on,
            med,
            klass,
            days,
            default,
            qty,
            ret,
        ) in session.execute(stmt):
            out.append(
                LineFact(
                    int(d_id),
                    int(line_no),
                    patient,
                    pharmacy,
                    on,
                    med,
                    klass or med,
                    pdc.line_days(days, default, int(qty), int(ret or 0)),
                )
            )
    return out


def patients_at_pharmacy(session: Session, pharmacy: str, first: date, last: date) -> list[str]:
    q = (
        select(dispensings.c.patient)
        .where(
            dispensings.c.pharmacy == pharmacy,
            dispensings.c.service_date >= first,
            dispensings.c.service_date <= last,
            dispensings.c.patient.is_not(None),
        )
        .distinct()
    )
    return sorted(session.scalars(q))


@dataclass(frozen=True)
class Scope:
    """Who the lists are about: any of an educator's patients (on the list's day), a
    pharmacy's patients (those whose usual pharmacy it is), one patient."""

    educator: str | None = None
    pharmacy: str | None = None
    patient: str | None = None


def _selected(
    session: Session, scope: Scope, first: date, last: date, on: date
) -> list[str] | None:
    """The patients to read (None: all), before the usual-pharmacy filter."""
    chosen: set[str] | None = None
    if scope.patient is not None:
        chosen = {require_patient(session, scope.patient)}
    if scope.educator is not None:
        require_educator(session, scope.educator)
        mine = set(patients_of_educator(session, scope.educator, on))
        chosen = mine if chosen is None else chosen & mine
    if scope.pharmacy is not None:
        if session.get(Pharmacy, scope.pharmacy) is None:
            raise NotFound(
                f"no pharmacy {scope.pharmacy!r}", errors={"pharmacy": ["unknown pharmacy"]}
            )
        if chosen is None:
            chosen = set(patients_at_pharmacy(session, scope.pharmacy, first, last))
    return None if chosen is None else sorted(chosen)


def _grouped(
    facts: Iterable[LineFact],
) -> tuple[dict[tuple[str, str], list[pdc.Supply]], dict[str, str | None]]:
    """Supplies per (patient, class) and each patient's usual pharmacy."""
    groups: dict[tuple[str, str], list[pdc.Supply]] = {}
    visits: dict[str, dict[int, tuple[date, int, str]]] = {}
    for f in facts:
        visits.setdefault(f.patient, {})[f.dispensing_id] = (
            f.service_date,
            f.dispensing_id,
            f.pharmacy,
        )
        if f.days > 0:
            groups.setdefault((f.patient, f.therapeutic_class), []).append(f.supply())
    usual = {p: pdc.usual_pharmacy(v.values()) for p, v in visits.items()}
    return groups, usual


#: The days the books know (periods 2000-01 to 2999-12).
EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)


def check_day(d: date, field: str) -> None:
    if not EARLIEST <= d <= LATEST:
        raise InvalidRequest(
            f"{d.isoformat()} is outside 2000-01-01 to 2999-12-31",
            errors={field: ["must be from 2000-01-01 to 2999-12-31"]},
        )


def check_window(start: date, end: date) -> None:
    check_day(start, "from")
    check_day(end, "to")
    if end < start:
        raise InvalidRequest("'to' is before 'from'", errors={"to": ["must not be before from"]})
    if (end - start).days + 1 > MAX_WINDOW_DAYS:
        raise InvalidRequest(
            f"the window is longer than {MAX_WINDOW_DAYS} days",
            errors={"to": [f"at most {MAX_WINDOW_DAYS} days after from"]},
        )


def adherence(session: Session, start: date, end: date, scope: Scope) -> list[dict[str, Any]]:
    """PDC per patient and therapeutic class over ``[start, end]`` (``care.pdc``), for the
    patients in ``scope``; each row with the patient's educator on ``end`` and usual
    pharmacy. A patient and class with supply in the look-back but none in or carried into
    the window has ``days_in_window = 0`` and ``pdc = None``."""
    check_window(start, end)
    first = start - timedelta(days=LOOKBACK_DAYS)
    patients = _selected(session, scope, first, end, end)
    if patients == []:
        return []
    groups, usual = _grouped(read_lines(session, patients, first, end))
    if scope.pharmacy is not None:
        groups = {k: v for k, v in groups.items() if usual.get(k[0]) == scope.pharmacy}
    educators = educators_of(session, sorted({p for p, _c in groups}), end)
    rows = []
    for (patient, klass), supplies in sorted(groups.items()):
        a = pdc.adherence(supplies, start, end)
        rows.append(
            {
                "patient": patient,
                "therapeutic_class": klass,
                "days_covered": a.days_covered,
                "days_in_window": a.days_in_window,
                "pdc": a.pdc,
                "counted_from": a.counted_from,
                "carried_in": a.carried_in,
                "educator": educators.get(patient),
                "pharmacy": usual.get(patient),
            }
        )
    return rows


def overdue_refills(
    session: Session, as_of: date, grace_days: int, scope: Scope
) -> list[dict[str, Any]]:
    """The visit list: per patient and class whose supply ran out more than ``grace_days``
    days before ``as_of`` (supply dispensed up to ``as_of``, looked back
    :data:`LOOKBACK_DAYS`), most overdue first."""
    check_day(as_of, "as_of")
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise InvalidRequest(
            "grace_days is out of range", errors={"grace_days": [f"0 to {MAX_GRACE_DAYS}"]}
        )
    first = as_of - timedelta(days=LOOKBACK_DAYS)
    patients = _selected(session, scope, first, as_of, as_of)
    if patients == []:
        return []
    groups, usual = _grouped(read_lines(session, patients, first, as_of))
    if scope.pharmacy is not None:
        groups = {k: v for k, v in groups.items() if usual.get(k[0]) == scope.pharmacy}
    late = {
        key: o
        for key, supplies in groups.items()
        if (o := pdc.overdue(supplies, as_of, grace_days)) is not None
    }
    educators = educators_of(session, sorted({p for p, _c in late}), as_of)
    rows = [
        {
            "patient": patient,
            "therapeutic_class": klass,
            "ran_out_on": o.ran_out_on,
            "days_overdue": o.days_overdue,
            "educator": educators.get(patient),
            "pharmacy": usual.get(patient),
        }
        for (patient, klass), o in sorted(late.items(), key=lambda kv: (-kv[1].days_overdue, kv[0]))
    ]
    return rows


def patient_in_scope(session: Session, patient: str, educator: str, on: date) -> bool:
    return patient in set(patients_of_educator(session, educator, on))
