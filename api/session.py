"""The request's database session: opened on first use, closed at teardown."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app, g
from sqlalchemy.orm import Session

from ledger.db import Database
from ledger.periods import CloseCheck
from ledger.settings import functional_currency


def database() -> Database:
    db: Database = current_app.extensions["rdf_db"]
    return db


def close_checks() -> Sequence[CloseCheck]:
    """The checks a month close runs besides the ledger's own (wired by ``create_app``)."""
    checks: Sequence[CloseCheck] = current_app.extensions["rdf_close_checks"]
    return checks


def db_session() -> Session:
    """The request's session; closed (and rolled back unless committed) at teardown."""
    if "rdf_session" not in g:
        g.rdf_session = database().sessionmaker()
    s: Session = g.rdf_session
    return s


def close_session(_exc: BaseException | None = None) -> None:
    s = g.pop("rdf_session", None)
    if s is not None:
        s.close()


def fund_currency() -> str:
    """The fund's functional currency (its settings, from the reference snapshot)."""
    return functional_currency(db_session())
