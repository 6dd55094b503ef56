"""Demo stock for ``flask --app app seed-demo``: the central store, four contracted pharmacies,
two suppliers, eight medicines for diabetes and hypertension, lots received last month and
transfers to each pharmacy. Everything is posted through the stock services (so through
``post_entry``); the caller commits.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ledger import chart, clock
from stock.commands import (
    MoveLineIn,
    NewMedicine,
    NewPharmacy,
    NewSupplier,
    ReceiptLineIn,
    Receive,
    Transfer,
)
from stock.movements import receive, transfer
from stock.refdata import create_medicine, create_pharmacy, create_supplier

BY = "seed-demo"

PHARMACIES = [
    ("P-TAKEO", "Takeo Provincial Pharmacy", "Takeo", "Doun Kaev"),
    ("P-KAMPOT", "Kampot Riverside Pharmacy", "Kampot", "Kampot"),
    ("P-BATTAMBANG", "Battambang Psar Nat Pharmacy", "Battambang", "Battambang"),
    ("P-KSPEU", "Chbar Mon Community Pharmacy", "Kampong Speu", "Chbar Mon"),
]

SUPPLIERS = [
    ("S-CMS", "Central Medical Store, Ministry of Health"),
    ("S-ANGKOR", "Angkor Pharma Wholesale Co., Ltd."),
]

#: code, name, strength, form, unit
MEDICINES = [
    ("MET500", "Metformin", "500 mg", "tablet", "tablet"),
    ("GLI80", "Gliclazide", "80 mg", "tablet", "tablet"),
    ("GLB5", "Glibenclamide", "5 mg", "tablet", "tablet"),
    ("AML5", "Amlodipine", "5 mg", "tablet", "tablet"),
    ("ENA10", "Enalapril", "10 mg", "tablet", "tablet"),
    ("ATO20", "Atorvastatin", "20 mg", "tablet", "tablet"),
    ("ASP100", "Acetylsalicylic acid (aspirin)", "100 mg", "tablet", "tablet"),
    ("INSNPH", "Insulin isophane (NPH), 10 ml vial", "100 IU/ml", "injection", "ml"),
]

#: code -> therapeutic class and default days of treatment (care/)
CARE = {
    "MET500": ("diabetes", 30),
    "GLI80": ("diabetes", 30),
    "GLB5": ("diabetes", 30),
    "INSNPH": ("diabetes", 30),
    "AML5": ("hypertension", 30),
    "ENA10": ("hypertension", 30),
    "ATO20": ("lipids", 30),
    "ASP100": ("cardiovascular prevention", 30),
}

#: supplier, medicine, lot, months to expiry (days for a short-dated lot), units, cost KHR
LOTS: list[tuple[str, str, str, int, int, int]] = [
    ("S-CMS", "MET500", "MT24-0917", 30, 30_000, 1_200_000),  # 40 riel a tablet
    ("S-CMS", "MET500", "MT23-1102", -50, 6_000, 234_000),  # short-dated: 50 days left
    ("S-CMS", "GLI80", "GZ24-0311", 26, 12_000, 720_000),
    ("S-CMS", "GLB5", "GB24-0522", 22, 10_000, 200_000),
    ("S-ANGKOR", "AML5", "AM-2407-118", 34, 20_000, 600_000),
    ("S-ANGKOR", "ENA10", "EN-2406-042", 28, 15_000, 525_000),
    ("S-ANGKOR", "ATO20", "AT-2405-077", 24, 10_000, 900_000),
    ("S-ANGKOR", "ASP100", "AS-2408-201", 36, 20_000, 300_000),
    ("S-CMS", "INSNPH", "IN-N24-0613", 18, 5_000, 10_000_000),  # 500 vials of 10 ml
]

#: units sent to each pharmacy (Kampong Speu and Kampot are smaller than Takeo)
TRANSFERS: dict[str, dict[str, int]] = {
    "P-TAKEO": {
        "MET500": 6_000,
        "GLI80": 2_000,
        "GLB5": 2_000,
        "AML5": 4_000,
        "ENA10": 3_000,
        "ATO20": 2_000,
        "ASP100": 3_000,
        "INSNPH": 1_000,
    },
    "P-KAMPOT": {
        "MET500": 4_000,
        "GLI80": 1_500,
        "GLB5": 1_000,
        "AML5": 3_000,
        "ENA10": 2_000,
        "ATO20": 1_000,
        "ASP100": 2_000,
        "INSNPH": 600,
    },
    "P-BATTAMBANG": {
        "MET500": 6_000,
        "GLI80": 2_000,
        "GLB5": 1_500,
        "AML5": 4_000,
        "ENA10": 3_000,
        "ATO20": 2_000,
        "ASP100": 3_000,
        "INSNPH": 1_000,
    },
    "P-KSPEU": {
        "MET500": 3_000,
        "GLI80": 1_000,
        "GLB5": 1_000,
        "AML5": 2_000,
        "ENA10": 1_500,
        "ATO20": 1_000,
        "ASP100": 2_000,
        "INSNPH": 400,
    },
}


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, min(d.day, 28))


def seed_stock(session: Session) -> dict[str, Any]:
    """Reference data, receipts last month and transfers to every pharmacy; returns a summary."""
    today = clock.today()
    first_of_last_month = _add_months(today.replace(day=1), -1)
    received_on = first_of_last_month + timedelta(days=2)
    transferred_on = first_of_last_month + timedelta(days=9)

    for code, name, strength, form, unit in MEDICINES:
        klass, days = CARE.get(code, (None, None))
        create_medicine(session, NewMedicine(code, name, strength, form, unit, klass, days))
    for code, name in SUPPLIERS:
        create_supplier(session, NewSupplier(code, name))
    for code, name, province, district in PHARMACIES:
        create_pharmacy(session, NewPharmacy(code, name, province, district))

    receipts = []
    for supplier, _name in SUPPLIERS:
        lines = tuple(
            ReceiptLineIn(
                medicine=med,
                lot=lot,
                expiry=(
                    today + timedelta(days=-months) if months < 0 else _add_months(today, months)
                ),
                quantity=units,
                total_cost=str(cost),
            )
            for sup, med, lot, months, units, cost in LOTS
            if sup == supplier
        )
        receipts.append(
            receive(session, Receive(supplier, chart.CENTRAL, received_on, lines), by=BY)
        )
    transfers = [
        transfer(
            session,
            Transfer(
                chart.CENTRAL,
                pharmacy,
                transferred_on,
                tuple(MoveLineIn(m, q) for m, q in wanted.items()),
            ),
            by=BY,
        )
        for pharmacy, wanted in TRANSFERS.items()
    ]
    return {
        "pharmacies": [p[0] for p in PHARMACIES],
        "suppliers": [s[0] for s in SUPPLIERS],
        "medicines": [m[0] for m in MEDICINES],
        "receipt_entries": [r.entry_id for r in receipts],
        "transfer_entries": [t.entry_id for t in transfers],
    }
