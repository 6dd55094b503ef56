"""Sign-in: passwords, the alert, CSRF, cookie flags, no session fixation, throttling."""

from __future__ import annotations

import re
import subprocess
import sys

from flask import Flask
from flask.testing import FlaskClient

from api.auth import MAX_FAILURES
from tests.web.conftest import csrf_of, sign_in


def _login_form(client: FlaskClient) -> str:
    return csrf_of(client.get("/app/login").get_data(as_text=True))


def test_root_and_pages_send_an_anonymous_browser_to_sign_in(client: FlaskClient) -> None:
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/app")
    r = client.get("/app/today")
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/app/login?next=/app/today")


def test_a_pharmacist_signs_in_and_sees_its_home(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "pharmacist-p-takeo")
    html = client.get("/app").get_data(as_text=True)
    assert 'aria-label="Main"' in html and "Sign out" in html and "ភាសាខ្មែរ" in html
    assert "/app/dispense" in html


def test_a_wrong_password_shows_an_alert_naming_neither_part(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    token = _login_form(client)
    wrong_password = client.post(
        "/app/login",
        data={"username": "finance", "password": "nope-nope-nope", "csrf_token": token},
    )
    unknown_user = client.post(
        "/app/login", data={"username": "nobody", "password": "nope-nope-nope", "csrf_token": token}
    )
    for r in (wrong_password, unknown_user):
        html = r.get_data(as_text=True)
        assert r.status_code == 401
        assert 'role="alert"' in html
        assert "The user name or the password is not right." in html
    # the same page either way: nothing tells which part was wrong (but the fresh CSRF
    # token, which is signed with the time and so differs from one second to the next)
    assert _without_csrf(wrong_password.get_data(as_text=True)) == _without_csrf(
        unknown_user.get_data(as_text=True)
    )


def _without_csrf(html: str) -> str:
    masked = re.sub(r'(name="csrf_token"[^>]*value=")[^"]*"', r'\1…"', html)
    masked = re.sub(r'(name="csrf-token"[^>]*content=")[^"]*"', r'\1…"', masked)
    assert masked.count("…") >= 1, "the page carries a CSRF token"
    return masked


def test_sign_in_without_the_csrf_token_is_refused(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    client.get("/app/login")
    r = client.post("/app/login", data={"username": "finance", "password": "finance-demo-2026"})
    assert r.status_code == 400
    assert client.get("/app").status_code == 302


def test_a_session_write_without_the_csrf_header_is_refused(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    csrf = sign_in(client, "pharmacist-p-takeo")
    body = {
        "pharmacy": "P-TAKEO",
        "patient": None,
        "service_date": "2026-01-01",
        "items": [{"medicine": "MET500", "quantity": 1}],
    }
    refused = client.post("/api/v1/dispensings/quote", json=body)
    assert refused.status_code == 400
    assert "CSRF" in refused.get_json()["detail"]
    # reads need no token; the same write with the header is admitted
    assert client.get("/api/v1/dispensings?limit=1").status_code == 200
    admitted = client.post("/api/v1/dispensings/quote", json=body, headers={"X-CSRFToken": csrf})
    assert admitted.status_code not in (400, 401, 403), admitted.get_json()
    # sign-out is a form write too
    assert client.post("/app/logout").status_code == 400


def test_the_session_cookie_is_httponly_lax_and_secure_outside_development(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    token = _login_form(client)
    r = client.post(
        "/app/login",
        data={"username": "finance", "password": "finance-demo-2026", "csrf_token": token},
    )
    cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie" and "session=" in v)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_development_cookies_are_not_secure() -> None:
    code = (
        "import os; os.environ['RDF_ENV']='development'; from app import create_app; "
        "a=create_app({'DATABASE_URL':'sqlite://'}); print(a.config['SESSION_COOKIE_SECURE'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_session_is_new_after_sign_in(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    before_token = _login_form(client)
    before = client.get_cookie("session")
    assert before is not None
    client.post(
        "/app/login",
        data={"username": "finance", "password": "finance-demo-2026", "csrf_token": before_token},
    )
    after = client.get_cookie("session")
    assert after is not None and after.value != before.value
    after_token = csrf_of(client.get("/app").get_data(as_text=True))
    assert after_token != before_token
    # the cookie from before sign-in does not open the pages (no fixation)
    client.set_cookie("session", before.value)
    assert client.get("/app").status_code == 302


def test_sign_out_ends_the_session(client: FlaskClient, fund: dict[str, tuple[str, str]]) -> None:
    csrf = sign_in(client, "auditor")
    r = client.post("/app/logout", data={"csrf_token": csrf})
    assert r.status_code == 302 and r.headers["Location"] == "/app/login"
    assert client.get("/app").status_code == 302
    assert client.get("/api/v1/dispensings").status_code == 401


def test_sign_in_is_throttled_per_user_name(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    token = _login_form(client)
    for _ in range(MAX_FAILURES):
        r = client.post(
            "/app/login",
            data={"username": "finance", "password": "wrong-wrong", "csrf_token": token},
        )
        assert r.status_code == 401
    r = client.post(
        "/app/login",
        data={"username": "finance", "password": "finance-demo-2026", "csrf_token": token},
    )
    assert r.status_code == 429
    assert "Too many failed attempts" in r.get_data(as_text=True)


def test_sign_in_is_throttled_per_address(app: Flask, fund: dict[str, tuple[str, str]]) -> None:
    client = app.test_client()
    token = _login_form(client)
    for i in range(MAX_FAILURES):
        client.post(
            "/app/login",
            data={"username": f"guess-{i}", "password": "wrong-wrong", "csrf_token": token},
        )
    r = client.post(
        "/app/login",
        data={"username": "auditor", "password": "auditor-demo-2026", "csrf_token": token},
    )
    assert r.status_code == 429


def test_a_revoked_user_is_signed_out(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    from api.auth import revoke

    sign_in(client, "auditor")
    with app.extensions["rdf_db"].session() as s:
        revoke(s, "auditor")
        s.commit()
    assert client.get("/app").status_code == 302


def test_pages_carry_a_csp_without_inline_script(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    sign_in(client, "pharmacist-p-takeo")
    for path in ("/app/login", "/app", "/app/dispense"):
        r = client.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        html = r.get_data(as_text=True)
        assert "<script>" not in html and "onclick" not in html


def test_bearer_tokens_work_as_before(
    client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    token = fund["finance"][1]
    r = client.get("/api/v1/dispensings?limit=1", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
