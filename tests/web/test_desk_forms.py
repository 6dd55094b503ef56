"""The finance forms work without JavaScript (a plain form post with its CSRF field goes
through the JSON API's validation, policy and audit), the receivables-ageing chart shows
the API's aged balances, and the audit downloads link the settlement and claim PDFs."""

from __future__ import annotations

import re
from calendar import monthrange
from html import unescape

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from api.audit_trail import AuditEvent
from invoices.settlement_tables import Settlement
from ledger.tables import Period
from tests.web.conftest import sign_in
from web.desk import last_month
from web.forms import json_body


def _alert(html: str) -> str:
    m = re.search(r'<p class="alert" role="alert">([^<]+)</p>', html)
    assert m, "no alert shown"
    return unescape(m.group(1))


def _status(html: str) -> str:
    m = re.search(r'<p id="done"[^>]*>([^<]*)</p>', html)
    assert m
    return unescape(m.group(1))


def test_the_form_body_is_the_json_apiform_js_sends() -> None:
    from werkzeug.datastructures import MultiDict

    body = json_body(
        MultiDict(
            [
                ("csrf_token", "x"),
                ("supplier", "S-CMS"),
                ("lines.0.medicine", "MET500"),
                ("lines.0.quantity", "100"),
                ("lines.0.total_cost", "5000"),
                ("lines.1.medicine", ""),
                ("lines.1.quantity", ""),
                ("lines.2.medicine", "AMX250"),
                ("lines.2.quantity", "1.5"),
                ("force", "on"),
            ]
        )
    )
    assert body == {
        "supplier": "S-CMS",
        "lines": [
            {"medicine": "MET500", "quantity": 100, "total_cost": "5000"},
            {"medicine": "AMX250", "quantity": "1.5"},  # the API says what is wrong
        ],
        "force": True,
    }


