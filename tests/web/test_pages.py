"""Every page × every role, in English and Khmer; another pharmacy's objects out of reach."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from dispensing.tables import Dispensing
from tests.web.conftest import sign_in
from web.catalogue import MO, compiled, read_catalogue
from web.i18n import money

PAGES = ["/app", "/app/dispense", "/app/today", "/app/stock", "/app/statements", "/app/care"]
OWN, OTHER = "P-TAKEO", "P-KAMPOT"
USERS = {
    "admin": set(PAGES),
    "finance": set(PAGES),
    "auditor": set(PAGES) - {"/app/dispense"},
    "pharmacist-p-takeo": set(PAGES),
    "educator-e-tk01": {"/app", "/app/care"},
}


def _dispensing_of(app: Flask, pharmacy: str) -> int:
    with app.extensions["rdf_db"].session() as s:
        d = s.scalar(select(Dispensing.id).where(Dispensing.pharmacy == pharmacy).limit(1))
    assert d is not None
    return int(d)


@pytest.mark.parametrize("user", sorted(USERS))
def test_every_page_answers_every_role_as_the_policy_says(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]], user: str
) -> None:
    sign_in(client, user)
    for path in PAGES:
        r = client.get(path)
        want = 200 if path in USERS[user] else 403
        assert r.status_code == want, (user, path, r.status_code)
    own, other = _dispensing_of(app, OWN), _dispensing_of(app, OTHER)
    for d, foreign in ((own, False), (other, True)):
        for path in (f"/app/dispensings/{d}", f"/app/dispensings/{d}/receipt"):
            r = client.get(path)
            want = 404 if foreign and user.startswith("pharmacist") else 200
            if user.startswith("educator"):
                want = 403  # an educator sees its patients' refills, not the counter's records
            assert r.status_code == want, (user, path, r.status_code)
    if user.startswith("pharmacist"):
        # the pharmacy of a page is the pharmacist's own, whatever the query says
        html = client.get(f"/app/stock?pharmacy={OTHER}").get_data(as_text=True)
        assert OWN in html and OTHER not in html
        assert client.get(f"/api/v1/dispensings/{other}").status_code == 404


def test_the_educator_gets_a_home_with_the_visit_list_and_sees_what_the_api_says(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "educator-e-tk01")
    home = client.get("/app").get_data(as_text=True)
    assert 'href="/app/care"' in home and "E-TK01" in home
    for other in ("/app/dispense", "/app/today", "/app/stock", "/app/statements"):
        assert f'href="{other}"' not in home
    html = client.get("/app/care").get_data(as_text=True)
    _name, token = fund["educator E-TK01"]
    api = client.get(
        "/api/v1/care/overdue-refills", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert api, "the demo has patients of E-TK01 overdue for a refill"
    for row in api:
        assert row["educator"] == "E-TK01"
        assert f'<strong class="patient">{row["patient"]}</strong>' in html
    assert html.count('class="patient"') == len(api)
    km = client.get("/app/care?lang=km").get_data(as_text=True)
    assert "បញ្ជីចុះសួរសុខទុក្ខ" in km


def test_khmer_is_chosen_with_lang_and_remembered(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "pharmacist-p-takeo")
    html = client.get("/app/dispense?lang=km").get_data(as_text=True)
    assert 'lang="km"' in html
    for khmer in ("អ្នកជំងឺ", "បន្ថែមឱសថ", "ការប៉ាន់តម្លៃ", "កត់ត្រាការផ្តល់ឱសថ"):
        assert khmer in html
    strings = json.loads(html.split('id="strings">', 1)[1].split("</script>", 1)[0])
    assert strings["medicine"] == "ឱសថ" and strings["quantity"] == "បរិមាណ"
    assert strings["days_supply"] == "ចំនួនថ្ងៃប្រើ"
    assert ">English<" in html
    again = client.get("/app/today").get_data(as_text=True)
    assert "ថ្ងៃនេះ" in again
    back = client.get("/app/today?lang=en").get_data(as_text=True)
    assert "Cash to collect" in back or "No dispensing today yet." in back


def test_every_message_has_a_khmer_translation_and_the_mo_is_current() -> None:
    catalogue = read_catalogue()
    untranslated = [m.id for m in catalogue if m.id and not m.string]
    assert untranslated == []
    assert MO.read_bytes() == compiled()


def test_amounts_are_grouped() -> None:
    assert money("1500", "KHR") == "1,500 ៛"
    assert money("12.5", "USD") == "12.50 $"
    assert money("1234567.05", "USD") == "1,234,567.05 $"
    assert money("-3000", "KHR") == "-3,000 ៛"


def test_the_patient_lookup_shows_the_scheme(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "pharmacist-p-takeo")
    assert client.get("/app/dispense/patient?code=NOBODY").get_json() == {"found": False}


def test_the_service_worker_is_served_for_the_whole_app(client: FlaskClient) -> None:
    r = client.get("/app/sw.js")
    text = r.get_data(as_text=True)
    r.close()
    assert r.status_code == 200 and r.mimetype == "text/javascript"
    assert "/app/dispense" in text
