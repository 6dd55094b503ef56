"""Financial reports: aged balances at the bucket boundaries, a balance sheet that balances,
the income statement, and fund health checked against figures computed by hand."""

from __future__ import annotations

from datetime import date

from flask import Flask
from flask.testing import FlaskClient

from ledger.queries import TrialBalanceRow
from reports.fund import (
    FundFigures,
    balance_sheet_sections,
    fund_ratios,
    months_in_range,
    ratio_text,
)
from reports.tabular import parse_csv_sections
from tests.invoices.conftest import journal, pay

# --------------------------------------------------------------------------- pure


def test_ratios_are_rounded_half_up_to_four_decimals_from_exact_fractions() -> None:
    assert ratio_text(1, 8) == "0.1250"
    assert ratio_text(2, 3) == "0.6667"
    assert ratio_text(1, 3) == "0.3333"
    assert ratio_text(1, 20000) == "0.0001"  # 0.00005 exactly: half up
    assert ratio_text(1, 20001) == "0.0000"
    assert ratio_text(-1, 3) == "-0.3333"
    assert ratio_text(64000, 60000) == "1.0667"
    assert ratio_text(5, 0) is None


def test_months_in_a_range_count_calendar_months_inclusively() -> None:
    assert months_in_range(date(2026, 10, 1), date(2026, 10, 31)) == 1
    assert months_in_range(date(2026, 9, 1), date(2026, 10, 31)) == 2
    assert months_in_range(date(2025, 12, 15), date(2026, 1, 2)) == 2


def test_fund_ratios_divide_the_raw_figures() -> None:
    f = FundFigures(
        revenue=64000,
        cost_of_medicines=42000,
        fees=6000,
        expiry_losses=7000,
        fund_subsidies=4000,
        count_differences=1000,
        equity_now=1004000,
        capital_contributed=1000000,
        inventory_value=300000,
        months=2,
    )
    assert f.total_cost == 60000
    assert fund_ratios(f) == {
        "cost_recovery": "1.0667",
        "capital_preservation": "1.0040",
        "months_of_stock": "14.2857",
        "expiry_loss_share": "0.1167",
        "count_loss_share": "0.0167",
    }


def test_balance_sheet_sections_give_liabilities_and_equity_their_natural_sign() -> None:
    rows = [
        TrialBalanceRow("1010", "Bank", "asset", "KHR", 900),
        TrialBalanceRow("2000-S1", "S1", "liability", "KHR", -300),
        TrialBalanceRow("3000", "Capital", "equity", "KHR", -500),
        TrialBalanceRow("4000", "Revenue", "income", "KHR", -400),
        TrialBalanceRow("5000", "Cost", "expense", "KHR", 300),
        TrialBalanceRow("9000", "Units", "memo", "MET500", -5),
        TrialBalanceRow("5000", "Cost", "expense", "MET500", 5),
    ]
    sec = balance_sheet_sections(rows, {"KHR"})
    assert list(sec) == ["KHR"]
    assert sec["KHR"]["liability"] == [("2000-S1", "S1", 300)]
    assert sec["KHR"]["equity"] == [("3000", "Capital", 500)]
    assert (sec["KHR"]["income"], sec["KHR"]["expense"]) == (400, 300)


# --------------------------------------------------------------------------- aged balances


