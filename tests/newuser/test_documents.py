"""23.9: the PDFs a new user opens. The metadata's CreationDate is the time printed on the
page (it was 2000-01-01); the pharmacy statement names its medicines and shows a
dispensing's fee on a row of its own (the fee is the dispensing's, not a line's: a row
"Fee of dispensing N" under its lines, so the Fee column still adds up to the total); a
long account code in the trial balance is shown whole at the normal size, not shrunk to
an unreadable font and cut."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader

from ledger import clock
from tests.dispensing.conftest import Fund

NOW = datetime(2026, 11, 23, 9, 41, 7, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned_clock() -> Iterator[None]:
    clock.pin(NOW)
    yield
    clock.pin(None)


def _pdf(fund: Fund, path: str) -> PdfReader:
    r = fund.client.get(f"/api/v1{path}", headers=fund.finance)
    assert r.status_code == 200 and r.mimetype == "application/pdf", r.get_data(as_text=True)
    return PdfReader(io.BytesIO(r.data))


def _text(reader: PdfReader) -> str:
    return "\n".join(p.extract_text() for p in reader.pages)


def test_creation_date_is_the_time_printed_on_the_page(fund: Fund) -> None:
    for path in (
        "/reports/trial-balance.pdf",
        "/statements/accounts/1010",
        "/statements/pharmacies/P1?period=2026-10",
    ):
        reader = _pdf(fund, path)
        assert "Made 2026-11-23 09:41:07 UTC" in _text(reader), path
        meta = reader.metadata
        assert meta is not None and meta.creation_date is not None
        assert meta.creation_date.astimezone(UTC) == NOW, (path, meta.creation_date)


def test_the_pharmacy_statement_names_medicines_and_shows_each_fee(fund: Fund) -> None:
    two_lines = [("MET500", 2), ("AML5", 1)]  # 100 + 120 KHR: a 10 % fee of 22
    fund.dispense(two_lines, ref="d-1")
    fund.dispense([("MET500", 4)], ref="d-2")  # 200 KHR: a fee of 20
    text = _text(_pdf(fund, "/statements/pharmacies/P1?period=2026-10"))
    assert "MET500 Metformin 500 mg" in text and "AML5 Amlodipine 5 mg" in text
    lines = text.splitlines()
    fee_rows = [ln for ln in lines if ln.startswith("Fee of dispensing")]
    assert fee_rows == ["Fee of dispensing 1 22", "Fee of dispensing 2 20"], fee_rows
    at = lines.index("Total")  # the totals row: price, subsidy, co-payment, fee
    assert lines[at + 1 : at + 5] == ["420", "210", "210", "42"], lines[at : at + 5]
    # The JSON keeps its shape (the fee on a dispensing's first line), and gains the names.
    out = fund.get("/statements/pharmacies/P1?period=2026-10&format=json")
    assert [r["fee"] for r in out["dispensings"]] == ["22", "0", "20"]
    assert out["medicine_names"] == {"AML5": "Amlodipine 5 mg", "MET500": "Metformin 500 mg"}


def test_a_long_account_code_in_the_trial_balance_is_whole_and_readable(fund: Fund) -> None:
    long_code = "SUPPLIER-OF-THE-PROVINCE"  # 24 characters: account 2000-SUPPLIER-…
    fund.post("/suppliers", {"code": long_code, "name": "A supplier with a long code"})
    fund.post(
        "/stock/receipts",
        {
            "supplier": long_code,
            "location": "CENTRAL",
            "date": "2026-10-03",
            "lines": [
                {
                    "medicine": "MET500",
                    "lot": "L7",
                    "expiry": "2028-03-31",
                    "quantity": 10,
                    "total_cost": "350",
                }
            ],
        },
    )
    reader = _pdf(fund, "/reports/trial-balance.pdf")
    account = f"2000-{long_code}"
    sizes: list[float] = []

    def visit(text: str, _cm: Any, tm: Any, _font: Any, size: float) -> None:
        if account in text:
            sizes.append(size * abs(tm[0]) if tm else size)

    text = reader.pages[0].extract_text(visitor_text=visit)
    assert account in text and "…" not in text
    assert sizes and min(sizes) >= 8.0, sizes
