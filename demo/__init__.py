"""Demo data for ``flask --app app seed-demo``: a small revolving drug fund.

A donor's capital, a central store and four pharmacies with eight medicines (stock/demo.py),
price lists, two subsidy schemes, 200 patients and contracts (contracts/demo.py), and last
month's dispensings (dispensing/demo.py); one user per role and a pharmacist per pharmacy.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import create_user, set_password
from demo.care import seed_care
from demo.contracts import seed_contracts
from demo.dispensing import seed_dispensings
from demo.fx import seed_fx
from demo.stock import MEDICINES, seed_stock
from ledger import chart, clock
from ledger.model import EntryDraft, PostingDraft
from ledger.posting import post_entry
from ledger.tables import Entry, User
from stock.tables import Pharmacy


def has_data(session: Session) -> bool:
    return (
        session.scalar(select(Entry.id).limit(1)) is not None
        or session.scalar(select(User.id).limit(1)) is not None
    )


def seed(session: Session) -> dict[str, tuple[str, str]]:
    """Load the demo fund; returns role → (user name, token)."""
    today = clock.today()
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    post_entry(
        session,
        EntryDraft(
            service_date=last_month,
            memo="Capital from the donor (demo)",
            source="manual",
            postings=(
                PostingDraft(chart.BANK_KHR, chart.FUND_CURRENCY, 400_000_000),
                PostingDraft(chart.FUND_CAPITAL, chart.FUND_CURRENCY, -400_000_000),
            ),
        ),
        created_by="seed-demo",
    )
    seed_stock(session)  # places, medicines, lots received last month, transfers
    seed_contracts(session)  # price lists, schemes, patients, contracts
    seed_dispensings(
        session, last_month + timedelta(days=4), this_month - timedelta(days=1), per_day=2
    )
    seed_fx(session, last_month, MEDICINES[0][0])  # two currencies: rates, USD, exchange…
    educators = seed_care(session, last_month)  # educators, their patients, a few who stopped
    tokens: dict[str, tuple[str, str]] = {}
    for role, name in [("admin", "admin"), ("finance", "finance"), ("auditor", "auditor")]:
        _u, token = create_user(session, name, role)
        tokens[role] = (name, token)
    for code in session.scalars(select(Pharmacy.code).order_by(Pharmacy.code)):
        name = f"pharmacist-{code.lower()}"
        _u, token = create_user(session, name, "pharmacist", code)
        tokens[f"pharmacist {code}"] = (name, token)
    for code in educators:
        name = f"educator-{code.lower()}"
        _u, token = create_user(session, name, "educator", educator=code)
        tokens[f"educator {code}"] = (name, token)
    return tokens


#: The demo users' passwords (development only: ``seed-demo`` sets and prints them when
#: ``RDF_ENV=development``). Public by design: never use demo data in production.
DEMO_PASSWORD_SUFFIX = "-demo-2026"


def seed_passwords(session: Session) -> dict[str, str]:
    """Give every user a password ``<name>-demo-2026``; returns name → password."""
    out: dict[str, str] = {}
    for name in session.scalars(select(User.name).order_by(User.id)):
        out[name] = f"{name}{DEMO_PASSWORD_SUFFIX}"
        set_password(session, name, out[name])
    return out
