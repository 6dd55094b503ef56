"""The functional currency is a fund setting (default KHR), chosen before anything is posted:
a whole fund kept in USD values a riel receipt's lots in dollars, exchanges at the bank,
moves stock at dollar values, and its balance sheet converted into USD balances to the cent.
Setting it after a posting, or to a currency the fund does not keep, is refused and changes
nothing."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ledger.errors import Conflict, InvalidRequest
from ledger.settings import functional_currency, set_functional_currency
from ledger.tables import FundSetting
from tests.fx.conftest import balance, postings_of, rate, snapshot
from tests.support import get, ok, post


def _set(app: Flask, code: str) -> bool:
    with app.extensions["rdf_db"].session() as s:
        done = set_functional_currency(s, code, by="test")
        s.commit()
        return done.changed


def _functional(app: Flask) -> str:
    with app.extensions["rdf_db"].session() as s:
        return functional_currency(s)


def test_the_default_is_riel_and_the_same_currency_again_changes_nothing(fund: Flask) -> None:
    assert _functional(fund) == "KHR"
    assert _set(fund, "KHR") is False
    with fund.extensions["rdf_db"].session() as s:
        assert s.scalar(select(FundSetting.set_by)) is None


def test_a_fund_kept_in_dollars(
    fund: Flask, client: FlaskClient, fin: dict[str, str], aud: dict[str, str]
) -> None:
    assert _set(fund, "usd") is True
    assert _functional(fund) == "USD"
    rate(client, fin, "2026-10-01", "4100")
    # a local wholesaler's riel invoice: 410,000 KHR at 4100 -> the lot is worth 100.00 USD
    loc = ok(
        post(
            client,
            "/stock/receipts",
            fin,
            {
                "supplier": "LOC",
                "location": "CENTRAL",
                "date": "2026-10-02",
                "currency": "KHR",
                "lines": [
                    {
                        "medicine": "MET500",
                        "lot": "K1",
                        "expiry": "2028-03-31",
                        "quantity": 1000,
                        "total_cost": "410000",
                    }
                ],
            },
        )
    )
    assert postings_of(fund, loc["entry_id"]) == sorted(
        [
            ("1400-CENTRAL", "MET500", 1000),
            ("9000", "MET500", -1000),
            ("1400-CENTRAL", "USD", 10_000),
            ("9100", "USD", -10_000),
            ("9100", "KHR", 410_000),
            ("2000-LOC", "KHR", -410_000),
        ]
    )
    # an importer's dollar invoice needs no conversion in a dollar fund (default currency)
    imp = ok(
        post(
            client,
            "/stock/receipts",
            fin,
            {
                "supplier": "IMP",
                "location": "CENTRAL",
                "date": "2026-10-02",
                "lines": [
                    {
                        "medicine": "AML5",
                        "lot": "U1",
                        "expiry": "2028-03-31",
                        "quantity": 500,
                        "total_cost": "250.00",
                    }
                ],
            },
        )
    )
    assert ("2000-IMP", "USD", -25_000) in postings_of(fund, imp["entry_id"])
    assert not any(a == "9100" for a, _c, _v in postings_of(fund, imp["entry_id"]))
    # its freight billed in riel, converted once into dollars: 20,500 KHR = 5.00 USD
    landed = ok(
        post(
            client,
            f"/stock/receipts/{imp['id']}/landed-costs",
            fin,
            {
                "date": "2026-10-03",
                "counterparty": "FWD",
                "amount": "20500",
                "currency": "KHR",
                "description": "Port handling",
            },
        )
    )
    assert landed["functional_currency"] == "USD" and landed["functional_amount"] == "5.00"
    assert landed["shares"][0]["value_after"] == "255.00"
    # an exchange at the bank
    ok(
        post(
            client,
            "/fx/exchanges",
            fin,
            {
                "date": "2026-10-03",
                "sell": {"currency": "KHR", "amount": "4100000"},
                "buy": {"currency": "USD", "amount": "1000.00"},
            },
        )
    )
    # stock moves at its dollar value: 100 of the 1000 units worth 100.00 USD = 10.00 USD
    ok(
        post(
            client,
            "/stock/transfers",
            fin,
            {
                "from": "CENTRAL",
                "to": "P1",
                "date": "2026-10-04",
                "lines": [{"medicine": "MET500", "quantity": 100}],
            },
        )
    )
    assert balance(fund, "1400-P1", "USD") == 1_000
    assert balance(fund, "1400-P1", "KHR") == 0
    on_hand = ok(get(client, "/stock/on-hand?location=P1", aud), 200)
    rows = on_hand["items"] if isinstance(on_hand, dict) else on_hand
    assert {(r["currency"], r["value"]) for r in rows} == {("USD", "10.00")}
    # the balance sheet in dollars at a later rate balances to the cent
    rate(client, fin, "2026-10-31", "4087.5")
    out = ok(get(client, "/reports/balance-sheet?as_of=2026-10-31&in=USD", aud), 200)
    (sheet,) = out["currencies"]
    assert sheet["balanced"] is True and out["in"] == "USD"
    assets = {a["account"]: a["amount"] for a in sheet["assets"]}
    # 1400: 100.00 + 255.00 USD, no conversion; 1020 +1000.00; 1010 -4,100,000 KHR at 4087.5
    assert assets["1400-CENTRAL"] == "345.00" and assets["1400-P1"] == "10.00"
    assert assets["1020"] == "1000.00" and assets["1010"] == "-1003.06"
    total = int(sheet["total_assets"].replace(".", ""))
    rest = sum(
        int(sheet[k].replace(".", ""))
        for k in ("total_liabilities", "total_equity", "exchange_differences")
    )
    assert total == rest
    # and the functional currency is now fixed
    before = snapshot(fund)
    with fund.extensions["rdf_db"].session() as s:
        with pytest.raises(Conflict) as refused:
            set_functional_currency(s, "KHR", by="test")
        s.rollback()
    assert "USD" in refused.value.detail and "already hold entries" in refused.value.detail
    assert _functional(fund) == "USD" and snapshot(fund) == before


def test_an_unknown_currency_is_refused(fund: Flask) -> None:
    with fund.extensions["rdf_db"].session() as s:
        with pytest.raises(InvalidRequest) as refused:
            set_functional_currency(s, "EUR", by="test")
        s.rollback()
    assert refused.value.errors == {"functional_currency": ["one of KHR, USD"]}
    assert _functional(fund) == "KHR"


def test_the_flask_command_sets_it_once(
    fund: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    runner = fund.test_cli_runner()
    out = runner.invoke(args=["set-functional-currency", "USD"])
    assert out.exit_code == 0 and "now USD" in out.output
    rate(client, fin, "2026-10-01", "4100")
    ok(
        post(
            client,
            "/fx/exchanges",
            fin,
            {
                "date": "2026-10-03",
                "sell": {"currency": "KHR", "amount": "4100000"},
                "buy": {"currency": "USD", "amount": "1000.00"},
            },
        )
    )
    out = runner.invoke(args=["set-functional-currency", "KHR"])
    assert out.exit_code != 0 and "cannot become KHR" in out.output
    assert _functional(fund) == "USD"
