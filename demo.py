"""Demo data for ``flask --app app seed-demo``: a small revolving drug fund."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.auth import create_user
from ledger.model import EntryDraft, PostingDraft
from ledger.posting import post_entry
from ledger.tables import Entry, User


def has_data(session: Session) -> bool:
    return (
        session.scalar(select(Entry.id).limit(1)) is not None
        or session.scalar(select(User.id).limit(1)) is not None
    )


def seed(session: Session) -> dict[str, tuple[str, str]]:
    """Load the demo fund; returns role → (user name, token)."""
    today = date.today()
    start = date(today.year - (today.month == 1), 12 if today.month == 1 else today.month - 1, 1)
    post_entry(
        session,
        EntryDraft(
            service_date=start,
            memo="Capital from the donor (demo)",
            source="manual",
            postings=(
                PostingDraft("1010", "KHR", 400_000_000),
                PostingDraft("3000", "KHR", -400_000_000),
            ),
        ),
        created_by="seed-demo",
    )
    __import__("stock.demo").demo.seed_stock(session)  # places, medicines, lots, transfers
    __import__("contracts.demo").demo.seed_contracts(session)  # after the stock demo
    tokens: dict[str, tuple[str, str]] = {}
    for role, name in [("admin", "admin"), ("finance", "finance"), ("auditor", "auditor")]:
        _u, token = create_user(session, name, role)
        tokens[role] = (name, token)
    return tokens
