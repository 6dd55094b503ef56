"""Long jobs of the desk pages: a ZIP of a period's documents answers at once with the
job's page, becomes ready, holds exactly the files of the download links, is its owner's
only, and a job cut off by a restart reads as interrupted and can be tried again."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from api.audit_trail import AuditEvent
from ledger import clock
from ledger.tables import User
from tests.web.conftest import sign_in
from web.desk import last_month
from web.jobs import DeskJob, runner


def _start(client: FlaskClient, csrf: str, period: str) -> str:
    r = client.post("/app/audit/downloads/zip", data={"csrf_token": csrf, "period": period})
    assert r.status_code == 303, r.get_data(as_text=True)
    return r.headers["Location"]


def test_a_zip_of_the_months_documents_becomes_ready_and_is_the_owners_only(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    csrf = sign_in(client, "auditor")
    month = last_month()
    page = _start(client, csrf, month)
    assert re.fullmatch(r"/app/jobs/\d+", page)
    first = client.get(page).get_data(as_text=True)
    assert 'role="status"' in first
    assert "Check again" in first or "Download the ZIP" in first
    runner(app).wait()
    state = client.get(f"{page}.json").get_json()
    assert state["state"] == "done" and state["done"] == state["total"] > 10, state
    html = client.get(page).get_data(as_text=True)
    assert state["file"] in html and "Check again" not in html
    r = client.get(state["file"])
    assert r.status_code == 200 and r.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.data)).namelist()
    assert len(names) == state["total"]
    # every file is the download link's answer, byte for byte for the CSVs
    downloads = client.get(f"/app/audit/downloads?month={month}").get_data(as_text=True)
    csv_links = [
        link.replace("&amp;", "&")
        for link in re.findall(r'href="(/api/v1/[^"]+format=csv)"', downloads)
    ]
    assert csv_links
    archive = zipfile.ZipFile(io.BytesIO(r.data))
    csvs = sorted(archive.read(n) for n in names if n.endswith(".csv"))
    direct = sorted(client.get(link).data for link in csv_links)
    assert csvs == direct
    assert any(n.endswith(".pdf") for n in names) and any(n.endswith(".beancount") for n in names)
    assert "rdf-documents-" in downloads  # listed on the downloads page
    with app.extensions["rdf_db"].session() as s:
        paths = [e.path for e in s.scalars(select(AuditEvent))]
    assert any(p.startswith("/app/jobs/") and p.endswith(".zip") for p in paths)
    assert any(p.startswith("/api/v1/reports/trial-balance.pdf") for p in paths)

    other = app.test_client()
    sign_in(other, "finance")
    assert other.get(page).status_code == 404
    assert other.get(state["file"]).status_code == 404
    assert other.get(f"{page}.json").status_code == 404
    pharmacist = app.test_client()
    sign_in(pharmacist, "pharmacist-p-takeo")
    assert pharmacist.get(page).status_code == 403


def test_bad_periods_and_no_csrf_start_nothing(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    csrf = sign_in(client, "finance")
    for period in ("", "1999", "2026-13", "x" * 50):
        r = client.post("/app/audit/downloads/zip", data={"csrf_token": csrf, "period": period})
        assert r.status_code == 404, period
    assert client.post("/app/audit/downloads/zip", data={"period": "2026"}).status_code == 400
    with app.extensions["rdf_db"].session() as s:
        assert s.scalars(select(DeskJob)).first() is None


def test_a_job_cut_off_by_a_restart_reads_interrupted_and_can_be_tried_again(
    app: Flask, client: FlaskClient, fund: dict[str, tuple[str, str]]
) -> None:
    csrf = sign_in(client, "finance")
    me = client.get("/app/audit/downloads").get_data(as_text=True)
    assert "Everything as one ZIP" in me
    with app.extensions["rdf_db"].session() as s:
        user_id = s.scalars(select(User.id).where(User.name == "finance")).one()
        long_ago = clock.now() - timedelta(hours=1)
        job = DeskJob(
            kind="downloads",
            title="rdf-documents-2026",
            owner_id=user_id,
            params='{"files": [{"path": "/api/v1/reports/trial-balance.pdf", "name": "tb.pdf"}]}',
            state="running",
            done_steps=3,
            total_steps=40,
            created_at=long_ago,
            heartbeat_at=long_ago,
            filename="rdf-documents-2026.zip",
        )
        s.add(job)
        s.commit()
        job_id = job.id
    html = client.get(f"/app/jobs/{job_id}").get_data(as_text=True)
    assert "Interrupted" in html and "Try again" in html
    assert client.get(f"/app/jobs/{job_id}/rdf-documents-2026.zip").status_code == 404
    r = client.post(f"/app/jobs/{job_id}/retry", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["Location"] != f"/app/jobs/{job_id}"
    runner(app).wait()
    again = client.get(f"{r.headers['Location']}.json").get_json()
    assert again["state"] == "done" and again["total"] == 1