def test_aged_balances_put_debits_in_buckets_at_their_boundaries_with_credits_fifo(
    books: Flask, client: FlaskClient, fin: dict[str, str], aud: dict[str, str]
) -> None:
    # As of 2026-11-20: 0, 30 | 31, 60 | 61, 90 | 91 days old.
    for when, amount in [
        ("2026-11-20", "100"),
        ("2026-10-21", "200"),
        ("2026-10-20", "400"),
        ("2026-09-21", "800"),
        ("2026-09-20", "1600"),
        ("2026-08-22", "3200"),
        ("2026-08-21", "6400"),
    ]:
        journal(client, fin, when, [("1200-P1", "KHR", amount), ("4000", "KHR", f"-{amount}")])
    # 7000 paid: settles the 91-day 6400 and 600 of the 90-day 3200.
    pay(client, fin, direction="in", kind="pharmacy", code="P1", amount="7000", when="2026-11-01")
    # A payer that paid more than it owed: a credit, never aged.
    journal(client, fin, "2026-11-10", [("1300-HEF", "KHR", "1000"), ("4000", "KHR", "-1000")])
    pay(client, fin, direction="in", kind="scheme", code="HEF", amount="1500", when="2026-11-12")

    r = client.get("/api/v1/reports/aged-balances?as_of=2026-11-20", headers=aud)
    assert r.status_code == 200, r.get_json()
    items = {i["account"]: i for i in r.get_json()["items"]}
    assert items["1200-P1"] == {
        "account": "1200-P1",
        "counterparty_kind": "pharmacy",
        "counterparty": "P1",
        "name": "Due from pharmacy P1",
        "currency": "KHR",
        "0-30": "300",
        "31-60": "1200",
        "61-90": "4200",
        "90+": "0",
        "total": "5700",
    }
    hef = items["1300-HEF"]
    assert (hef["counterparty_kind"], hef["0-30"], hef["90+"], hef["total"]) == (
        "scheme",
        "0",
        "0",
        "-500",
    )
    assert "1200-P2" not in items

    earlier = client.get("/api/v1/reports/aged-balances?as_of=2026-10-31", headers=aud)
    p1 = {i["account"]: i for i in earlier.get_json()["items"]}["1200-P1"]
    assert (p1["0-30"], p1["31-60"], p1["61-90"], p1["90+"], p1["total"]) == (
        "600",
        "2400",
        "9600",
        "0",
        "12600",
    )

    csv = client.get("/api/v1/reports/aged-balances?as_of=2026-11-20&format=csv", headers=aud)
    rows = parse_csv_sections(csv.get_data(as_text=True))[""]
    assert rows[0] == [
        "account",
        "counterparty_kind",
        "counterparty",
        "currency",
        "0-30",
        "31-60",
        "61-90",
        "90+",
        "total",
    ]
    assert ["1200-P1", "pharmacy", "P1", "KHR", "300", "1200", "4200", "0", "5700"] in rows


# --------------------------------------------------------------------------- a small fund


def _small_fund(client: FlaskClient, fin: dict[str, str]) -> None:
    """Two months of a fund, every figure chosen to be checked by hand."""
    pay(
        client,
        fin,
        direction="in",
        kind="donor",
        code="Health Donor",
        amount="1000000",
        when="2026-09-01",
        reference="CAP",
    )
    journal(
        client,
        fin,
        "2026-09-02",
        [("1400-CENTRAL", "KHR", "350000", "MET500:L1"), ("2000-S1", "KHR", "-350000")],
        "receipt",
    )
    journal(
        client,
        fin,
        "2026-10-10",
        [
            ("1200-P1", "KHR", "60000"),
            ("4000", "KHR", "-60000"),
            ("5000", "KHR", "42000"),
            ("1400-CENTRAL", "KHR", "-42000", "MET500:L1"),
        ],
        "sales and their cost",
    )
    journal(client, fin, "2026-10-11", [("5100", "KHR", "6000"), ("2100-P1", "KHR", "-6000")])
    journal(
        client,
        fin,
        "2026-10-12",
        [("5200", "KHR", "7000"), ("1400-CENTRAL", "KHR", "-7000", "MET500:L1")],
    )
    journal(
        client,
        fin,
        "2026-10-13",
        [("5400", "KHR", "1000"), ("1400-CENTRAL", "KHR", "-1000", "MET500:L1")],
    )
    journal(client, fin, "2026-10-14", [("5300", "KHR", "4000"), ("4000", "KHR", "-4000")])
    # After the range: must not count in October's figures.
    journal(client, fin, "2026-11-05", [("1200-P1", "KHR", "10000"), ("4000", "KHR", "-10000")])


