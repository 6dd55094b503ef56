"""The pharmacist's day in real Chromium: sign in, quote, record, offline outbox, refusal,
sign-out, another pharmacy out of reach, accessibility (axe-core) and screenshots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import axe_playwright_python
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, sign_in

OWN, OTHER = "P-TAKEO", "P-KAMPOT"
PHARMACIST = "pharmacist-p-takeo"
AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def api(live_server: dict[str, Any], page: Any, path: str, role: str = "finance") -> Any:
    token = live_server["tokens"][role][1]
    r = page.request.get(path, headers={"Authorization": f"Bearer {token}"})
    assert r.ok, r.text()
    return r.json()


def record(page: Any, patient: str, medicine: str, quantity: int) -> None:
    page.get_by_label("Patient").fill(patient)
    page.get_by_label("Medicine").last.fill(medicine)
    page.get_by_label("Quantity").last.fill(str(quantity))
    page.get_by_role("button", name="Record dispensing").click()


def test_record_a_dispensing_and_the_quote_equals_the_books(
    page_at: Any, live_server: dict[str, Any]
) -> None:
    page = page_at()
    sign_in(page, PHARMACIST)
    page.goto("/app/dispense")
    page.get_by_label("Patient").fill("M-00001")
    expect(page.locator("#patient-info")).to_contain_text("%")
    page.get_by_label("Medicine").first.fill("MET500")
    page.get_by_label("Quantity").first.fill("60")
    page.get_by_label("Days supply").first.fill("30")
    quote = page.get_by_role("region", name="Quote")
    expect(quote.locator("#q-price")).to_have_text(re.compile(r"^\d[\d,]* ៛$"))
    price = quote.locator("#q-price").inner_text()
    subsidy = quote.locator("#q-subsidy").inner_text()
    pays = quote.locator("#q-pays").inner_text()
    page.get_by_role("button", name="Record dispensing").click()
    status = page.get_by_role("status", name="Last record")
    expect(status).to_contain_text(pays)
    href = status.get_by_role("link", name="Receipt").get_attribute("href")
    assert href is not None
    dispensing_id = href.split("/")[3]
    books = api(live_server, page, f"/api/v1/dispensings/{dispensing_id}")
    assert books["pharmacy"] == OWN and books["patient"] == "M-00001"
    assert f"{int(books['total_price']):,} ៛" == price
    assert f"{int(books['total_subsidy']):,} ៛" == subsidy
    assert f"{int(books['total_copayment']):,} ៛" == pays
    expect(page.get_by_role("status", name="Outbox")).to_have_text("Waiting to send: 0")
    page.goto(href)
    expect(page.get_by_role("heading", name="Receipt")).to_be_visible()


def test_offline_records_wait_then_are_sent_exactly_once(
    page_at: Any, live_server: dict[str, Any]
) -> None:
    page = page_at()
    sign_in(page, PHARMACIST)
    page.goto("/app/dispense")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the service worker
    patients = ["M-00151", "M-00152", "M-00153"]
    page.context.set_offline(True)
    for p in patients:
        record(page, p, "MET500", 10)
        expect(page.get_by_role("status", name="Last record")).to_contain_text(
            "Saved on this phone"
        )
    outbox = page.get_by_role("status", name="Outbox")
    expect(outbox).to_have_text("Waiting to send: 3")
    page.reload()  # offline: the app shell comes from the service worker, the queue from IndexedDB
    expect(page.get_by_role("status", name="Outbox")).to_have_text("Waiting to send: 3")
    page.context.set_offline(False)
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_role("status", name="Outbox")).to_have_text("Waiting to send: 0")
    items = page.locator("#outbox-list li")
    for p in patients:
        expect(items.filter(has_text=p)).to_have_count(1)
        expect(items.filter(has_text=p).locator(".state")).to_have_text("Sent")
        found = api(live_server, page, f"/api/v1/dispensings?patient={p}&pharmacy={OWN}")
        assert len(found["items"]) == 1, found
    # sending again (another tap, a reload) books nothing more
    page.get_by_role("button", name="Send now").click()
    page.reload()
    expect(page.get_by_role("status", name="Outbox")).to_have_text("Waiting to send: 0")
    for p in patients:
        assert len(api(live_server, page, f"/api/v1/dispensings?patient={p}")["items"]) == 1


def test_a_refused_record_shows_its_problem(page_at: Any) -> None:
    page = page_at()
    sign_in(page, PHARMACIST)
    page.goto("/app/dispense")
    record(page, "M-00160", "MET500", 9_000_000)
    status = page.get_by_role("status", name="Last record")
    expect(status).to_contain_text("Refused")
    expect(page.locator("#outbox-list li").first.locator(".problem")).to_contain_text(
        re.compile(r"\w+ \w+")
    )
    expect(page.get_by_role("status", name="Outbox")).to_have_text("Waiting to send: 0")


def test_wrong_password_alert_and_sign_out(page_at: Any) -> None:
    page = page_at()
    page.goto("/app/login")
    page.get_by_label("Username").fill(PHARMACIST)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The user name or the password is not right.")
    sign_in(page, PHARMACIST)
    nav = page.get_by_role("navigation")
    nav.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/app/login")
    page.goto("/app/today")
    assert "/app/login" in page.url


def test_another_pharmacys_dispensing_is_out_of_reach(
    page_at: Any, live_server: dict[str, Any]
) -> None:
    page = page_at()
    sign_in(page, PHARMACIST)
    other = api(live_server, page, f"/api/v1/dispensings?pharmacy={OTHER}&limit=1")["items"][0]
    for path in (f"/app/dispensings/{other['id']}", f"/app/dispensings/{other['id']}/receipt"):
        r = page.goto(path)
        assert r is not None and r.status == 404
    assert page.request.get(f"/api/v1/dispensings/{other['id']}").status == 404


PAGES = {
    "login": "/app/login",
    "home": "/app",
    "dispense": "/app/dispense",
    "today": "/app/today",
    "stock": "/app/stock",
    "statements": "/app/statements",
    "dispensing": "/app/dispensings/{own}",
    "receipt": "/app/dispensings/{own}/receipt",
}


def _serious(page: Any) -> list[str]:
    page.evaluate(AXE)
    found: list[str] = page.evaluate(
        """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"""
    )
    return found


@pytest.mark.parametrize("lang", ["en", "km"])
def test_every_page_passes_axe_and_fits_a_phone(
    page_at: Any, live_server: dict[str, Any], lang: str
) -> None:
    own = None
    problems: list[str] = []
    for width, height in ((360, 740), (1280, 800)):
        page = page_at(width, height)
        page.goto(f"/app/login?lang={lang}")
        if own is None:
            own = api(live_server, page, f"/api/v1/dispensings?pharmacy={OWN}&limit=1")["items"][0][
                "id"
            ]
        for name, path in PAGES.items():
            if name == "login":
                page.goto(f"{path}?lang={lang}")
            else:
                if name == "home":
                    page.get_by_label("ឈ្មោះអ្នកប្រើ" if lang == "km" else "Username").fill(PHARMACIST)
                    page.get_by_label("ពាក្យសម្ងាត់" if lang == "km" else "Password").fill(
                        f"{PHARMACIST}-demo-2026"
                    )
                    page.get_by_role("button", name="ចូល" if lang == "km" else "Sign in").click()
                    page.wait_for_url("**/app")
                page.goto(path.format(own=own))
            assert page.locator("html").get_attribute("lang") == lang
            for v in _serious(page):
                problems.append(f"{lang} {width}px {name}: {v}")
            if width == 360:
                scroll = page.evaluate("document.documentElement.scrollWidth")
                if scroll > 360:
                    problems.append(f"{lang} 360px {name}: {scroll}px wide")
                if lang == "en" or name in ("dispense", "login"):
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    suffix = "" if lang == "en" else "-km"
                    page.screenshot(path=str(SCREENSHOTS / f"{name}{suffix}.png"), full_page=True)
    assert problems == [], "\n".join(problems)
