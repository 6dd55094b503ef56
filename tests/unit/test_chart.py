"""The chart in code and the chart the migration seeds are the same chart."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ledger import chart

ROOT = Path(__file__).resolve().parents[2]


def _seeded_by_migration() -> list[tuple[object, ...]]:
    path = ROOT / "migrations" / "versions" / "0001_ledger_core.py"
    spec = importlib.util.spec_from_file_location("rdf_migration_0001", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.CHART)


def test_the_chart_in_code_is_the_chart_the_first_migration_seeds() -> None:
    in_code = [
        (a.code, a.name, a.type, a.carries, a.is_header, a.is_inventory, a.currency)
        for a in chart.SEEDED
    ]
    assert in_code == _seeded_by_migration()


def test_sub_accounts_are_named_by_header_and_party() -> None:
    assert chart.due_from_pharmacy("P1") == "1200-P1"
    assert chart.inventory(chart.CENTRAL) == "1400-CENTRAL"
    assert chart.header_of("2100-P7") == chart.DUE_TO_PHARMACY
    assert chart.party_of("1300-HEF") == "HEF"
    assert chart.party_of(chart.FUND_CAPITAL) is None
    assert chart.bank("USD") == chart.BANK_USD
    assert chart.exponent("USD") == 2 and chart.exponent("KHR") == 0


def test_the_accounts_added_later_are_the_ones_their_migration_seeds() -> None:
    path = ROOT / "migrations" / "versions" / "0014_fx.py"
    spec = importlib.util.spec_from_file_location("rdf_migration_0014", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    in_code = [
        (a.code, a.name, a.type, a.carries, a.is_header, a.is_inventory, a.currency)
        for a in chart.ADDED_BY_0014
    ]
    assert in_code == list(module.ACCOUNTS)
    assert chart.CURRENCY_EXCHANGE in {a.code for a in chart.ADDED_BY_0014}