def test_fund_health_matches_the_figures_computed_by_hand(
    books: Flask, client: FlaskClient, fin: dict[str, str], aud: dict[str, str]
) -> None:
    _small_fund(client, fin)
    r = client.get("/api/v1/reports/fund-health?from=2026-09-01&to=2026-10-31", headers=aud)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["months"] == 2
    assert body["figures"] == {
        "revenue": "64000",
        "cost_of_medicines": "42000",
        "fees": "6000",
        "expiry_losses": "7000",
        "fund_subsidies": "4000",
        "count_differences": "1000",
        "total_cost": "60000",
        "equity_now": "1004000",
        "capital_contributed": "1000000",
        "inventory_value": "300000",
        "average_monthly_cost_of_medicines": "21000",
    }
    # 64000/60000; 1004000/1000000; 300000/(42000/2); 7000/60000; 1000/60000
    assert body["ratios"] == {
        "cost_recovery": "1.0667",
        "capital_preservation": "1.0040",
        "months_of_stock": "14.2857",
        "expiry_loss_share": "0.1167",
        "count_loss_share": "0.0167",
    }
    csv = client.get(
        "/api/v1/reports/fund-health?from=2026-09-01&to=2026-10-31",
        headers={**aud, "Accept": "text/csv"},
    )
    sections = parse_csv_sections(csv.get_data(as_text=True))
    assert ["cost_recovery", "1.0667"] in sections["Ratios"]
    assert ["inventory_value", "300000"] in sections["Figures"]


