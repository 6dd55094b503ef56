"""The desks in real Chromium: finance does a month end (receive, transfer with the FEFO
preview, settle, import a bank file, match by hand, record a payment, close), the auditor
verifies and downloads each format (each file opens), the admin creates a pharmacist who
signs in; axe-core on every desk page in English and Khmer at 360 and 1280 px; screenshots."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.browser.conftest import SCREENSHOTS, sign_in
from tests.browser.test_pharmacist import _serious, api

LAST = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)
MONTH = LAST.strftime("%Y-%m")
PAY_DAY = (LAST + timedelta(days=19)).isoformat()


def _post(live_server: dict[str, Any], page: Any, path: str, body: dict[str, Any]) -> Any:
    token = live_server["tokens"]["finance"][1]
    r = page.request.post(path, data=body, headers={"Authorization": f"Bearer {token}"})
    assert r.ok, r.text()
    return r.json()


def test_finance_does_the_month_end_in_the_browser(
    page_at: Any, live_server: dict[str, Any]
) -> None:
    page = page_at(1280, 900)
    sign_in(page, "finance")
    done = page.get_by_role("status", name="Done")

    page.goto("/app/finance/stock")
    receive = page.get_by_role("region", name="Receive stock")
    receive.get_by_label("Supplier").select_option("S-CMS")
    receive.get_by_label("Location").select_option("CENTRAL")
    receive.get_by_label("Medicine").first.select_option("MET500")
    receive.get_by_label("Lot").first.fill("WEB-LOT-1")
    receive.get_by_label("Expiry").first.fill("2030-01-31")
    receive.get_by_label("Quantity").first.fill("100")
    receive.get_by_label("Cost").first.fill("5000")
    receive.get_by_role("button", name="Receive").click()
    expect(done).to_contain_text("Received.")

    transfer = page.get_by_role("region", name="Transfer stock")
    transfer.get_by_label("From").select_option("CENTRAL")
    transfer.get_by_label("To").select_option("P-TAKEO")
    transfer.get_by_label("Medicine").first.select_option("MET500")
    transfer.get_by_label("Quantity").first.fill("10")
    transfer.get_by_role("button", name="Show the lots").click()
    transfer = page.get_by_role("region", name="Transfer stock")
    expect(transfer.locator("#fefo")).to_contain_text("MET500")
    transfer.get_by_role("button", name="Transfer", exact=True).click()
    expect(done).to_contain_text("Transferred.")

    page.goto("/app/finance/settlements")
    settle = page.get_by_role("region", name="Settle a pharmacy's month")
    settle.get_by_label("Pharmacy").select_option("P-TAKEO")
    settle.get_by_label("Month").fill(MONTH)
    settle.get_by_role("button", name="Settle").click()
    expect(done).to_contain_text("Settled.")
    expect(page.locator("#settlements")).to_contain_text("P-TAKEO")

    _post(
        live_server,
        page,
        "/api/v1/payments",
        {
            "date": PAY_DAY,
            "direction": "in",
            "counterparty": {"kind": "pharmacy", "code": "P-TAKEO"},
            "amount": "1000",
            "currency": "KHR",
            "reference": "WEB-PAY-1",
        },
    )
    csv = (
        "date,amount,currency,reference,description\n"
        f"{PAY_DAY},1000,KHR,WEB-PAY-1,matches a payment\n"
        f"{PAY_DAY},2500,KHR,WEB-UNKNOWN,nobody recorded this\n"
    )
    page.goto(f"/app/finance/bank?month={MONTH}")
    page.get_by_label("Bank statement").set_input_files(
        files=[{"name": "statement.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    held: list[Any] = []  # the import held back: the page must say it is at work meanwhile
    page.route("**/api/v1/bank-statements", lambda route: held.append(route))
    page.get_by_role("button", name="Import").click()
    expect(done).to_contain_text("Importing and matching the lines")
    form = page.locator("form[data-api='/api/v1/bank-statements']")
    expect(form).to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("button", name="Import")).to_be_disabled()
    assert len(held) == 1
    held[0].continue_()
    page.unroute("**/api/v1/bank-statements")
    expect(done).to_contain_text("Imported.")
    lines = page.locator("#unmatched-lines")
    expect(lines).to_contain_text("WEB-UNKNOWN")
    expect(page.locator("#matched")).to_contain_text("WEB-PAY-1")

    item = lines.locator("li").filter(has_text="WEB-UNKNOWN")
    item.get_by_role("link", name="Record payment").click()
    record = page.get_by_role("region", name="Record payment")
    expect(record.get_by_label("Amount")).to_have_value("2500")
    expect(record.get_by_label("Reference")).to_have_value("WEB-UNKNOWN")
    record.get_by_label("Counterparty", exact=True).fill("P-TAKEO")
    record.get_by_role("button", name="Record payment").click()
    expect(done).to_contain_text("Payment recorded.")

    item = page.locator("#unmatched-lines li").filter(has_text="WEB-UNKNOWN")
    option = item.locator("option").filter(has_text="WEB-UNKNOWN")
    item.get_by_label("Payment").select_option(option.get_attribute("value"))
    item.get_by_role("button", name="Match").click()
    expect(done).to_contain_text("Matched.")
    books = api(live_server, page, f"/api/v1/reconciliation?period={MONTH}")
    kinds = {m["bank_line"]["reference"]: m["match_kind"] for m in books["matched"]}
    assert kinds["WEB-PAY-1"] == "auto" and kinds["WEB-UNKNOWN"] == "manual"
    assert all(ln["reference"] != "WEB-UNKNOWN" for ln in books["unmatched_bank_lines"])

    page.goto(f"/app/finance/close?month={MONTH}")
    expect(page.locator("#checklist")).to_contain_text("P-KAMPOT")  # not settled yet
    page.get_by_label("Force (close despite the checks)").check()
    page.get_by_label("Reason").fill("Browser test: the other pharmacies settle next week")
    page.get_by_role("button", name="Close month").click()
    expect(done).to_contain_text("Closed.")
    expect(page.locator("#closed-state")).to_be_visible()
    periods = api(live_server, page, "/api/v1/periods")["items"]
    closed = next(p for p in periods if p["period"] == MONTH)
    assert closed["status"] == "closed" and closed["forced"] is True

    page.goto(f"/app/finance?month={MONTH}")
    cash = page.locator("#cash dd[data-currency='KHR']").get_attribute("data-amount")
    end = (LAST.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    sheet = api(live_server, page, f"/api/v1/reports/balance-sheet?as_of={end.isoformat()}")
    khr = next(c for c in sheet["currencies"] if c["currency"] == "KHR")
    bank = next(a for a in khr["assets"] if a["account"] == "1010")
    assert cash == bank["amount"]


def _bean_check() -> str:
    return shutil.which("bean-check") or str(Path(sys.executable).parent / "bean-check")


def test_the_auditor_verifies_and_downloads_every_format(
    page_at: Any, live_server: dict[str, Any]
) -> None:
    page = page_at(1280, 900)
    sign_in(page, "auditor")
    page.goto("/app/audit")
    page.get_by_role("button", name="Verify the books").click()
    expect(page.get_by_role("status", name="Verification")).to_contain_text("The books are intact")
    page.goto(f"/app/audit/downloads?month={MONTH}")
    opened: set[str] = set()
    for row_name in ("Trial balance", "Journal", "Statement of P-TAKEO", "Income statement"):
        row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=row_name))
        for fmt in ("PDF", "CSV", "XLSX", "Beancount"):
            link = row.get_by_role("link", name=fmt, exact=True)
            if link.count() == 0:
                continue
            href = link.get_attribute("href")
            r = page.request.get(href)
            assert r.ok, (href, r.status)
            body = r.body()
            if fmt == "PDF":
                assert len(PdfReader(io.BytesIO(body)).pages) >= 1
            elif fmt == "XLSX":
                assert openpyxl.load_workbook(io.BytesIO(body)).sheetnames
            elif fmt == "CSV":
                assert body.decode("utf-8-sig").count("\n") >= 1
            else:
                with tempfile.NamedTemporaryFile("wb", suffix=".beancount", delete=False) as f:
                    f.write(body)
                done = subprocess.run(
                    [_bean_check(), f.name], capture_output=True, text=True, timeout=120
                )
                assert done.returncode == 0, done.stdout + done.stderr
            opened.add(fmt)
    assert opened == {"PDF", "CSV", "XLSX", "Beancount"}
    # the month's documents as one ZIP: the page answers at once, its link becomes ready
    page.get_by_role("button", name=f"ZIP of {MONTH}").click()
    page.wait_for_url("**/app/jobs/*")
    ready = page.get_by_role("status", name="Progress").get_by_role("link", name="Download the ZIP")
    expect(ready).to_be_visible(timeout=60_000)
    r = page.request.get(ready.get_attribute("href"))
    assert r.ok and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.body())).namelist()
    assert any(n.endswith(".pdf") for n in names) and any(n.endswith(".xlsx") for n in names)
    assert _serious(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "job.png"), full_page=True)


def test_the_admin_creates_a_pharmacist_who_then_signs_in(
    page_at: Any, live_server: dict[str, Any]
) -> None:
    page = page_at(1280, 900)
    sign_in(page, "admin")
    page.goto("/app/admin/users")
    form = page.get_by_role("region", name="Create a user")
    form.get_by_label("Username").fill("web-pharmacist")
    form.get_by_label("Role").select_option("pharmacist")
    form.get_by_label("Pharmacy").select_option("P-KSPEU")
    form.get_by_label("Password").fill("web-pharmacist-password")
    form.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status", name="Done")).to_have_text("User created.")
    expect(page.locator("#users")).to_contain_text("web-pharmacist")
    other = page_at(360, 740)
    sign_in(other, "web-pharmacist", "web-pharmacist-password")
    expect(other.get_by_role("navigation", name="Main")).to_be_visible()
    assert other.goto("/app/admin/users").status == 403


DESK = {
    "finance": "/app/finance",
    "finance-stock": "/app/finance/stock",
    "finance-settlements": "/app/finance/settlements",
    "finance-bank": "/app/finance/bank",
    "finance-currency": "/app/finance/currency",
    "finance-close": "/app/finance/close",
    "audit": "/app/audit?verify=1",
    "audit-downloads": "/app/audit/downloads",
    "admin-users": "/app/admin/users",
}


@pytest.mark.parametrize("lang", ["en", "km"])
def test_every_desk_page_passes_axe_and_fits_a_phone(
    page_at: Any, live_server: dict[str, Any], lang: str
) -> None:
    problems: list[str] = []
    for width, height in ((360, 740), (1280, 800)):
        page = page_at(width, height)
        sign_in(page, "admin")
        pages = dict(DESK)
        if width == 360:  # a long job's page (1280 px: the auditor's test)
            page.goto(f"/app/audit/downloads?lang={lang}")
            page.locator("form[action$='/downloads/zip'] button").first.click()
            page.wait_for_url("**/app/jobs/*")
            pages["job"] = page.url.split(live_server["base"], 1)[1]
        for name, path in pages.items():
            page.goto(f"{path}{'&' if '?' in path else '?'}lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang
            for v in _serious(page):
                problems.append(f"{lang} {width}px {name}: {v}")
            if width == 360:
                scroll = page.evaluate("document.documentElement.scrollWidth")
                if scroll > 360:
                    problems.append(f"{lang} 360px {name}: {scroll}px wide")
            if (width == 1280 and lang == "en") or (name == "finance" and lang == "km"):
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                suffix = ("" if lang == "en" else "-km") + ("-phone" if width == 360 else "")
                page.screenshot(path=str(SCREENSHOTS / f"{name}{suffix}.png"), full_page=True)
    assert problems == [], "\n".join(problems)
