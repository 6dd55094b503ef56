"""The journal exported as Beancount: bean-check accepts it and Beancount's own loader
computes the same balances as the API, for the whole history and for a range that starts
mid-way (which must check on its own)."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from beancount.core import data
from flask.testing import FlaskClient

from ledger.beancount import account_name
from tests.reports.conftest import ok
from tests.support import bearer

BEAN_CHECK = Path(sys.executable).parent / "bean-check"


def export(client: FlaskClient, h: dict[str, str], path: Path, **query: str) -> str:
    r = client.get("/api/v1/exports/beancount", query_string=query, headers=h)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert r.is_streamed
    text = r.get_data(as_text=True)
    path.write_text(text, encoding="utf-8")
    return text


def bean_check(path: Path) -> None:
    result = subprocess.run(
        [str(BEAN_CHECK), str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def beancount_balances(path: Path) -> dict[tuple[str, str], Decimal]:
    entries, errors, _options = loader.load_file(str(path))
    assert errors == []
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for e in entries:
        if isinstance(e, data.Transaction):
            for p in e.postings:
                units = p.units
                assert units is not None and units.number is not None
                out[(p.account, units.currency)] += units.number
    return {k: v for k, v in out.items() if v}


def api_balances(
    client: FlaskClient, h: dict[str, str], as_of: str | None = None
) -> dict[tuple[str, str], Decimal]:
    """Every leaf account's balance per commodity, as the API answers it."""
    accounts: list[dict[str, Any]] = ok(
        client.get("/api/v1/accounts", query_string={"limit": 1000}, headers=h), 200
    )["items"]
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for a in accounts:
        if a.get("is_header"):
            continue
        q = {"as_of": as_of} if as_of else {}
        bal = ok(
            client.get(f"/api/v1/accounts/{a['code']}/balance", query_string=q, headers=h), 200
        )
        for b in bal["balances"]:
            out[(account_name(a["code"], a["type"]), b["commodity"])] += Decimal(b["amount"])
    return {k: v for k, v in out.items() if v}


