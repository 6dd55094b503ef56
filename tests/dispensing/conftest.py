"""A small fund built through the API, ready for a pharmacist's day (DESIGN.md's worked
example): 1,000 MET500 lot L1 received for 35,000 KHR, 400 of them at pharmacy P1, priced
at 50 KHR, a HEF scheme at 50 %, patient M-00042 enrolled, a consignment contract with a
10 % fee."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from api.auth import create_user
from app import attach_database
from ledger import clock
from tests.conftest import (
    BACKENDS,
    RUN_ID,
    _admin_engine,
    _pg_url,
    require_postgres,
    seeded_copy,
)
from tests.support import bearer, make_app


@dataclass
class Fund:
    client: FlaskClient
    finance: dict[str, str]
    auditor: dict[str, str]
    pharmacist: dict[str, str]
    other_pharmacist: dict[str, str]

    def post(
        self, path: str, body: Any, headers: dict[str, str] | None = None, expect: int | None = 201
    ) -> Any:
        r = self.client.post(f"/api/v1{path}", json=body, headers=headers or self.finance)
        if expect is not None:
            assert r.status_code == expect, (path, r.status_code, r.get_json())
        return r.get_json()

    def get(self, path: str, headers: dict[str, str] | None = None, expect: int = 200) -> Any:
        r = self.client.get(f"/api/v1{path}", headers=headers or self.finance)
        assert r.status_code == expect, (path, r.status_code, r.get_json())
        return r.get_json()

    def balance(self, account: str, commodity: str = "KHR", lot: str | None = None) -> int:
        data = self.get(f"/accounts/{account}/balance")
        return sum(
            int(b["amount"].replace(".", ""))
            for b in data["balances"]
            if b["commodity"] == commodity and (lot is None or b["lot"] == lot)
        )

    def dispense(
        self,
        items: list[tuple[str, int]],
        *,
        patient: str | None = "M-00042",
        date: str = "2026-10-14",
        ref: str | None = None,
        pharmacy: str = "P1",
        headers: dict[str, str] | None = None,
        expect: int | None = 201,
    ) -> Any:
        body: dict[str, Any] = {
            "pharmacy": pharmacy,
            "patient": patient,
            "service_date": date,
            "items": [{"medicine": m, "quantity": q} for m, q in items],
        }
        if ref is not None:
            body["client_ref"] = ref
        return self.post("/dispensings", body, headers or self.pharmacist, expect)


@pytest.fixture
def fund(
    request: pytest.FixtureRequest,
    app: Flask,
    client: FlaskClient,
    tokens: dict[str, str],
    database_url: str,
) -> Iterator[Fund]:
    yield from seeded_fund(request, app, client, tokens, database_url)


def _seed_fund(url: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The worked example built through the API on ``url``, with the ``tokens`` users;
    returns their tokens and the two pharmacists' headers."""
    application = make_app(url)
    try:
        with application.extensions["rdf_db"].session() as s:
            toks = {
                role: create_user(s, f"test-{role}", role)[1]
                for role in ("admin", "finance", "auditor")
            }
            s.commit()
        f = build_fund(application, application.test_client(), toks)
        return toks, f.pharmacist, f.other_pharmacist
    finally:
        application.extensions["rdf_db"].dispose()


def seeded_fund(
    request: pytest.FixtureRequest,
    app: Flask,
    client: FlaskClient,
    tokens: dict[str, str],
    database_url: str,
) -> Iterator[Fund]:
    """The body of the ``fund`` fixtures: DESIGN.md's worked example, built through the API
    once per run, backend and pinned clock (``seeded_copy``); the app is pointed at a fresh
    copy and ``tokens`` (the same dict the test sees) holds the copy's tokens."""
    pinned = clock.now().isoformat() if clock._pinned is not None else "live"
    key = "fund_" + "".join(ch for ch in pinned if ch.isalnum())
    with seeded_copy(request, database_url, key, _seed_fund) as (url, seeded):
        toks, pharmacist, other = seeded
        app.extensions["rdf_db"].dispose()
        attach_database(app, url)
        tokens.clear()
        tokens.update(toks)
        yield Fund(client, bearer(toks["finance"]), bearer(toks["auditor"]), pharmacist, other)
        app.extensions["rdf_db"].dispose()


