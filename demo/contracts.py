"""Demo contracts for ``flask --app app seed-demo``: price lists, schemes, patients, contracts.

Runs after the stock demo (it prices the medicines and contracts the pharmacies that exist):
a retail price list in KHR with a version from the first day of last month and one from the
first day of this month (every third medicine about 10 % dearer), a wholesale list (85 % of
last month's retail prices), HEF (Health Equity Fund, external payer, 100 %) and NGO50 (borne
by the fund, 50 %, co-payment rounded to 100 KHR, at most 20,000 KHR a patient a month),
200 patients ``M-00001``…``M-00200`` (4 in 10 in HEF, 3 in 10 in NGO50, the rest in none;
``M-00010``'s NGO50 enrolment ended last month), and a contract for each of the first 4
pharmacies by code (the first 3 consignment, the 4th purchase).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from contracts import agreements, patients, pricelists, schemes
from ledger import clock
from ledger.settings import functional_currency
from stock.refdata import medicine_codes, pharmacy_codes

RETAIL = "RDF-RETAIL"
WHOLESALE = "RDF-WHOLESALE"

#: Retail unit prices (KHR per base unit) of the medicines the demo knows; others get a
#: price from their position in the list.
KNOWN_PRICES = {
    "MET500": "50",  # the stock demo's costs per unit: 40
    "GLI80": "120",  # 60
    "GLB5": "30",  # 20
    "AML5": "60",  # 30
    "ENA10": "55",  # 35
    "ATO20": "150",  # 90
    "ASP100": "25",  # 15
    "INSNPH": "2400.5",  # 24,005 a 10 ml vial: above its 2,000 a ml cost
}

#: the wholesale price (purchase model) is this share of last month's retail price: above the
#: stock demo's costs, so a sale to a purchase-model pharmacy is not at a loss
WHOLESALE_SHARE = Decimal("0.85")

FEES: list[dict[str, Any]] = [
    {"kind": "percent", "value": "10"},
    {"kind": "per_dispensing", "value": "500"},
    {"kind": "per_line", "value": "200"},
    {"kind": "per_dispensing", "value": "300"},
]


def _first_of_month(d: date) -> date:
    return d.replace(day=1)


def seed_contracts(session: Session) -> dict[str, Any]:
    """Seed the demo's contracts data; returns a summary of what it made."""
    today = clock.today()
    this_month = _first_of_month(today)
    last_month = _first_of_month(this_month - timedelta(days=1))
    end_of_last_month = this_month - timedelta(days=1)
    medicines = medicine_codes(session)
    pharmacies = pharmacy_codes(session)[:4]
    by = "seed-demo"

    fund = functional_currency(session)
    pricelists.create_price_list(session, RETAIL, fund)
    pricelists.create_price_list(session, WHOLESALE, fund)
    if medicines:
        old = {m: KNOWN_PRICES.get(m, str(40 + 10 * i)) for i, m in enumerate(medicines)}
        new = dict(old)
        for i, m in enumerate(medicines):
            if i % 3 == 0:  # every third medicine costs about 10 % more this month
                new[m] = str(int(Decimal(old[m]) * 11 // 10))
        for effective_from, prices in ((last_month, old), (this_month, new)):
            pricelists.add_price_list_version(
                session,
                RETAIL,
                effective_from,
                [{"medicine": m, "unit_price": p} for m, p in prices.items()],
                by=by,
            )
        pricelists.add_price_list_version(
            session,
            WHOLESALE,
            last_month,
            [
                {"medicine": m, "unit_price": format(Decimal(p) * WHOLESALE_SHARE, "f")}
                for m, p in old.items()
            ],
            by=by,
        )

    schemes.create_scheme(
        session,
        {"code": "HEF", "name": "Health Equity Fund", "payer": "external", "percent": 100},
    )
    schemes.create_scheme(
        session,
        {
            "code": "NGO50",
            "name": "NGO co-payment support (50 %)",
            "payer": "fund",
            "percent": "50",
            "cap_per_patient_month": "20000",
            "cash_rounding": "100",
        },
    )

    enrolled = {"HEF": 0, "NGO50": 0, "none": 0}
    for n in range(1, 201):
        code = f"M-{n:05d}"
        kind = n % 10
        enrolments: list[dict[str, Any]] = []
        if n == 10:
            enrolments = [
                {"scheme": "NGO50", "valid_from": last_month, "valid_to": end_of_last_month}
            ]
            enrolled["NGO50"] += 1
        elif kind in (1, 2, 3, 4):
            enrolments = [{"scheme": "HEF", "valid_from": last_month}]
            enrolled["HEF"] += 1
        elif kind in (5, 6, 7):
            enrolments = [{"scheme": "NGO50", "valid_from": last_month}]
            enrolled["NGO50"] += 1
        else:
            enrolled["none"] += 1
        patients.create_patient(session, code, enrolments)

    contracts: list[dict[str, str]] = []
    if medicines:
        for i, pharmacy in enumerate(pharmacies):
            purchase = i == 3
            data: dict[str, Any] = {
                "valid_from": last_month,
                "valid_to": None,
                "model": "purchase" if purchase else "consignment",
                "price_list": RETAIL,
                "wholesale_price_list": WHOLESALE if purchase else None,
                "fee": FEES[i],
                "settlement_cycle": "monthly",
            }
            c = agreements.create_contract(session, pharmacy, data, by=by)
            contracts.append({"pharmacy": pharmacy, "id": str(c.id), "model": c.model})
    session.flush()
    return {
        "price_lists": [RETAIL, WHOLESALE],
        "schemes": ["HEF", "NGO50"],
        "patients": enrolled,
        "contracts": contracts,
    }
