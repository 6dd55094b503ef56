"""Documents of a pharmacy's month: the statement (JSON, CSV, PDF), the settlement and the
subsidy claim invoice as PDFs. Every figure in a PDF equals the API's."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from ledger import clock
from reports.pdf import display_amount
from reports.tabular import parse_csv_sections
from tests.dispensing.conftest import Fund


@pytest.fixture
def december() -> Iterator[None]:
    clock.pin(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    yield
    clock.pin(None)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def shown(khr: str) -> str:
    return display_amount(int(khr), 0)


def test_the_pharmacy_statement_adds_up_in_json_csv_and_pdf(fund: Fund, december: None) -> None:
    fund.dispense([("MET500", 60)], ref="a")
    fund.dispense([("MET500", 30), ("AML5", 20)], patient="M-00043", ref="b")
    d = fund.dispense([("AML5", 10)], patient=None, ref="c")
    fund.post(
        f"/dispensings/{d['id']}/returns",
        {"items": [{"medicine": "AML5", "quantity": 4}], "date": "2026-10-20"},
        fund.pharmacist,
    )
    fund.post("/settlements", {"pharmacy": "P1", "period": "2026-10"})
    out = fund.get("/statements/pharmacies/P1?period=2026-10&format=json")
    assert out["dispensing_count"] == 3
    assert out["dispensing_totals"] == {
        "price": "8100",
        "subsidy": "1500",
        "copayment": "6600",
        "fee": "810",
    }
    met = next(u for u in out["units"] if u["medicine"] == "MET500")
    assert (met["opening"], met["received"], met["dispensed"], met["closing"]) == (0, 400, 90, 310)
    aml = next(u for u in out["units"] if u["medicine"] == "AML5")
    assert (aml["dispensed"], aml["returned"], aml["closing"]) == (30, 4, 74)
    assert out["settlement"] is not None

    r = fund.client.get(
        "/api/v1/statements/pharmacies/P1?period=2026-10",
        headers={**fund.auditor, "Accept": "text/csv"},
    )
    assert r.status_code == 200 and r.mimetype == "text/csv"
    sections = parse_csv_sections(r.get_data(as_text=True))
    assert len(sections["Dispensings"]) == 1 + 4  # header and four lines

    r = fund.client.get("/api/v1/statements/pharmacies/P1?period=2026-10", headers=fund.pharmacist)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = pdf_text(r.data)
    for figure in out["dispensing_totals"].values():
        assert shown(figure) in text
    assert "Pharmacy monthly statement" in text and "2026-10" in text and "Page 1 of" in text
    last = fund.get("/audit/verify")["last_seal"]
    assert last and last in text.replace("\n", "")  # the seal of the newest entry covered

    r = fund.client.get(
        "/api/v1/statements/pharmacies/P1?period=2026-10", headers=fund.other_pharmacist
    )
    assert r.status_code == 404


def test_settlement_and_claim_pdfs_carry_the_api_figures(fund: Fund, december: None) -> None:
    fund.dispense([("MET500", 60)], ref="a")
    st = fund.post("/settlements", {"pharmacy": "P1", "period": "2026-10"})
    cl = fund.post("/subsidy-claims", {"scheme": "HEF", "period": "2026-10"})
    r = fund.client.get(f"/api/v1/settlements/{st['id']}.pdf", headers=fund.auditor)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = pdf_text(r.data)
    for key in ("copayments_collected", "fees_owed", "netted", "net_due"):
        assert shown(st[key]) in text
    r = fund.client.get(f"/api/v1/subsidy-claims/{cl['id']}.pdf", headers=fund.auditor)
    text = pdf_text(r.data)
    assert shown(cl["total"]) in text and "M-00042" in text and "MET500" in text
    assert (
        fund.client.get(
            f"/api/v1/settlements/{st['id']}.pdf", headers=fund.other_pharmacist
        ).status_code
        == 404
    )
    assert (
        fund.client.get(
            f"/api/v1/subsidy-claims/{cl['id']}.pdf", headers=fund.pharmacist
        ).status_code
        == 403
    )


def test_stock_on_hand_and_a_claim_open_in_a_spreadsheet_with_numbers_as_numbers(
    fund: Fund, december: None
) -> None:
    from openpyxl import load_workbook

    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    on_hand = fund.get("/stock/on-hand?location=P1")
    r = fund.client.get(
        "/api/v1/stock/on-hand?location=P1", headers={**fund.finance, "Accept": xlsx}
    )
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.data)).worksheets[0]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert sum(row[4] for row in rows) == sum(x["quantity"] for x in on_hand)
    assert sum(row[5] for row in rows) == sum(int(x["value"]) for x in on_hand)
    fund.dispense([("MET500", 60)], ref="a")
    cl = fund.post("/subsidy-claims", {"scheme": "HEF", "period": "2026-10"})
    r = fund.client.get(
        f"/api/v1/subsidy-claims/{cl['id']}", headers={**fund.auditor, "Accept": "text/csv"}
    )
    assert r.status_code == 200 and r.mimetype == "text/csv"
    sections = parse_csv_sections(r.get_data(as_text=True))
    assert sections["Total"][1][0] == cl["total"]


def test_the_fund_health_pdf_shows_the_api_ratios_and_a_monthly_chart(
    fund: Fund, december: None
) -> None:
    fund.dispense([("MET500", 60)], ref="a")
    out = fund.get("/reports/fund-health?from=2026-10-01&to=2026-11-30")
    r = fund.client.get(
        "/api/v1/reports/fund-health.pdf?from=2026-10-01&to=2026-11-30", headers=fund.auditor
    )
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = pdf_text(r.data)
    assert "Fund health" in text and "Cost recovery by month" in text
    assert out["ratios"]["cost_recovery"] in text
    assert "2026-10" in text
    assert (
        fund.client.get(
            "/api/v1/reports/fund-health.pdf?from=2026-10-01&to=2026-11-30", headers=fund.pharmacist
        ).status_code
        == 403
    )