def build_fund(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> Fund:
    """DESIGN.md's worked example through the API (the body of the ``fund`` fixture)."""
    fin = bearer(tokens["finance"])
    f = Fund(client, fin, bearer(tokens["auditor"]), {}, {})
    f.post(
        "/medicines",
        {
            "code": "MET500",
            "name": "Metformin",
            "strength": "500 mg",
            "form": "tablet",
            "unit": "tablet",
        },
    )
    f.post(
        "/medicines",
        {
            "code": "AML5",
            "name": "Amlodipine",
            "strength": "5 mg",
            "form": "tablet",
            "unit": "tablet",
        },
    )
    f.post("/suppliers", {"code": "S1", "name": "Supplier One"})
    for code in ("P1", "P2"):
        f.post(
            "/pharmacies",
            {
                "code": code,
                "name": f"Pharmacy {code}",
                "province": "Takeo",
                "district": "Doun Kaev",
            },
        )
    f.post(
        "/stock/receipts",
        {
            "supplier": "S1",
            "location": "CENTRAL",
            "date": "2026-10-01",
            "lines": [
                {
                    "medicine": "MET500",
                    "lot": "L1",
                    "expiry": "2028-03-31",
                    "quantity": 1000,
                    "total_cost": "35000",
                },
                {
                    "medicine": "AML5",
                    "lot": "A1",
                    "expiry": "2028-06-30",
                    "quantity": 300,
                    "total_cost": "9000",
                },
            ],
        },
    )
    f.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P1",
            "date": "2026-10-02",
            "lines": [
                {"medicine": "MET500", "quantity": 400},
                {"medicine": "AML5", "quantity": 100},
            ],
        },
    )
    f.post("/price-lists", {"code": "PL1", "currency": "KHR"})
    f.post(
        "/price-lists/PL1/versions",
        {
            "effective_from": "2026-01-01",
            "items": [
                {"medicine": "MET500", "unit_price": "50"},
                {"medicine": "AML5", "unit_price": "120"},
            ],
        },
    )
    f.post(
        "/subsidy-schemes",
        {"code": "HEF", "name": "Health Equity Fund", "payer": "external", "percent": "50"},
    )
    f.post(
        "/patients",
        {"member_code": "M-00042", "enrolments": [{"scheme": "HEF", "valid_from": "2026-01-01"}]},
    )
    f.post("/patients", {"member_code": "M-00043", "enrolments": []})
    for code in ("P1", "P2"):
        f.post(
            f"/pharmacies/{code}/contracts",
            {
                "valid_from": "2026-01-01",
                "model": "consignment",
                "price_list": "PL1",
                "fee": {"kind": "percent", "value": "10"},
            },
        )
    with app.extensions["rdf_db"].session() as s:
        _u, t1 = create_user(s, "pharmacist-p1", "pharmacist", "P1")
        _u, t2 = create_user(s, "pharmacist-p2", "pharmacist", "P2")
        s.commit()
    f.pharmacist = bearer(t1)
    f.other_pharmacist = bearer(t2)
    return f


@pytest.fixture
def make_fund(fund: Fund) -> Callable[[], Fund]:
    return lambda: fund


# --------------------------------------------------------------------------- fund templates
#
# Building the fund through the API costs some twenty requests. The rule tests, the state
# machine and the races each need a fresh one, so the fund is built once per run and backend
# into a template (a SQLite file, a PostgreSQL template database) and each test gets a copy,
# with the same users and tokens.


@dataclass(frozen=True)
class FundTemplate:
    where: str  # the SQLite file, or the PostgreSQL database name
    headers: dict[str, dict[str, str]]  # finance, auditor, pharmacist, other_pharmacist


def _build_template(url: str) -> dict[str, dict[str, str]]:
    application = make_app(url)
    try:
        with application.extensions["rdf_db"].session() as s:
            toks = {
                role: create_user(s, f"test-{role}", role)[1]
                for role in ("admin", "finance", "auditor")
            }
            s.commit()
        f = build_fund(application, application.test_client(), toks)
        return {
            "finance": f.finance,
            "auditor": f.auditor,
            "pharmacist": f.pharmacist,
            "other_pharmacist": f.other_pharmacist,
        }
    finally:
        application.extensions["rdf_db"].dispose()


@pytest.fixture(scope="session")
def sqlite_fund_template(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> FundTemplate:
    path = tmp_path_factory.mktemp("fund") / "fund.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return FundTemplate(str(path), _build_template(f"sqlite:///{path}"))


@pytest.fixture(scope="session")
def pg_fund_template(pg_template: str) -> Iterator[FundTemplate]:
    name = f"{pg_template}_fund"
    eng = _admin_engine()
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    try:
        yield FundTemplate(name, _build_template(_pg_url(name)))
    finally:
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


def sqlite_fund_copy(template: FundTemplate, directory: Path) -> str:
    """A fresh copy of the SQLite fund; its URL."""
    path = directory / f"fund-{uuid.uuid4().hex[:8]}.sqlite3"
    shutil.copyfile(template.where, path)
    return f"sqlite:///{path}"


@contextmanager
def pg_fund_copy(template: FundTemplate) -> Iterator[str]:
    """A fresh PostgreSQL copy of the fund (dropped afterwards); its URL."""
    require_postgres()
    name = f"rdf_t_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    eng = _admin_engine()
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.where}"'))
    try:
        yield _pg_url(name)
    finally:
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


@pytest.fixture
def pg_fund_url(pg_fund_template: FundTemplate) -> Iterator[str]:
    with pg_fund_copy(pg_fund_template) as url:
        yield url


def fund_on(application: Flask, template: FundTemplate) -> Fund:
    h = template.headers
    return Fund(
        application.test_client(),
        h["finance"],
        h["auditor"],
        h["pharmacist"],
        h["other_pharmacist"],
    )


@pytest.fixture(params=BACKENDS)
def fresh_fund(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fund]:
    """The ``fund`` of DESIGN.md's worked example, copied from a template (fast), on SQLite
    and on PostgreSQL when configured."""
    if request.param == "postgres":
        template: FundTemplate = request.getfixturevalue("pg_fund_template")
        url: str = request.getfixturevalue("pg_fund_url")
    else:
        template = request.getfixturevalue("sqlite_fund_template")
        url = sqlite_fund_copy(template, tmp_path)
    application = make_app(url)
    try:
        yield fund_on(application, template)
    finally:
        application.extensions["rdf_db"].dispose()


@pytest.fixture
def pg_fund(request: pytest.FixtureRequest) -> Iterator[tuple[Flask, Fund]]:
    """PostgreSQL only (like ``pg_app``): an app on a fresh copy of the fund, and the fund.
    Skipped where PostgreSQL is not configured, failed where it is required."""
    require_postgres()
    template: FundTemplate = request.getfixturevalue("pg_fund_template")
    application = make_app(request.getfixturevalue("pg_fund_url"))
    try:
        yield application, fund_on(application, template)
    finally:
        application.extensions["rdf_db"].dispose()
