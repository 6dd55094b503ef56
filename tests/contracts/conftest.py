"""Fixtures for the contracts tests: reference rows (medicines, pharmacies) written directly,
a finance/auditor/pharmacist client helper, and a small world of price lists, schemes,
patients and contracts built through the API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from api.auth import create_user
from tests.support import bearer

MEDICINES = ("MET500", "AML5", "ENA10", "GLI80")
PHARMACIES = ("P1", "P2")


@dataclass
class Api:
    app: Flask
    client: FlaskClient
    tokens: dict[str, str]

    def call(self, method: str, path: str, role: str = "finance", **kw: Any) -> Any:
        headers = {**bearer(self.tokens[role]), **kw.pop("headers", {})}
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kw)

    def get(self, path: str, role: str = "finance", **kw: Any) -> Any:
        return self.call("GET", path, role, **kw)

    def post(self, path: str, body: Any, role: str = "finance", **kw: Any) -> Any:
        return self.call("POST", path, role, json=body, **kw)

    def ok(self, path: str, body: Any, status: int = 201) -> dict[str, Any]:
        r = self.post(path, body)
        assert r.status_code == status, r.get_json()
        out: dict[str, Any] = r.get_json()
        return out


def add_reference_rows(app: Flask) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with app.extensions["rdf_db"].session() as s:
        for code in MEDICINES:
            s.execute(
                text(
                    "INSERT INTO commodities (code, kind, exponent, name) "
                    "VALUES (:c, 'medicine', 0, :c)"
                ),
                {"c": code},
            )
            s.execute(
                text(
                    "INSERT INTO medicines (code, name, strength, form, unit, created_at) "
                    "VALUES (:c, :c, '1', 'tablet', 'tablet', :t)"
                ),
                {"c": code, "t": now},
            )
        for code in PHARMACIES:
            s.execute(
                text(
                    "INSERT INTO pharmacies (code, name, province, district, created_at) "
                    "VALUES (:c, :c, 'Phnom Penh', 'Daun Penh', :t)"
                ),
                {"c": code, "t": now},
            )
        s.commit()


@pytest.fixture
def api(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> Iterator[Api]:
    add_reference_rows(app)
    with app.extensions["rdf_db"].session() as s:
        for code in PHARMACIES:
            _u, tok = create_user(s, f"pharmacist-{code}", "pharmacist", code)
            tokens[f"pharmacist-{code}"] = tok
        s.commit()
    yield Api(app, client, tokens)


def count_rows(app: Flask, table: str) -> int:
    with app.extensions["rdf_db"].session() as s:
        return int(s.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def snapshot(app: Flask) -> dict[str, int]:
    """Row counts of every contracts table (and accounts): "nothing changed" checks."""
    return {
        t: count_rows(app, t)
        for t in (
            "price_lists",
            "price_list_versions",
            "price_list_items",
            "subsidy_schemes",
            "scheme_medicines",
            "patients",
            "enrolments",
            "contracts",
            "accounts",
        )
    }


@pytest.fixture
def world(api: Api) -> Api:
    """Price list RETAIL (KHR) with versions from 2026-01-01 and 2026-03-01, a wholesale
    list, schemes HEF (external, 100 %) and NGO50 (fund, 50 %, cap 20000/month, rounding
    100), patients M-1 (HEF), M-2 (NGO50), M-3 (none), contract of P1 (consignment,
    10 % fee) from 2026-01-01."""
    api.ok("/price-lists", {"code": "RETAIL", "currency": "KHR"})
    api.ok("/price-lists", {"code": "WHOLE", "currency": "KHR"})
    api.ok(
        "/price-lists/RETAIL/versions",
        {
            "effective_from": "2026-01-01",
            "items": [
                {"medicine": "MET500", "unit_price": "50"},
                {"medicine": "AML5", "unit_price": "120.5"},
                {"medicine": "ENA10", "unit_price": "0.125"},
            ],
        },
    )
    api.ok(
        "/price-lists/RETAIL/versions",
        {
            "effective_from": "2026-03-01",
            "items": [
                {"medicine": "MET500", "unit_price": "60"},
                {"medicine": "AML5", "unit_price": "120.5"},
            ],
        },
    )
    api.ok(
        "/price-lists/WHOLE/versions",
        {"effective_from": "2026-01-01", "items": [{"medicine": "MET500", "unit_price": "35"}]},
    )
    api.ok(
        "/subsidy-schemes",
        {"code": "HEF", "name": "Health Equity Fund", "payer": "external", "percent": 100},
    )
    api.ok(
        "/subsidy-schemes",
        {
            "code": "NGO50",
            "name": "NGO half",
            "payer": "fund",
            "percent": "50",
            "cap_per_patient_month": "20000",
            "cash_rounding": "100",
        },
    )
    api.ok(
        "/patients",
        {"member_code": "M-1", "enrolments": [{"scheme": "HEF", "valid_from": "2026-01-01"}]},
    )
    api.ok(
        "/patients",
        {
            "member_code": "M-2",
            "enrolments": [
                {"scheme": "NGO50", "valid_from": "2026-01-01", "valid_to": "2026-02-28"}
            ],
        },
    )
    api.ok("/patients", {"member_code": "M-3", "enrolments": []})
    api.ok(
        "/pharmacies/P1/contracts",
        {
            "valid_from": "2026-01-01",
            "model": "consignment",
            "price_list": "RETAIL",
            "fee": {"kind": "percent", "value": "10"},
        },
    )
    return api
