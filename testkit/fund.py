"""An application on a given database, and the people and pharmacy a run needs in it."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from api.auth import create_user
from app import create_app
from ledger import clock
from ledger.tables import Account


def make_app(url: str) -> Flask:
    """The application in testing mode on the database at ``url``."""
    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test-secret"})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_user_token(
    app: Flask, name: str, role: str, pharmacy: str | None = None, **kw: Any
) -> str:
    """A user of ``role`` (of ``pharmacy`` for a pharmacist) and its API token."""
    with app.extensions["rdf_db"].session() as s:
        _u, token = create_user(s, name, role, pharmacy, **kw)
        s.commit()
    return token


def create_pharmacy(app: Flask, client: FlaskClient, finance: str, code: str) -> None:
    """A pharmacy through ``POST /pharmacies`` when that route exists, else its
    sub-accounts directly (all the ledger core needs to know a pharmacy)."""
    r = client.post(
        "/api/v1/pharmacies",
        json={
            "code": code,
            "name": f"Pharmacy {code}",
            "province": "Kandal",
            "district": "Ta Khmau",
        },
        headers=bearer(finance),
    )
    if r.status_code in (200, 201):
        return
    with app.extensions["rdf_db"].session() as s:
        for parent, name, typ, carries, inv in (
            ("1200", "Due from pharmacy", "asset", "money", False),
            ("1400", "Medicine inventory", "asset", "money+units", True),
            ("2100", "Due to pharmacy", "liability", "money", False),
        ):
            if s.get(Account, f"{parent}-{code}") is None:
                s.add(
                    Account(
                        code=f"{parent}-{code}",
                        parent=parent,
                        name=f"{name} {code}",
                        type=typ,
                        carries=carries,
                        is_header=False,
                        is_inventory=inv,
                        pharmacy=code,
                        created_at=clock.now(),
                    )
                )
        s.commit()
