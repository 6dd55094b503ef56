"""Demo care data for ``flask --app app seed-demo``: peer educators of two networks, every
demo patient in one educator's care, and a few patients who stopped refilling (one
dispensing of two weeks' treatment early last month, never renewed: the visit list)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from care.service import assign_educator, create_educator
from contracts.patients import create_patient
from contracts.tables import Patient
from dispensing.commands import DispenseRequest
from dispensing.service import dispense
from ledger.errors import RdfError
from stock.tables import Pharmacy

#: code, name (optional: the programme may keep none), network, district
EDUCATORS = [
    ("E-TK01", None, "MoPoTsyo Takeo", "Doun Kaev"),
    ("E-TK02", None, "MoPoTsyo Takeo", "Bati"),
    ("E-KD01", None, "Peer coaches Kandal", "Ta Khmau"),
]
#: Patients who came once early last month and never again.
STOPPED = ["M-STOP-1", "M-STOP-2", "M-STOP-3"]


def seed_care(session: Session, first_of_last_month: date) -> list[str]:
    """Educators, assignments and the stopped patients; returns the educators' codes."""
    for code, name, network, district in EDUCATORS:
        create_educator(
            session, {"code": code, "name": name, "network": network, "district": district}
        )
    for code in STOPPED:
        create_patient(session, code, [])
    patients = list(session.scalars(select(Patient.member_code).order_by(Patient.member_code)))
    since = first_of_last_month - timedelta(days=60)
    for i, patient in enumerate(patients):
        assign_educator(session, patient, EDUCATORS[i % len(EDUCATORS)][0], since, by="seed-demo")
    pharmacy = session.scalars(select(Pharmacy.code).order_by(Pharmacy.code)).first()
    if pharmacy is not None:
        for n, patient in enumerate(STOPPED):
            on = first_of_last_month + timedelta(days=10 + n)
            req = DispenseRequest(
                pharmacy, patient, on, f"demo-stopped-{n}", (("MET500", 28),), days_supply=(14,)
            )
            try:
                with session.begin_nested():
                    dispense(session, req, by="seed-demo")
            except RdfError:
                continue
    return [e[0] for e in EDUCATORS]
