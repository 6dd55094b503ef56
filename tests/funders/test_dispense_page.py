"""The pharmacist's dispense page says the scheme's budget is spent before the dispensing
is recorded: the quote answers ``budget_exhausted`` and the page shows a note for it, in
English and Khmer."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskClient

from tests.web.conftest import fund, sign_in  # noqa: F401 - fixture

SCRIPT = Path(__file__).resolve().parents[2] / "web" / "static" / "dispense.js"


def strings_of(html: str) -> dict[str, str]:
    return json.loads(html.split('id="strings">', 1)[1].split("</script>", 1)[0])  # type: ignore[no-any-return]


def test_the_dispense_page_has_the_budget_note_in_english_and_khmer(
    client: FlaskClient,
    fund: dict[str, tuple[str, str]],  # noqa: F811
) -> None:
    sign_in(client, "pharmacist-p-takeo")
    en = strings_of(client.get("/app/dispense?lang=en").get_data(as_text=True))
    assert en["budget_exhausted"].startswith("The scheme's budget is spent")
    km = strings_of(client.get("/app/dispense?lang=km").get_data(as_text=True))
    assert km["budget_exhausted"].startswith("ថវិការបស់គម្រោងបានអស់ហើយ")
    assert "answer.budget_exhausted ? T.budget_exhausted" in SCRIPT.read_text(encoding="utf-8")
