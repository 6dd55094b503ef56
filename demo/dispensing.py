"""Demo dispensings: a month of a few pharmacies' work, for ``flask --app app seed-demo``."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.tables import Patient
from dispensing.commands import DispenseRequest
from dispensing.service import dispense
from ledger import chart
from ledger.errors import RdfError
from ledger.queries import balances
from ledger.tables import Lot
from stock.tables import Pharmacy

#: Usual monthly quantities (base units) of the demo medicines.
USUAL_QUANTITIES = {"INSNPH": (10, 20, 30)}
DEFAULT_QUANTITIES = (28, 30, 56, 60, 90)


def seed_dispensings(
    session: Session, start: date, end: date, *, per_day: int = 4, seed: int = 20261014
) -> int:
    """Record about ``per_day`` dispensings a day at each pharmacy from ``start`` to
    ``end``; a dispensing the books refuse (a cap, a short lot) is skipped. Returns the
    number recorded."""
    rng = random.Random(seed)
    pharmacies = list(session.scalars(select(Pharmacy.code).order_by(Pharmacy.code)))
    patients = list(session.scalars(select(Patient.member_code).order_by(Patient.member_code)))
    medicines = set(session.scalars(select(Lot.commodity)))
    made = 0
    day = start
    while day <= end:
        for ph in pharmacies:
            stocked = sorted(
                {
                    b.commodity
                    for b in balances(session, [chart.inventory(ph)])
                    if b.lot_id and b.amount > 0 and b.commodity in medicines
                }
            )
            if not stocked:
                continue
            for n in range(per_day):
                meds = rng.sample(stocked, k=min(len(stocked), rng.choice((1, 1, 2, 3))))
                items = tuple(
                    (m, rng.choice(USUAL_QUANTITIES.get(m, DEFAULT_QUANTITIES))) for m in meds
                )
                patient = rng.choice(patients) if patients and rng.random() < 0.85 else None
                # Days of treatment: a month's box (28 or 56 tablets: four weeks).
                days = tuple(28 if q % 28 == 0 else 30 for _m, q in items)
                req = DispenseRequest(
                    ph, patient, day, f"demo-{ph}-{day.isoformat()}-{n}", items, days_supply=days
                )
                try:
                    with session.begin_nested():
                        dispense(session, req, by="seed-demo")
                    made += 1
                except RdfError:
                    continue
        day += timedelta(days=1)
    return made