def test_settle_without_javascript_then_the_refusal_shows_the_apis_problem(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    csrf = sign_in(client, "finance")
    month = last_month()
    page = client.get(f"/app/finance/settlements?month={month}").get_data(as_text=True)
    action = re.search(r'action="(/app/finance/forms/settle[^"]*)"', page)
    assert action and f"month={month}" in action.group(1)
    r = client.post(
        unescape(action.group(1)), data={"csrf_token": csrf, "pharmacy": "P-TAKEO", "period": month}
    )
    assert r.status_code == 303 and r.headers["Location"].startswith("/app/finance/settlements")
    done = client.get(r.headers["Location"]).get_data(as_text=True)
    assert _status(done).startswith("Settled. #")
    with app.extensions["rdf_db"].session() as s:
        st = s.scalars(select(Settlement).where(Settlement.pharmacy == "P-TAKEO")).one()
        assert st.period == month
        events = s.scalars(select(AuditEvent).where(AuditEvent.method == "POST")).all()
        paths = [e.path for e in events]
        assert "/api/v1/settlements" in paths  # the act is audited as the API call
        assert not any(p.startswith("/app/finance/forms") for p in paths)
    again = client.post(
        "/app/finance/forms/settle",
        data={"csrf_token": csrf, "pharmacy": "P-TAKEO", "period": month},
    )
    api = client.post(
        "/api/v1/settlements",
        json={"pharmacy": "P-TAKEO", "period": month},
        headers={"X-CSRFToken": csrf},
    )
    assert again.status_code == api.status_code and again.status_code >= 400
    assert api.get_json()["detail"] in _alert(again.get_data(as_text=True))
    bad = client.post(
        "/app/finance/forms/settle",
        data={"csrf_token": csrf, "pharmacy": "P-TAKEO", "period": month, "extra": "x"},
    )
    assert bad.status_code == 422 and "extra" in _alert(bad.get_data(as_text=True))


def test_without_csrf_or_as_an_auditor_nothing_is_written(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "finance")
    month = last_month()
    r = client.post("/app/finance/forms/settle", data={"pharmacy": "P-TAKEO", "period": month})
    assert r.status_code == 400
    auditor = app.test_client()
    csrf = sign_in(auditor, "auditor")
    r = auditor.post(
        "/app/finance/forms/settle",
        data={"csrf_token": csrf, "pharmacy": "P-TAKEO", "period": month},
    )
    assert r.status_code == 403
    assert auditor.post("/app/finance/forms/nothing", data={"csrf_token": csrf}).status_code in (
        403,
        404,
    )
    with app.extensions["rdf_db"].session() as s:
        assert s.scalar(select(func.count(Settlement.id))) == 0


def test_receive_import_match_unmatch_and_close_without_javascript(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    csrf = sign_in(client, "finance")
    month = last_month()
    r = client.post(
        "/app/finance/forms/receive",
        data={
            "csrf_token": csrf,
            "supplier": "S-CMS",
            "location": "CENTRAL",
            "date": f"{month}-05",
            "lines.0.medicine": "MET500",
            "lines.0.lot": "PLAIN-1",
            "lines.0.expiry": "2030-01-31",
            "lines.0.quantity": "100",
            "lines.0.total_cost": "5000",
            "lines.1.medicine": "",
        },
    )
    assert r.status_code == 303, r.get_data(as_text=True)
    day = f"{month}-20"
    csv = f"date,amount,currency,reference,description\n{day},2500,KHR,PLAIN-UNKNOWN,nobody\n"
    from io import BytesIO

    r = client.post(
        f"/app/finance/forms/import?month={month}",
        data={"csrf_token": csrf, "file": (BytesIO(csv.encode()), "statement.csv", "text/csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 303, r.get_data(as_text=True)
    rec = client.get(f"/api/v1/reconciliation?period={month}").get_json()
    line = next(ln for ln in rec["unmatched_bank_lines"] if ln["reference"] == "PLAIN-UNKNOWN")
    r = client.post(
        f"/app/finance/forms/payment?month={month}",
        data={
            "csrf_token": csrf,
            "date": day,
            "direction": "in",
            "counterparty.kind": "pharmacy",
            "counterparty.code": "P-TAKEO",
            "amount": "2500",
            "currency": "KHR",
            "reference": "PLAIN-UNKNOWN",
        },
    )
    assert r.status_code == 303, r.get_data(as_text=True)
    rec = client.get(f"/api/v1/reconciliation?period={month}").get_json()
    pay = next(p for p in rec["unmatched_payments"] if p["reference"] == "PLAIN-UNKNOWN")
    wrong = client.post(
        f"/app/finance/forms/match/{line['id']}?month={month}",
        data={"csrf_token": csrf, "payment_id": "999999"},
    )
    assert wrong.status_code >= 400 and _alert(wrong.get_data(as_text=True))
    r = client.post(
        f"/app/finance/forms/match/{line['id']}?month={month}",
        data={"csrf_token": csrf, "payment_id": str(pay["id"])},
    )
    assert r.status_code == 303 and f"month={month}" in r.headers["Location"]
    rec = client.get(f"/api/v1/reconciliation?period={month}").get_json()
    kinds = {m["bank_line"]["reference"]: m["match_kind"] for m in rec["matched"]}
    assert kinds["PLAIN-UNKNOWN"] == "manual"
    r = client.post(
        f"/app/finance/forms/unmatch/{line['id']}?month={month}", data={"csrf_token": csrf}
    )
    assert r.status_code == 303
    rec = client.get(f"/api/v1/reconciliation?period={month}").get_json()
    assert any(ln["id"] == line["id"] for ln in rec["unmatched_bank_lines"])

    refused = client.post(
        f"/app/finance/forms/close/{month}?month={month}", data={"csrf_token": csrf}
    )
    assert refused.status_code == 409 and _alert(refused.get_data(as_text=True))
    r = client.post(
        f"/app/finance/forms/close/{month}?month={month}",
        data={"csrf_token": csrf, "force": "on", "reason": "closed without JavaScript"},
    )
    assert r.status_code == 303, r.get_data(as_text=True)
    with app.extensions["rdf_db"].session() as s:
        period = s.scalars(select(Period).where(Period.period == month)).one()
        assert period.status == "closed" and period.forced


def test_the_transfer_preview_without_javascript_posts_nothing(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    csrf = sign_in(client, "finance")
    r = client.post(
        "/app/finance/forms/transfer",
        data={
            "csrf_token": csrf,
            "preview": "1",
            "from": "CENTRAL",
            "to": "P-TAKEO",
            "lines.0.medicine": "MET500",
            "lines.0.quantity": "10",
        },
    )
    assert r.status_code == 200 and 'id="fefo"' in r.get_data(as_text=True)


def test_the_ageing_chart_shows_the_apis_aged_balances(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    month = last_month()
    sign_in(client, "finance")
    y, m = (int(x) for x in month.split("-"))
    end = f"{month}-{monthrange(y, m)[1]:02d}"
    aged = client.get(f"/api/v1/reports/aged-balances?as_of={end}").get_json()
    items = [i for i in aged["items"] if i["currency"] == "KHR"]
    assert items, "the demo month leaves receivables"
    r = client.get(f"/app/finance/charts/ageing.svg?month={month}")
    assert r.status_code == 200 and b"<script" not in r.data
    svg = r.get_data(as_text=True)
    shown = re.findall(r'<desc class="value">([^<]*)</desc>', svg)
    want = [i[b] for b in aged["buckets"] for i in items]  # a series per bucket
    assert shown == want
    for i in items:
        assert f">{i['counterparty']}<" in svg
    page = client.get(f"/app/finance?month={month}").get_data(as_text=True)
    assert "charts/ageing.svg" in page and "by age in days" in page
    km = client.get(f"/app/finance/charts/ageing.svg?month={month}&lang=km")
    assert b"@font-face" in km.data and "font-src data:" in km.headers["Content-Security-Policy"]
    assert b"@font-face" not in r.data  # English needs no embedded font


def test_the_audit_downloads_link_the_settlement_and_claim_pdfs(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    csrf = sign_in(client, "finance")
    month = last_month()
    made = client.post(
        "/api/v1/settlements",
        json={"pharmacy": "P-TAKEO", "period": month},
        headers={"X-CSRFToken": csrf},
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    auditor = client.application.test_client()
    sign_in(auditor, "auditor")
    html = auditor.get(f"/app/audit/downloads?month={month}").get_data(as_text=True)
    link = f"/api/v1/settlements/{made.get_json()['id']}.pdf"
    assert f'href="{link}"' in html
    r = auditor.get(link)
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