def test_a_month_exported_passes_bean_check_and_beancount_agrees_with_every_api_balance(
    client: FlaskClient, auditor: dict[str, str], month: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "all.beancount"
    text = export(client, auditor, path)
    bean_check(path)
    ours = api_balances(client, auditor)
    assert beancount_balances(path) == ours
    assert ours[("Assets:1020", "USD")] == Decimal("1230.16")
    assert ours[("Assets:1400-P1", "MET500")] > 0
    # month-end assertions for October and November (the last entry's month), lots as metadata
    assert "2026-11-01 balance Assets:1010" in text
    assert "2026-12-01 balance Assets:1010" in text
    assert 'lot: "L1"' in text and 'lot: "MET500:L1"' in text
    assert "1250.50 USD" in text and "-19.99 USD" in text


def test_an_export_from_mid_range_checks_on_its_own_and_ends_on_the_api_balances(
    client: FlaskClient, finance: dict[str, str], month: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "mid.beancount"
    text = export(client, finance, path, **{"from": "2026-10-15", "to": "2026-10-31"})
    bean_check(path)
    assert "Opening balances KHR" in text and "Opening balances USD" in text
    assert "Opening balances MET500" in text
    assert "November grant" not in text and "Donor grant in USD" not in text
    assert "2026-11-01 balance" in text
    opening_account = "Equity:Opening-Balances"
    theirs = {k: v for k, v in beancount_balances(path).items() if k[0] != opening_account}
    assert theirs == api_balances(client, finance, as_of="2026-10-31")


def test_an_export_ending_mid_month_asserts_the_balances_on_the_day_after_its_end(
    client: FlaskClient, finance: dict[str, str], month: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "to.beancount"
    text = export(client, finance, path, to="2026-10-12")
    bean_check(path)
    assert "2026-10-13 balance Assets:1010" in text
    assert "Supplier S1 paid" in text and "Bank charges" not in text
    assert beancount_balances(path) == api_balances(client, finance, as_of="2026-10-12")


def test_an_empty_range_is_still_a_file_bean_check_accepts(
    client: FlaskClient, finance: dict[str, str], month: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "empty.beancount"
    export(client, finance, path, **{"from": "2026-11-10", "to": "2026-11-20"})
    bean_check(path)


def test_a_range_ending_before_it_starts_is_refused(
    client: FlaskClient, finance: dict[str, str]
) -> None:
    r = client.get(
        "/api/v1/exports/beancount",
        query_string={"from": "2026-10-15", "to": "2026-10-01"},
        headers=finance,
    )
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert "to" in r.get_json()["errors"]


@pytest.mark.parametrize("to", ["3000-01-01", "9999-12-31"])
def test_a_range_ending_after_2999_is_refused_before_anything_is_streamed(
    client: FlaskClient, finance: dict[str, str], to: str
) -> None:
    # It was a 200 whose stream broke off at the month-end assertions of year 10000.
    r = client.get("/api/v1/exports/beancount", query_string={"to": to}, headers=finance)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert "to" in r.get_json()["errors"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/exports/beancount",
        "/api/v1/reports/trial-balance.pdf",
        "/api/v1/statements/accounts/1010",
    ],
)
def test_pharmacists_may_not_export_the_journal_or_read_ledger_documents(
    app: Any, client: FlaskClient, finance: dict[str, str], path: str
) -> None:
    from api.auth import create_user

    ok(
        client.post(
            "/api/v1/pharmacies",
            json={"code": "P9", "name": "P nine", "province": "Takeo", "district": "Bati"},
            headers=finance,
        )
    )
    with app.extensions["rdf_db"].session() as s:
        _u, token = create_user(s, "pharmacist-p9", "pharmacist", "P9")
        s.commit()
    assert client.get(path, headers=bearer(token)).status_code == 403
    assert client.get(path).status_code == 401


def test_the_cli_writes_the_same_file_as_the_api_for_the_same_range(
    app: Any, client: FlaskClient, finance: dict[str, str], month: dict[str, Any], tmp_path: Path
) -> None:
    via_api = export(
        client, finance, tmp_path / "api.beancount", **{"from": "2026-10-01", "to": "2026-10-31"}
    )
    path = tmp_path / "cli.beancount"
    result = app.test_cli_runner().invoke(
        args=[
            "export-beancount",
            "--to",
            str(path),
            "--from",
            "2026-10-01",
            "--to-date",
            "2026-10-31",
        ]
    )
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == via_api
    bean_check(path)


def test_the_cli_refuses_an_end_before_the_start(app: Any, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "export-beancount",
            "--to",
            str(tmp_path / "x"),
            "--from",
            "2026-10-02",
            "--to-date",
            "2026-10-01",
        ]
    )
    assert result.exit_code != 0 and "--to-date" in result.output


def test_codes_beancount_cannot_read_are_refused_before_anything_is_streamed(
    app: Any, client: FlaskClient, finance: dict[str, str]
) -> None:
    from ledger import clock
    from ledger.tables import Account, Commodity

    with app.extensions["rdf_db"].session() as s:
        s.add(Commodity(code="met500", kind="medicine", exponent=0, name="lower case"))
        s.add(
            Account(
                code="1200-P_1",
                parent="1200",
                name="bad",
                type="asset",
                carries="money",
                is_header=False,
                is_inventory=False,
                currency=None,
                pharmacy="P_1",
                created_at=clock.now(),
            )
        )
        s.commit()
    r = client.get("/api/v1/exports/beancount", headers=finance)
    assert r.status_code == 409 and r.mimetype == "application/problem+json"
    errors = r.get_json()["errors"]
    assert errors["accounts"][0].startswith("1200-P_1:")
    assert errors["commodities"][0].startswith("met500: A commodity code is 2 to 24")
