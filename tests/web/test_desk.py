"""The desk pages (finance, audit, admin): every page × every role as the policy says,
another pharmacy's objects out of reach, figures equal to the API's, the FEFO preview
posts nothing, the last admin cannot be revoked, every new message has its Khmer."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from ledger.tables import Entry, User
from tests.web.conftest import sign_in
from web.desk import last_month

FINANCE_PAGES = [
    "/app/finance/stock",
    "/app/finance/settlements",
    "/app/finance/bank",
    "/app/finance/close",
]
READ_PAGES = ["/app/finance", "/app/audit", "/app/audit/downloads"]
ADMIN_PAGES = ["/app/admin/users"]
DESK = FINANCE_PAGES + READ_PAGES + ADMIN_PAGES + ["/app/finance/charts/stock.svg"]
USERS = {
    "admin": set(DESK),
    "finance": set(FINANCE_PAGES + READ_PAGES + ["/app/finance/charts/stock.svg"]),
    "auditor": set(READ_PAGES + ["/app/finance/charts/stock.svg"]),
    "pharmacist-p-takeo": set(),
}


@pytest.mark.parametrize("user", sorted(USERS))
def test_every_desk_page_answers_every_role_as_the_policy_says(
    client: FlaskClient, fund: dict[str, tuple[str, str]], user: str
) -> None:
    sign_in(client, user)
    for i, path in enumerate(DESK):
        lang = ("en", "km")[i % 2]
        r = client.get(f"{path}?lang={lang}")
        want = 200 if path in USERS[user] else 403
        assert r.status_code == want, (user, path, r.status_code)
        if want == 200 and not path.endswith(".svg"):
            assert f'lang="{lang}"' in r.get_data(as_text=True)


def test_anonymous_is_sent_to_sign_in(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    for path in DESK:
        r = client.get(path)
        assert r.status_code == 302 and "/app/login" in r.headers["Location"], path


def test_a_pharmacist_reaches_no_other_pharmacys_documents_from_the_desk(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "pharmacist-p-takeo")
    assert client.get(f"/app/audit/downloads?month={last_month()}").status_code == 403
    assert (
        client.get(f"/api/v1/statements/pharmacies/P-KAMPOT?period={last_month()}").status_code
        == 404
    )
    assert client.get("/app/finance?pharmacy=P-KAMPOT").status_code == 403


def _token(fund: dict[str, tuple[str, str]], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {fund[role][1]}"}


def test_the_fund_page_shows_the_apis_figures(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    month = last_month()
    sign_in(client, "finance")
    html = client.get(f"/app/finance?month={month}").get_data(as_text=True)
    api = client.application.test_client()
    y, m = month.split("-")
    from calendar import monthrange

    end = f"{month}-{monthrange(int(y), int(m))[1]:02d}"
    health = api.get(
        f"/api/v1/reports/fund-health?from={month}-01&to={end}", headers=_token(fund, "finance")
    ).get_json()
    sheet = api.get(
        f"/api/v1/reports/balance-sheet?as_of={end}", headers=_token(fund, "finance")
    ).get_json()
    aged = api.get(
        f"/api/v1/reports/aged-balances?as_of={end}", headers=_token(fund, "finance")
    ).get_json()
    ratio = re.search(r'id="cost-recovery" data-ratio="([^"]*)"', html)
    assert ratio and ratio.group(1) == (health["ratios"]["cost_recovery"] or "")
    cap = re.search(r'id="capital-preservation" data-ratio="([^"]*)"', html)
    assert cap and cap.group(1) == (health["ratios"]["capital_preservation"] or "")
    losses = re.search(r'id="expiry-losses" data-amount="([^"]*)"', html)
    assert losses and losses.group(1) == health["figures"]["expiry_losses"]
    for cur in sheet["currencies"]:
        for line in cur["assets"]:
            if line["account"].startswith(("1010", "1020", "1400-")):
                assert f'data-amount="{line["amount"]}"' in html, line
    assert aged["items"], "the demo month leaves receivables"
    for item in aged["items"]:
        assert f'data-account="{item["account"]}"' in html
        assert f'data-amount="{item["total"]}"' in html


def test_the_charts_are_svg_without_script(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "finance")
    for name in ("cost-recovery", "cash", "stock"):
        r = client.get(f"/app/finance/charts/{name}.svg")
        assert r.status_code == 200 and r.mimetype == "image/svg+xml"
        assert b"<script" not in r.data and b"<title" in r.data
        assert "script-src" not in r.headers["Content-Security-Policy"]
    assert client.get("/app/finance/charts/nothing.svg").status_code == 404


def test_the_fefo_preview_shows_the_lots_and_posts_nothing(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "finance")
    with app.extensions["rdf_db"].session() as s:
        before = s.scalar(select(func.count(Entry.id)))
    html = client.get(
        "/app/finance/stock?preview=1&from=CENTRAL&to=P-TAKEO"
        "&lines.0.medicine=MET500&lines.0.quantity=50"
    ).get_data(as_text=True)
    assert 'id="fefo"' in html and "MET500" in html
    short = client.get(
        "/app/finance/stock?preview=1&from=CENTRAL&lines.0.medicine=MET500"
        "&lines.0.quantity=99999999"
    ).get_data(as_text=True)
    assert 'class="alert"' in short
    with app.extensions["rdf_db"].session() as s:
        assert s.scalar(select(func.count(Entry.id))) == before


def test_the_close_checklist_names_what_to_do(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "finance")
    html = client.get(f"/app/finance/close?month={last_month()}").get_data(as_text=True)
    assert "Every pharmacy&#39;s month is settled" in html or "Every pharmacy's month" in html
    assert "P-TAKEO" in html and "Close month" in html


def test_the_auditor_verifies_and_filters_the_trail(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "auditor")
    html = client.get("/app/audit?verify=1").get_data(as_text=True)
    assert "The books are intact" in html
    trail = client.get("/app/audit?who=nobody").get_data(as_text=True)
    assert "No event matches." in trail
    finance = client.application.test_client()
    sign_in(finance, "finance")
    assert 'id="trail"' not in finance.get("/app/audit").get_data(as_text=True)


def test_downloads_link_every_document(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "auditor")
    html = client.get(f"/app/audit/downloads?month={last_month()}").get_data(as_text=True)
    links = re.findall(r'href="(/api/v1/[^"]+)"', html)
    assert len(links) >= 12
    for link in links:
        r = client.get(link.replace("&amp;", "&"))
        assert r.status_code == 200, (link, r.status_code)
        r.close()


def test_the_admin_creates_sets_a_password_and_cannot_revoke_the_last_admin(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    csrf = sign_in(client, "admin")
    r = client.post(
        "/app/admin/users",
        data={
            "csrf_token": csrf,
            "action": "create",
            "username": "new-pharmacist",
            "role": "pharmacist",
            "pharmacy": "P-KAMPOT",
            "password": "a-long-enough-password",
        },
    )
    assert r.status_code == 302
    refused = client.post(
        "/app/admin/users",
        data={"csrf_token": csrf, "action": "create", "username": "x", "role": "pharmacist"},
    )
    assert refused.status_code == 422 and 'role="alert"' in refused.get_data(as_text=True)
    last = client.post(
        "/app/admin/users", data={"csrf_token": csrf, "action": "revoke", "username": "admin"}
    )
    assert last.status_code == 409 and "last admin" in last.get_data(as_text=True)
    no_csrf = client.post("/app/admin/users", data={"action": "revoke", "username": "finance"})
    assert no_csrf.status_code == 400
    with app.extensions["rdf_db"].session() as s:
        user = s.scalars(select(User).where(User.name == "new-pharmacist")).one()
        assert user.pharmacy == "P-KAMPOT" and user.revoked_at is None
    other = app.test_client()
    sign_in(other, "new-pharmacist", "a-long-enough-password")
    assert other.get("/app/admin/users").status_code == 403
