"""Reports in one currency (?in=KHR|USD): every balance converted at the as-of rate, 9100
shown as exchange differences, the converted books balance to the unit; CSV, XLSX and PDF
follow; the Beancount export carries the rates as prices and still checks."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.fx.conftest import rate
from tests.fx.test_fx_events import usd_receipt
from tests.support import get, ok, post


def _month(client: FlaskClient, fin: dict[str, str]) -> None:
    rate(client, fin, "2026-10-01", "4100")
    ok(
        post(
            client,
            "/payments",
            fin,
            {
                "date": "2026-10-01",
                "direction": "in",
                "counterparty": {"kind": "donor", "code": "Friends"},
                "amount": "5000.00",
                "currency": "USD",
                "reference": "GRANT-1",
            },
        )
    )
    ok(
        post(
            client,
            "/fx/exchanges",
            fin,
            {
                "date": "2026-10-03",
                "sell": {"currency": "USD", "amount": "1000.00"},
                "buy": {"currency": "KHR", "amount": "4080000"},
            },
        )
    )
    usd_receipt(client, fin, cost="250.00")
    rate(client, fin, "2026-10-31", "4120.25")


def test_the_balance_sheet_in_riel_balances_with_exchange_differences(
    fund: Flask, client: FlaskClient, fin: dict[str, str], aud: dict[str, str]
) -> None:
    _month(client, fin)
    per_currency = ok(get(client, "/reports/balance-sheet?as_of=2026-10-31", aud), 200)
    assert {c["currency"] for c in per_currency["currencies"]} == {"KHR", "USD"}
    out = ok(get(client, "/reports/balance-sheet?as_of=2026-10-31&in=KHR", aud), 200)
    assert out["in"] == "KHR" and out["rate"] == "4120.25" and out["rate_date"] == "2026-10-31"
    (sheet,) = out["currencies"]
    assert sheet["balanced"] is True
    lines = {a["account"]: a["amount"] for a in sheet["assets"]}
    # USD bank: 5000 - 1000 = 4000.00 USD at 4120.25 = 16,481,000; KHR bank 4,080,000
    assert lines["1020"] == "16481000" and lines["1010"] == "4080000"
    assert lines["1400-CENTRAL"] == "1025000"
    liab = {a["account"]: a["amount"] for a in sheet["liabilities"]}
    assert liab["2000-IMP"] == "1030063"  # 250.00 USD at 4120.25 = 1,030,062.5 -> up
    eq = {a["account"]: a["amount"] for a in sheet["equity"]}
    assert eq["3000"] == "20601250"
    total = int(sheet["total_assets"])
    assert total == int(sheet["total_liabilities"]) + int(sheet["total_equity"]) + int(
        sheet["exchange_differences"]
    )
    assert total == 16_481_000 + 4_080_000 + 1_025_000
    csv = client.get("/api/v1/reports/balance-sheet.csv?as_of=2026-10-31&in=KHR", headers=aud)
    if csv.status_code == 404:  # suffix routes are not everywhere: negotiate instead
        csv = client.get(
            "/api/v1/reports/balance-sheet?as_of=2026-10-31&in=KHR",
            headers=dict(aud, Accept="text/csv"),
        )
    assert csv.status_code == 200 and "Exchange differences" in csv.get_data(as_text=True)


def test_the_trial_balance_in_each_currency_balances_to_the_unit(
    fund: Flask, client: FlaskClient, fin: dict[str, str], aud: dict[str, str]
) -> None:
    _month(client, fin)
    for into, exp in (("KHR", 0), ("USD", 2)):
        out = ok(get(client, f"/reports/trial-balance?as_of=2026-10-31&in={into}", aud), 200)
        assert out["balanced"] is True and out["in"] == into
        assert out["total_debit"] == out["total_credit"]
        names = {r["account"]: r["name"] for r in out["rows"]}
        assert names.get("9100") == "Exchange differences"
        assert all(r["commodity"] == into for r in out["rows"])
        assert "." in out["total_debit"] if exp else "." not in out["total_debit"]
    pdf = client.get("/api/v1/reports/trial-balance.pdf?as_of=2026-10-31&in=KHR", headers=aud)
    assert pdf.status_code == 200 and pdf.data[:4] == b"%PDF"
    xlsx = client.get(
        "/api/v1/reports/trial-balance?as_of=2026-10-31&in=KHR",
        headers=dict(
            aud, Accept="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        ),
    )
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_income_statement_and_fund_health_in_one_currency(
    fund: Flask, client: FlaskClient, fin: dict[str, str], aud: dict[str, str]
) -> None:
    _month(client, fin)
    inc = ok(
        get(client, "/reports/income-statement?from=2026-10-01&to=2026-10-31&in=USD", aud), 200
    )
    assert inc["in"] == "USD" and [c["currency"] for c in inc["currencies"]] == ["USD"]
    health = ok(get(client, "/reports/fund-health?from=2026-10-01&to=2026-10-31&in=KHR", aud), 200)
    assert health["in"] == "KHR"
    figures = health["figures"]
    assert figures["capital_contributed"] == "20601250"  # 5000.00 USD at 4120.25
    assert figures["inventory_value"] == "1025000"
    # equity now = converted assets - liabilities
    assert int(figures["equity_now"]) == 16_481_000 + 4_080_000 + 1_025_000 - 1_030_063
    assert "exchange_differences" in figures


def test_reports_in_a_currency_need_a_rate_and_a_kept_currency(
    fund: Flask, client: FlaskClient, aud: dict[str, str]
) -> None:
    r = get(client, "/reports/balance-sheet?as_of=2026-10-31&in=KHR", aud)
    assert r.status_code == 422 and "in" in r.get_json()["errors"]
    r = get(client, "/reports/trial-balance?as_of=2026-10-31&in=EUR", aud)
    assert r.status_code == 422 and "in" in r.get_json()["errors"]
    r = get(client, "/reports/trial-balance?as_of=2026-10-31&in=KHR&commodity=KHR", aud)
    assert r.status_code == 422


def test_the_beancount_export_carries_rates_as_prices_and_checks(
    fund: Flask, client: FlaskClient, fin: dict[str, str], aud: dict[str, str], tmp_path: object
) -> None:
    from pathlib import Path

    from beancount import loader

    _month(client, fin)
    r = client.get("/api/v1/exports/beancount", headers=aud)
    if r.status_code == 404:
        r = client.get("/api/v1/export/beancount", headers=aud)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    text = r.get_data(as_text=True)
    assert "2026-10-01 price USD" in text and "4100 KHR" in text
    assert "2026-10-31 price USD" in text and "4120.25 KHR" in text
    path = Path(str(tmp_path)) / "books.beancount"
    path.write_text(text)
    _entries, errors, _options = loader.load_file(str(path))
    assert errors == []