def test_fund_health_of_an_empty_fund_has_no_ratios_rather_than_an_error(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    body = client.get(
        "/api/v1/reports/fund-health?from=2026-10-01&to=2026-10-31", headers=fin
    ).get_json()
    assert set(body["ratios"].values()) == {None}
    bad = client.get("/api/v1/reports/fund-health?from=2026-10-31&to=2026-10-01", headers=fin)
    assert bad.status_code == 422


def test_the_balance_sheet_balances_and_excludes_later_postings(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    _small_fund(client, fin)
    pay(
        client,
        fin,
        direction="in",
        kind="donor",
        code="Gift",
        amount="25.00",
        currency="USD",
        when="2026-10-20",
    )
    body = client.get("/api/v1/reports/balance-sheet?as_of=2026-10-31", headers=fin).get_json()
    khr, usd = body["currencies"]
    assert {a["account"]: a["amount"] for a in khr["assets"]} == {
        "1010": "1000000",
        "1200-P1": "60000",
        "1400-CENTRAL": "300000",
    }
    assert {a["account"]: a["amount"] for a in khr["liabilities"]} == {
        "2000-S1": "350000",
        "2100-P1": "6000",
    }
    assert {a["account"]: a["amount"] for a in khr["equity"]} == {"3000": "1000000"}
    assert (
        khr["current_surplus"],
        khr["total_assets"],
        khr["total_liabilities"],
        khr["total_equity"],
    ) == ("4000", "1360000", "356000", "1004000")
    assert khr["balanced"] is True
    assert (usd["total_assets"], usd["total_equity"]) == ("25.00", "25.00")
    now = client.get("/api/v1/reports/balance-sheet", headers=fin).get_json()
    assert now["currencies"][0]["current_surplus"] == "14000"
    csv = client.get("/api/v1/reports/balance-sheet?as_of=2026-10-31&format=csv", headers=fin)
    rows = parse_csv_sections(csv.get_data(as_text=True))[""]
    assert ["KHR", "total_assets", "", "", "1360000"] in rows


def test_the_income_statement_lists_income_and_each_expense_over_the_range(
    books: Flask, client: FlaskClient, fin: dict[str, str], aud: dict[str, str]
) -> None:
    _small_fund(client, fin)
    r = client.get("/api/v1/reports/income-statement?from=2026-10-01&to=2026-10-31", headers=aud)
    body = r.get_json()
    assert (body["from"], body["to"]) == ("2026-10-01", "2026-10-31")
    khr = body["currencies"][0]
    assert {i["account"]: i["amount"] for i in khr["income"]} == {"4000": "64000"}
    assert {e["account"]: e["amount"] for e in khr["expenses"]} == {
        "5000": "42000",
        "5100": "6000",
        "5200": "7000",
        "5300": "4000",
        "5400": "1000",
    }
    assert (khr["total_income"], khr["total_expenses"], khr["surplus"]) == (
        "64000",
        "60000",
        "4000",
    )
    nov = client.get(
        "/api/v1/reports/income-statement?from=2026-11-01&to=2026-11-30", headers=aud
    ).get_json()["currencies"][0]
    assert (nov["total_income"], nov["surplus"]) == ("10000", "10000")
    csv = client.get(
        "/api/v1/reports/income-statement?from=2026-10-01&to=2026-10-31",
        headers={**aud, "Accept": "text/csv"},
    )
    assert csv.mimetype == "text/csv"
    assert ["KHR", "surplus", "", "", "4000"] in parse_csv_sections(csv.get_data(as_text=True))[""]


def test_reports_are_for_finance_and_auditors_only(
    books: Flask, client: FlaskClient, pharmacist: dict[str, str]
) -> None:
    for path in [
        "/api/v1/reports/aged-balances",
        "/api/v1/reports/balance-sheet",
        "/api/v1/reports/income-statement?from=2026-10-01&to=2026-10-31",
        "/api/v1/reports/fund-health?from=2026-10-01&to=2026-10-31",
    ]:
        assert client.get(path, headers=pharmacist).status_code == 403, path
        assert client.get(path).status_code == 401, path


# --------------------------------------------------------------------------- price vs cost


def test_the_latest_receipt_gives_each_medicine_its_replacement_cost() -> None:
    from fractions import Fraction

    from reports.fund import latest_unit_costs

    costs = latest_unit_costs(
        [
            (1, date(2026, 9, 2), "MET500", 1000, 35000),
            (3, date(2026, 10, 5), "MET500", 500, 20000),
            (2, date(2026, 10, 5), "MET500", 100, 9000),  # same day, earlier entry
            (4, date(2026, 10, 1), "AML5", 300, 10000),
            (5, date(2026, 10, 9), "AML5", 0, 0),
        ]
    )
    assert costs == {
        "MET500": (Fraction(40), date(2026, 10, 5)),
        "AML5": (Fraction(100, 3), date(2026, 10, 1)),
    }


def test_a_price_below_replacement_cost_is_flagged() -> None:
    from fractions import Fraction

    from reports.fund import PriceCost, unit_cost_text

    below = PriceCost("PL", "MET500", Fraction(38), Fraction(40), date(2026, 10, 5))
    above = PriceCost("PL", "AML5", Fraction(50), Fraction(100, 3), date(2026, 10, 1))
    never = PriceCost("PL", "ENA", Fraction(10), None, None)
    assert (below.below_cost, below.price_to_cost) == (True, "0.9500")
    assert (above.below_cost, above.price_to_cost) == (False, "1.5000")
    assert (never.below_cost, never.price_to_cost) == (None, None)
    assert unit_cost_text(Fraction(100, 3), 0) == "33.333333"
    assert unit_cost_text(Fraction(1234, 1), 2) == "12.34"


def _receipt(
    s: object, n: int, when: date, medicine: str, lot: str, units: int, value: int
) -> None:
    from ledger.model import EntryDraft, PostingDraft
    from ledger.posting import post_entry
    from ledger.tables import Lot

    row = Lot(
        commodity=medicine,
        lot_code=lot,
        expiry_on=date(2028, 1, 1),
        received_on=when,
        supplier="S1",
    )
    s.add(row)  # type: ignore[attr-defined]
    s.flush()  # type: ignore[attr-defined]
    post_entry(
        s,  # type: ignore[arg-type]
        EntryDraft(
            service_date=when,
            memo=f"receipt {n}",
            postings=(
                PostingDraft("1400-CENTRAL", medicine, units, row.id),
                PostingDraft("9000", medicine, -units, row.id),
                PostingDraft("1400-CENTRAL", "KHR", value, row.id),
                PostingDraft("2000-S1", "KHR", -value),
            ),
            source=f"stock-receipt:{n}",
        ),
        created_by="test",
    )


def test_fund_health_compares_each_price_in_force_with_the_latest_replacement_cost(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    from datetime import UTC, datetime

    from contracts.tables import PriceList, PriceListItem, PriceListVersion
    from ledger.tables import Commodity
    from stock.tables import Medicine

    now = datetime.now(UTC)
    with books.extensions["rdf_db"].session() as s:
        for code in ("AML5", "ENA5"):
            s.add(Commodity(code=code, kind="medicine", exponent=0, name=code))
        s.flush()
        for code in ("MET500", "AML5", "ENA5"):
            s.add(
                Medicine(
                    code=code, name=code, strength="-", form="tablet", unit="tablet", created_at=now
                )
            )
        s.flush()
        _receipt(s, 1, date(2026, 9, 2), "MET500", "M1", 1000, 35000)
        _receipt(s, 2, date(2026, 10, 5), "MET500", "M2", 500, 20000)
        _receipt(s, 3, date(2026, 10, 1), "AML5", "A1", 300, 10000)
        _receipt(s, 4, date(2026, 11, 2), "MET500", "M3", 100, 3000)  # after the range
        s.add(PriceList(code="PL-A", currency="KHR", created_at=now))
        s.add(PriceList(code="PL-USD", currency="USD", created_at=now))
        s.flush()
        versions = {}
        for pl, eff in [
            ("PL-A", date(2026, 9, 1)),
            ("PL-A", date(2026, 11, 1)),
            ("PL-USD", date(2026, 9, 1)),
        ]:
            v = PriceListVersion(price_list=pl, effective_from=eff, created_at=now, created_by="t")
            s.add(v)
            s.flush()
            versions[(pl, eff)] = v.id
        for (pl, eff), items in {
            ("PL-A", date(2026, 9, 1)): {"MET500": "38", "AML5": "50", "ENA5": "10"},
            ("PL-A", date(2026, 11, 1)): {"MET500": "45"},
            ("PL-USD", date(2026, 9, 1)): {"MET500": "0.01"},
        }.items():
            for med, price in items.items():
                s.add(PriceListItem(version_id=versions[(pl, eff)], medicine=med, unit_price=price))
        s.commit()

    body = client.get(
        "/api/v1/reports/fund-health?from=2026-10-01&to=2026-10-31", headers=fin
    ).get_json()
    rows = {r["medicine"]: r for r in body["price_vs_replacement_cost"]}
    assert set(rows) == {"MET500", "AML5", "ENA5"}
    assert rows["MET500"] == {
        "price_list": "PL-A",
        "medicine": "MET500",
        "unit_price": "38",
        "replacement_cost": "40",
        "replacement_cost_on": "2026-10-05",
        "price_to_cost": "0.9500",
        "below_cost": True,
    }
    assert (rows["AML5"]["replacement_cost"], rows["AML5"]["below_cost"]) == ("33.333333", False)
    assert (rows["ENA5"]["replacement_cost"], rows["ENA5"]["below_cost"]) == (None, None)
    assert body["sold_below_cost"] == ["MET500"]

    later = client.get(
        "/api/v1/reports/fund-health?from=2026-11-01&to=2026-11-30", headers=fin
    ).get_json()
    met = {r["medicine"]: r for r in later["price_vs_replacement_cost"]}["MET500"]
    assert (met["unit_price"], met["replacement_cost"], met["below_cost"]) == ("45", "30", False)

    csv = client.get(
        "/api/v1/reports/fund-health?from=2026-10-01&to=2026-10-31&format=csv", headers=fin
    )
    section = parse_csv_sections(csv.get_data(as_text=True))["Price vs replacement cost"]
    assert ["PL-A", "MET500", "38", "40", "2026-10-05", "0.9500", "True"] in section
