"""Beancount export: Beancount's own loader and bean-check accept it and agree on balances."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data
from beancount.parser import parser

from ledger.beancount import (
    COMMODITY_RULE,
    OPENING_ACCOUNT,
    BcAccount,
    BcCommodity,
    BcEntry,
    BcPosting,
    account_name,
    is_valid_commodity,
    quote,
    render_beancount,
)
from ledger.money import format_amount

BEAN_CHECK = Path(sys.executable).parent / "bean-check"
D0 = date(2024, 12, 1)

ACCOUNTS = [
    BcAccount("1010", "asset", D0),
    BcAccount("1020", "asset", D0),
    BcAccount("1200-P1", "asset", D0),
    BcAccount("1300-HEF", "asset", D0),
    BcAccount("1400-CENTRAL", "asset", D0),
    BcAccount("1400-P1", "asset", date(2025, 1, 15)),
    BcAccount("2000-S1", "liability", D0),
    BcAccount("2100-P1", "liability", date(2025, 1, 15)),
    BcAccount("3000", "equity", D0),
    BcAccount("4000", "income", D0),
    BcAccount("5000", "expense", D0),
    BcAccount("5100", "expense", D0),
    BcAccount("9000", "memo", D0),
]
TYPES = {a.code: a.type for a in ACCOUNTS}
COMMODITIES = [BcCommodity("KHR", 0), BcCommodity("USD", 2), BcCommodity("MET500", 0)]
EXPONENT = {c.code: c.exponent for c in COMMODITIES}


def P(account: str, commodity: str, amount: int, lot: str | None = None) -> BcPosting:
    return BcPosting(account, commodity, amount, lot)


DISPENSING = (
    P("5000", "MET500", 60, "L1"),
    P("1400-P1", "MET500", -60, "L1"),
    P("5000", "KHR", 2100),
    P("1400-P1", "KHR", -2100, "L1"),
    P("1200-P1", "KHR", 1500),
    P("1300-HEF", "KHR", 1500),
    P("4000", "KHR", -3000),
    P("5100", "KHR", 300),
    P("2100-P1", "KHR", -300),
)


def _journal() -> list[BcEntry]:
    def e(
        i: int,
        d: date,
        memo: str,
        postings: tuple[BcPosting, ...],
        src: str | None = None,
        service: date | None = None,
    ) -> BcEntry:
        return BcEntry(i, d, service or d, memo, src, f"{i:064x}", postings)

    return [
        e(
            1,
            date(2025, 1, 5),
            "Capitalisation by donor",
            (P("1010", "KHR", 10_000_000), P("3000", "KHR", -10_000_000)),
        ),
        e(
            2,
            date(2025, 1, 6),
            "Donor grant in USD",
            (P("1020", "USD", 125_050), P("3000", "USD", -125_050)),
            "payment:7",
        ),
        e(
            3,
            date(2025, 1, 10),
            "Receipt MET500 L1 from S1",
            (
                P("1400-CENTRAL", "MET500", 1000, "L1"),
                P("9000", "MET500", -1000, "L1"),
                P("1400-CENTRAL", "KHR", 35_000, "L1"),
                P("2000-S1", "KHR", -35_000),
            ),
            "receipt:1",
        ),
        e(
            4,
            date(2025, 1, 12),
            "Supplier S1 paid in USD",
            (P("2000-S1", "USD", 1_999), P("1020", "USD", -1_999)),
            "payment:8",
        ),
        e(
            5,
            date(2025, 1, 20),
            "Transfer to P1",
            (
                P("1400-P1", "MET500", 400, "L1"),
                P("1400-CENTRAL", "MET500", -400, "L1"),
                P("1400-P1", "KHR", 14_000, "L1"),
                P("1400-CENTRAL", "KHR", -14_000, "L1"),
            ),
            "transfer:1",
        ),
        e(
            6,
            date(2025, 2, 3),
            "Dispensing 42 at P1",
            DISPENSING,
            "dispensing:42",
            service=date(2025, 1, 30),
        ),
        e(
            7,
            date(2025, 2, 10),
            'Return of "dispensing" 42 \\ void',
            tuple(P(p.account, p.commodity, -p.amount, p.lot) for p in DISPENSING),
            "return:42",
        ),
        e(8, date(2025, 2, 11), "Dispensing 43 at P1", DISPENSING, "dispensing:43"),
        e(
            9,
            date(2025, 2, 28),
            "Supplier S1 paid",
            (P("2000-S1", "KHR", 35_000), P("1010", "KHR", -35_000)),
            "payment:9",
        ),
    ]


def _balances(entries: Iterable[BcEntry], before: date) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = defaultdict(int)
    for e in entries:
        if e.accounting_date < before:
            for p in e.postings:
                out[(p.account, p.commodity)] += p.amount
    return dict(out)


def _month_ends(
    journal: list[BcEntry], calls: list[date] | None = None
) -> Callable[[date], Iterator[tuple[str, str, int]]]:
    def month_ends(boundary: date) -> Iterator[tuple[str, str, int]]:
        if calls is not None:
            calls.append(boundary)
        for (code, commodity), amount in sorted(_balances(journal, boundary).items()):
            yield code, commodity, amount

    return month_ends


def _render(path: Path, entries: Iterable[BcEntry], **kwargs: object) -> str:
    pieces: list[str] = []
    render_beancount(ACCOUNTS, COMMODITIES, entries, write=pieces.append, **kwargs)  # type: ignore[arg-type]
    text = "".join(pieces)
    path.write_text(text, encoding="utf-8")
    return text


def _bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BEAN_CHECK), str(path)], capture_output=True, text=True, check=False)


def _beancount_balances(entries: list[data.Directive]) -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                units = posting.units
                assert units is not None and units.number is not None
                out[(posting.account, units.currency)] += units.number
    return {k: v for k, v in out.items() if v}


def _expected(balances: dict[tuple[str, str], int]) -> dict[tuple[str, str], Decimal]:
    return {
        (account_name(code, TYPES[code]), commodity): Decimal(format_amount(v, EXPONENT[commodity]))
        for (code, commodity), v in balances.items()
        if v
    }


def test_bean_check_is_in_the_venv() -> None:
    assert BEAN_CHECK.exists()


def test_full_journal_loads_checks_and_balances(tmp_path: Path) -> None:
    journal = _journal()
    calls: list[date] = []
    path = tmp_path / "full.beancount"
    text = _render(path, iter(journal), month_ends=_month_ends(journal, calls))
    assert 'option "operating_currency" "KHR"' in text and 'option "title"' in text

    entries, errors, options = loader.load_file(str(path))
    assert errors == []
    assert options["operating_currency"] == ["KHR"]
    result = _bean_check(path)
    assert result.returncode == 0, result.stdout + result.stderr

    # balances computed by Beancount equal what we put in, per account and commodity
    expected = _expected(_balances(journal, date(2026, 1, 1)))
    assert _beancount_balances(entries) == expected
    assert expected[("Assets:1020", "USD")] == Decimal("1230.51")
    assert expected[("Assets:1400-P1", "MET500")] == Decimal(340)
    assert expected[("Equity:9000", "MET500")] == Decimal(-1000)

    # month-end assertions at the first day of each next month, all real Balance directives
    assert calls == [date(2025, 2, 1), date(2025, 3, 1)]
    balances = [e for e in entries if isinstance(e, data.Balance)]
    assert {b.date for b in balances} == {date(2025, 2, 1), date(2025, 3, 1)}
    assert all(b.tolerance == 0 for b in balances)
    assert len(balances) == len(_balances(journal, date(2025, 2, 1))) + len(
        _balances(journal, date(2025, 3, 1))
    )

    # one transaction per entry with its metadata and lots
    txns = [e for e in entries if isinstance(e, data.Transaction)]
    assert [t.meta["entry-id"] for t in txns] == [str(e.entry_id) for e in journal]
    disp = txns[5]
    assert disp.date == date(2025, 2, 3) and disp.meta["service-date"] == date(2025, 1, 30)
    assert disp.meta["source"] == "dispensing:42" and disp.meta["seal"] == f"{6:064x}"
    first, third = disp.postings[0].meta, disp.postings[2].meta
    assert first is not None and third is not None
    assert first["lot"] == "L1" and "lot" not in third
    assert txns[6].narration == 'Return of "dispensing" 42 \\ void'
    assert "1250.50 USD" in text and "10000000 KHR" in text and "-19.99 USD" in text

    # every account opened on or before first use, every commodity declared
    opens = {e.account: e.date for e in entries if isinstance(e, data.Open)}
    assert opens["Assets:1400-P1"] == date(2025, 1, 15)
    assert {e.currency for e in entries if isinstance(e, data.Commodity)} == set(EXPONENT)


def test_render_streams(tmp_path: Path) -> None:
    journal = _journal()
    written: list[str] = []

    def lazy() -> Iterator[BcEntry]:
        for e in journal:
            # the previous entry was written before this one is even read
            if e.entry_id > 1:
                assert f'entry-id: "{e.entry_id - 1}"' in written[-1]
            yield e

    render_beancount(
        ACCOUNTS, COMMODITIES, lazy(), write=written.append, month_ends=_month_ends(journal)
    )
    assert sum("entry-id" in piece for piece in written) == len(journal)
    assert all(piece.count("entry-id") <= 1 for piece in written)


def test_range_starting_mid_way_checks_on_its_own(tmp_path: Path) -> None:
    journal = _journal()
    start, end = date(2025, 2, 1), date(2025, 3, 1)
    opening = _balances(journal, start)
    path = tmp_path / "feb.beancount"
    text = _render(
        path,
        (e for e in journal if start <= e.accounting_date < end),
        opening=opening,
        opening_date=start,
        end=end,
        month_ends=_month_ends(journal),
    )
    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    assert _bean_check(path).returncode == 0
    assert OPENING_ACCOUNT in text
    txns = [e for e in entries if isinstance(e, data.Transaction)]
    assert [t.meta.get("entry-id") for t in txns if "entry-id" in t.meta] == ["6", "7", "8", "9"]
    # closing balances of the range equal the full history's, apart from the equity plug
    got = {k: v for k, v in _beancount_balances(entries).items() if k[0] != OPENING_ACCOUNT}
    assert got == _expected(_balances(journal, end))
    assert [b.date for b in entries if isinstance(b, data.Balance)][0] == end


def test_range_ending_mid_month_asserts_at_the_end(tmp_path: Path) -> None:
    journal = _journal()
    calls: list[date] = []
    end = date(2025, 2, 5)
    path = tmp_path / "mid.beancount"
    _render(
        path,
        (e for e in journal if e.accounting_date < end),
        end=end,
        month_ends=_month_ends(journal, calls),
    )
    assert calls == [date(2025, 2, 1), end]
    assert _bean_check(path).returncode == 0


def test_wrong_balance_assertion_fails_bean_check(tmp_path: Path) -> None:
    journal = _journal()
    good = _month_ends(journal)

    def one_cent_off(boundary: date) -> Iterator[tuple[str, str, int]]:
        for code, commodity, amount in good(boundary):
            if boundary == date(2025, 3, 1) and (code, commodity) == ("1020", "USD"):
                amount += 1
            yield code, commodity, amount

    path = tmp_path / "bad.beancount"
    _render(path, journal, month_ends=one_cent_off)
    _, errors, _ = loader.load_file(str(path))
    assert len(errors) == 1 and "Balance failed" in errors[0].message
    result = _bean_check(path)
    assert result.returncode != 0
    assert "Assets:1020" in result.stdout + result.stderr


def test_entries_out_of_order_or_unknown_are_refused() -> None:
    journal = _journal()
    with pytest.raises(ValueError, match="comes after"):
        render_beancount(ACCOUNTS, COMMODITIES, [journal[1], journal[0]], write=lambda s: None)
    bad = BcEntry(
        99,
        date(2025, 1, 5),
        date(2025, 1, 5),
        "x",
        None,
        None,
        (P("1999", "KHR", 1), P("1010", "KHR", -1)),
    )
    with pytest.raises(ValueError, match="unknown account"):
        render_beancount(ACCOUNTS, COMMODITIES, [bad], write=lambda s: None)
    early = BcEntry(
        99,
        date(2025, 1, 5),
        date(2025, 1, 5),
        "x",
        None,
        None,
        (P("1400-P1", "KHR", 1), P("1010", "KHR", -1)),
    )
    with pytest.raises(ValueError, match="before it opens"):
        render_beancount(ACCOUNTS, COMMODITIES, [early], write=lambda s: None)
    odd = BcEntry(
        99,
        date(2025, 1, 5),
        date(2025, 1, 5),
        "x",
        None,
        None,
        (P("1010", "EUR", 1), P("3000", "EUR", -1)),
    )
    with pytest.raises(ValueError, match="unknown commodity"):
        render_beancount(ACCOUNTS, COMMODITIES, [odd], write=lambda s: None)


def test_empty_journal_is_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.beancount"
    _render(path, [])
    assert _bean_check(path).returncode == 0


def test_narration_escapes(tmp_path: Path) -> None:
    memo = 'He said "take 2" \\ C:\\path\nline two\ttab'
    entry = BcEntry(
        1,
        date(2025, 1, 5),
        date(2025, 1, 5),
        memo,
        'a"b',
        None,
        (P("1010", "KHR", 1), P("3000", "KHR", -1)),
    )
    path = tmp_path / "q.beancount"
    _render(path, [entry])
    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    txn = next(e for e in entries if isinstance(e, data.Transaction))
    assert txn.narration == memo and txn.meta["source"] == 'a"b'
    assert quote('a"b\\') == '"a\\"b\\\\"'


def test_account_names() -> None:
    assert account_name("1400-P1", "asset") == "Assets:1400-P1"
    assert account_name("2000-S1", "liability") == "Liabilities:2000-S1"
    assert account_name("3000", "equity") == "Equity:3000"
    assert account_name("9000", "memo") == "Equity:9000"
    assert account_name("4000", "income") == "Income:4000"
    assert account_name("5000", "expense") == "Expenses:5000"
    for code, type_ in [
        ("1400-P1", "cash"),
        ("x1", "asset"),
        ("14:00", "asset"),
        ("", "asset"),
        ("1400 P1", "asset"),
        ("1400_P1", "asset"),
    ]:
        with pytest.raises(ValueError):
            account_name(code, type_)


VALID = ["KHR", "USD", "MET500", "A1", "NT.TO", "O'NEIL", "INS-GLARG.100", "AB_C", "A" * 24]
INVALID = [
    "",
    "A",
    "a",
    "khr",
    "Met500",
    "1AB",
    "_AB",
    "AB_",
    "AB-",
    "AB.",
    "A" * 25,
    "/6J",
    "AB C",
    "ÄB",
    "AB$",
    "-AB",
]


@pytest.mark.parametrize("code", VALID)
def test_valid_commodities_parse_in_beancount(code: str) -> None:
    assert is_valid_commodity(code)
    _, errors, _ = parser.parse_string(f"2025-01-01 commodity {code}\n")
    assert errors == []


@pytest.mark.parametrize("code", INVALID)
def test_invalid_commodities(code: str) -> None:
    assert not is_valid_commodity(code)
    if code not in {"A", "A" * 25, "/6J"}:  # our policy is stricter than Beancount there
        entries, errors, _ = parser.parse_string(f"2025-01-01 commodity {code}\n")
        assert (
            errors
            or not entries
            or (isinstance(entries[0], data.Commodity) and entries[0].currency != code)
        )


def test_commodity_rule_is_human() -> None:
    assert "letter" in COMMODITY_RULE and "24" in COMMODITY_RULE
    with pytest.raises(ValueError, match="invalid"):
        render_beancount(ACCOUNTS, [BcCommodity("met500", 0)], [], write=lambda s: None)
