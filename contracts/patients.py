"""Patients (pseudonymous member codes) and their enrolments in subsidy schemes; the scheme a
patient is enrolled in on a day (highest percentage, then scheme code)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from contracts.checks import check_range, normalise_member_code, overlaps
from contracts.errors import AlreadyExists, invalid
from contracts.refdata import contracts_ref
from contracts.tables import Enrolment, Patient, SubsidyScheme
from ledger import clock
from ledger.errors import InvalidRequest, NotFound
from ledger.refcache import reference


def _check_enrolments(
    session: Session,
    new: Sequence[dict[str, Any]],
    existing: Sequence[Enrolment],
    prefix: str,
) -> None:
    errors: dict[str, list[str]] = {}
    schemes = {e["scheme"] for e in new}
    known = set(session.scalars(select(SubsidyScheme.code).where(SubsidyScheme.code.in_(schemes))))
    for i, e in enumerate(new):
        field = f"{prefix}{i}" if prefix else ""
        if e["scheme"] not in known:
            errors[f"{field}.scheme".lstrip(".")] = [f"unknown subsidy scheme {e['scheme']!r}"]
        check_range(e["valid_from"], e.get("valid_to"), f"{field}.".lstrip(".") if field else "")
        for ex in existing:
            if ex.scheme == e["scheme"] and overlaps(
                e["valid_from"], e.get("valid_to"), ex.valid_from, ex.valid_to
            ):
                errors.setdefault(f"{field}.valid_from".lstrip("."), []).append(
                    f"overlaps the enrolment in {ex.scheme} from {ex.valid_from}"
                    f" to {ex.valid_to or 'open end'}"
                )
        for j in range(i):
            o = new[j]
            if o["scheme"] == e["scheme"] and overlaps(
                e["valid_from"], e.get("valid_to"), o["valid_from"], o.get("valid_to")
            ):
                errors.setdefault(f"{field}.valid_from".lstrip("."), []).append(
                    f"overlaps enrolment {j} in the same scheme"
                )
    if errors:
        first = next(iter(errors.items()))
        raise InvalidRequest(f"{first[0]}: {first[1][0]}", errors=errors)


def create_patient(
    session: Session, member_code: str, enrolments: Sequence[dict[str, Any]]
) -> Patient:
    code = normalise_member_code(member_code)
    _check_enrolments(session, enrolments, [], "enrolments.")
    if session.scalar(select(Patient.id).where(Patient.member_code == code)) is not None:
        raise AlreadyExists(f"a patient with member code {code!r} exists already")
    p = Patient(member_code=code, created_at=clock.now())
    session.add(p)
    session.flush()
    now = clock.now()
    session.add_all(
        Enrolment(
            patient_id=p.id,
            scheme=e["scheme"],
            valid_from=e["valid_from"],
            valid_to=e.get("valid_to"),
            created_at=now,
        )
        for e in enrolments
    )
    session.flush()
    return p


def get_patient(session: Session, member_code: str, *, lock: bool = False) -> Patient:
    try:
        code = normalise_member_code(member_code)
    except InvalidRequest:
        raise NotFound(f"no patient {member_code!r}") from None
    q = select(Patient).where(Patient.member_code == code)
    if lock:
        q = q.with_for_update()
    p = session.scalars(q).first()
    if p is None:
        raise NotFound(f"no patient {code!r}")
    return p


def patient_enrolments(session: Session, patient_id: int) -> list[Enrolment]:
    return list(
        session.scalars(
            select(Enrolment)
            .where(Enrolment.patient_id == patient_id)
            .order_by(Enrolment.valid_from, Enrolment.scheme, Enrolment.id)
        )
    )


def add_enrolment(session: Session, member_code: str, data: dict[str, Any]) -> Patient:
    p = get_patient(session, member_code, lock=True)
    _check_enrolments(session, [data], patient_enrolments(session, p.id), "")
    session.add(
        Enrolment(
            patient_id=p.id,
            scheme=data["scheme"],
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            created_at=clock.now(),
        )
    )
    session.flush()
    return p


def scheme_on(session: Session, patient: Patient, on: date) -> SubsidyScheme | None:
    """The scheme a patient is enrolled in on ``on``: highest percent, then scheme code."""
    rows = session.execute(
        select(Enrolment.scheme, Enrolment.valid_from, Enrolment.valid_to).where(
            Enrolment.patient_id == patient.id
        )
    ).all()
    return best_scheme(contracts_ref(reference(session)).schemes, rows, on)


def best_scheme(
    schemes: Mapping[str, SubsidyScheme],
    enrolments: Sequence[tuple[str | None, date | None, date | None]],
    on: date,
) -> SubsidyScheme | None:
    """Of the schemes enrolled in on ``on`` (scheme, from, to), the highest percent, then code."""
    valid = [
        schemes[code]
        for code, start, end in enrolments
        if code is not None and start is not None and start <= on and (end is None or end >= on)
    ]
    if not valid:
        return None
    return sorted(valid, key=lambda s: (-s.percent_bp, s.code))[0]


Enrolments = tuple[str, list[tuple[str | None, date | None, date | None]]]


_PATIENT_ENROLMENTS = (
    select(Enrolment.scheme, Enrolment.valid_from, Enrolment.valid_to)
    .select_from(Patient)
    .outerjoin(Enrolment, Enrolment.patient_id == Patient.id)
    .where(Patient.member_code == bindparam("code"))
)


def patient_enrolments_of(
    session: Session, patient: str
) -> tuple[str, list[tuple[str | None, date | None, date | None]]]:
    """The patient's member code and enrolments (scheme, from, to), in one query; an unknown
    patient is a 422."""
    try:
        code = normalise_member_code(patient)
    except InvalidRequest:
        raise invalid("patient", f"unknown patient {patient!r}") from None
    rows = session.execute(_PATIENT_ENROLMENTS, {"code": code}).all()
    if not rows:
        raise invalid("patient", f"unknown patient {patient!r}")
    return code, [(s, f, t) for s, f, t in rows]


_ENROLMENTS_OF = (
    select(Patient.member_code, Enrolment.scheme, Enrolment.valid_from, Enrolment.valid_to)
    .select_from(Patient)
    .outerjoin(Enrolment, Enrolment.patient_id == Patient.id)
    .where(Patient.member_code.in_(bindparam("codes", expanding=True)))
)


def enrolments_of(session: Session, patients: Sequence[str]) -> Callable[[str], Enrolments]:
    """``_patient_enrolments`` for many patients in one query: the lookup ``quote_terms``
    takes, raising the same 422 for an unknown patient."""
    codes: dict[str, str | None] = {}
    for p in patients:
        try:
            codes[p] = normalise_member_code(p)
        except InvalidRequest:
            codes[p] = None
    found: dict[str, list[tuple[str | None, date | None, date | None]]] = {}
    wanted = sorted({c for c in codes.values() if c is not None})
    if wanted:
        for code, scheme, start, end in session.execute(_ENROLMENTS_OF, {"codes": wanted}):
            found.setdefault(code, []).append((scheme, start, end))

    def lookup(patient: str) -> Enrolments:
        code = codes.get(patient)
        if code is None or code not in found:
            raise invalid("patient", f"unknown patient {patient!r}")
        return code, found[code]

    return lookup


def list_patients(
    session: Session, *, after: str | None, limit: int, scheme: str | None = None
) -> list[Patient]:
    """Up to ``limit + 1`` patients by member code after ``after`` (``scheme``: enrolled in
    it at some time)."""
    q = select(Patient).order_by(Patient.member_code).limit(limit + 1)
    if after:
        q = q.where(Patient.member_code > after)
    if scheme:
        q = q.where(Patient.id.in_(select(Enrolment.patient_id).where(Enrolment.scheme == scheme)))
    return list(session.scalars(q))


def enrolments_of_patients(
    session: Session, patient_ids: Sequence[int]
) -> dict[int, list[Enrolment]]:
    """``patient_enrolments`` of each patient in one query."""
    out: dict[int, list[Enrolment]] = {pid: [] for pid in patient_ids}
    if not out:
        return out
    for e in session.scalars(
        select(Enrolment)
        .where(Enrolment.patient_id.in_(sorted(out)))
        .order_by(Enrolment.valid_from, Enrolment.scheme, Enrolment.id)
    ):
        out[e.patient_id].append(e)
    return out
