"""Long jobs of the desk pages: a ZIP of many documents (a year's downloads) is prepared
in the background while the page answers at once with the job's page, whose status
region says how far it is and turns into a download link when the file is ready
(``web/static/job.js`` asks every second; without JavaScript the "Check again" link
reloads the page).

* A job is a row of ``desk_jobs`` (migration 0020) owned by the user who started it: only
  they see it or fetch its file (another user's job does not exist: 404), and the pages
  admit them by the one policy (``api.access``).
* The runner is a thread of this process (one at a time). Each document is made by the
  API's own view for its link, called in this process as the owner (the policy's
  ``access_for(...).admits`` first; the document's audit event is written as for any
  download), so the file holds exactly what the download links give.
* Every step renews ``heartbeat_at``. A job that is queued or running but whose
  heartbeat is older than :data:`STALE` was cut off (the server stopped or restarted
  under it): it reads as failed ("interrupted") and can be tried again, as a failed job
  can. Nothing resumes by itself after a restart.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, jsonify, redirect, url_for
from flask_babel import gettext as _
from sqlalchemy import DateTime, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response as BaseResponse

from api.access import access, access_for, principal
from api.auth import principal_by_id
from api.session import close_session, db_session
from ledger import clock
from ledger.db import Base, sqlite_read_only
from ledger.tables import BigId
from web.views import _page

log = logging.getLogger("rdf.jobs")
bp = Blueprint("jobs", __name__, url_prefix="/app")

#: Who may start and fetch jobs (the downloads page's roles; admin always).
READ = ("finance", "auditor")
#: A queued or running job whose heartbeat is older than this was cut off.
STALE = timedelta(minutes=10)
#: Jobs listed on the downloads page.
RECENT = 5


class DeskJob(Base):
    """One long job of a desk page (append, then updated by its runner only)."""

    __tablename__ = "desk_jobs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = mapped_column(BigId)
    params: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10))
    done_steps: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    filename: Mapped[str | None] = mapped_column(String(200), nullable=True)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=clock.now().tzinfo)


def state_of(job: DeskJob) -> str:
    """queued | running | done | failed | interrupted (cut off: no heartbeat for STALE)."""
    if job.state in ("queued", "running") and clock.now() - _aware(job.heartbeat_at) > STALE:
        return "interrupted"
    return job.state


# --------------------------------------------------------------------------- the runner


class Runner:
    """One background thread per process runs the jobs in order."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rdf-job")
        self.pending: set[Future[None]] = set()
        self.lock = threading.Lock()

    def submit(self, app: Flask, job_id: int) -> None:
        future = self.pool.submit(run_job, app, job_id)
        with self.lock:
            self.pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self.lock:
            self.pending.discard(future)

    def wait(self, timeout: float = 120) -> None:
        """Until every job submitted so far has ended (tests, shutdown)."""
        with self.lock:
            pending = list(self.pending)
        for f in pending:
            f.result(timeout=timeout)


def runner(app: Flask) -> Runner:
    r = app.extensions.get("rdf_jobs")
    if r is None:
        r = app.extensions["rdf_jobs"] = Runner()
    assert isinstance(r, Runner)
    return r


def _update(app: Flask, job_id: int, **values: Any) -> None:
    """Write the job's progress in its own short transaction."""
    token = sqlite_read_only.set(False)
    try:
        with app.extensions["rdf_db"].session() as s:
            job = s.get(DeskJob, job_id)
            if job is None:
                return
            for k, v in values.items():
                setattr(job, k, v)
            job.heartbeat_at = clock.now()
            s.commit()
    finally:
        sqlite_read_only.reset(token)


def run_job(app: Flask, job_id: int) -> None:
    """Make the job's ZIP: each link fetched as its owner, then stored with the job."""
    with app.app_context():
        try:
            s = db_session()
            job = s.get(DeskJob, job_id)
            if job is None or job.state != "queued":
                return
            owner = principal_by_id(s, job.owner_id)
            links: list[dict[str, str]] = json.loads(job.params)["files"]
            close_session()
            if owner is None:
                raise PermissionError("the job's owner was revoked")
            _update(app, job_id, state="running", total_steps=len(links))
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
                for i, link in enumerate(links):
                    name, data = fetch_as(app, owner, link["path"])
                    zf.writestr(f"{i + 1:03d}-{name or link['name']}", data)
                    _update(app, job_id, done_steps=i + 1)
            _update(
                app,
                job_id,
                state="done",
                content=buffer.getvalue(),
                finished_at=clock.now(),
            )
        except Exception as exc:  # noqa: BLE001 - the job fails, the page says so
            log.exception("job %s failed", job_id)
            _update(app, job_id, state="failed", error=str(exc)[:500], finished_at=clock.now())
        finally:
            close_session()


DISPOSITION = re.compile(r'filename="([^"/\\]{1,150})"')


def fetch_as(app: Flask, who: Any, path: str) -> tuple[str | None, bytes]:
    """GET ``path`` (an API link) as ``who`` in this process: the policy's rule for the
    route admits them or the job fails; the answer's file name and bytes."""
    builder = EnvironBuilder(path=path, method="GET")
    token = sqlite_read_only.set(True)
    try:
        with app.request_context(builder.get_environ()) as ctx:
            request = ctx.request
            rule = access_for(app, request.endpoint or "", "GET")
            if request.endpoint is None or rule is None or not rule.admits(who):
                raise PermissionError(f"{who.name} may not GET {path}")
            g.rdf_principal = who
            try:
                rv = app.dispatch_request()
            except Exception as exc:  # noqa: BLE001 - answered as the API would
                rv = app.handle_user_exception(exc)
            response = app.process_response(app.make_response(rv))
            try:
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code}")
                data = b"".join(response.iter_encoded())
            finally:
                response.close()
            m = DISPOSITION.search(response.headers.get("Content-Disposition", ""))
            return (m.group(1) if m else None), data
    finally:
        sqlite_read_only.reset(token)
        close_session()
        builder.close()


# --------------------------------------------------------------------------- starting


def start(kind: str, title: str, files: list[dict[str, str]]) -> DeskJob:
    """A new job of the signed-in user (committed), handed to the runner."""
    s = db_session()
    now = clock.now()
    job = DeskJob(
        kind=kind,
        title=title[:200],
        owner_id=principal().user_id,
        params=json.dumps({"files": files}),
        state="queued",
        done_steps=0,
        total_steps=len(files),
        created_at=now,
        heartbeat_at=now,
        filename=re.sub(r"[^A-Za-z0-9._-]+", "-", title)[:150].strip("-") + ".zip",
    )
    s.add(job)
    s.commit()
    runner(current_app._get_current_object()).submit(  # type: ignore[attr-defined]
        current_app._get_current_object(),  # type: ignore[attr-defined]
        job.id,
    )
    return job


def recent(owner_id: int) -> list[dict[str, Any]]:
    """The user's latest jobs, newest first, as the pages show them."""
    rows = db_session().scalars(
        select(DeskJob)
        .where(DeskJob.owner_id == owner_id)
        .order_by(DeskJob.id.desc())
        .limit(RECENT)
    )
    return [view(j) for j in rows]


def _own(job_id: int) -> DeskJob:
    job = db_session().get(DeskJob, job_id)
    if job is None or job.owner_id != principal().user_id:
        abort(404)
    return job


def view(job: DeskJob) -> dict[str, Any]:
    state = state_of(job)
    return {
        "id": job.id,
        "title": job.title,
        "state": state,
        "done": job.done_steps,
        "total": job.total_steps,
        "text": _state_text(state, job.done_steps, job.total_steps),
        "error": job.error if state == "failed" else None,
        "page": url_for("jobs.job_page", job_id=job.id),
        "file": url_for("jobs.job_file", job_id=job.id, filename=job.filename or "job.zip")
        if state == "done"
        else None,
    }


def _state_text(state: str, done: int, total: int) -> str:
    if state == "done":
        return str(_("Ready: %(n)s files.", n=total))
    if state == "failed":
        return str(_("Failed."))
    if state == "interrupted":
        return str(_("Interrupted (the server stopped while it ran)."))
    if state == "queued":
        return str(_("Waiting to start."))
    return str(_("Preparing: %(done)s of %(total)s files.", done=done, total=total))


# --------------------------------------------------------------------------- pages


@bp.route("/jobs/<int:job_id>")
@access(*READ, page=True)
def job_page(job_id: int) -> str:
    return _page("jobs/job.html", job=view(_own(job_id)))


@bp.route("/jobs/<int:job_id>.json")
@access(*READ, page=True)
def job_json(job_id: int) -> Response:
    response = jsonify(view(_own(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/jobs/<int:job_id>/<string:filename>")
@access(*READ, page=True)
def job_file(job_id: int, filename: str) -> Response:
    """The job's ZIP (its name ends in .zip: the download is audited as a document)."""
    job = _own(job_id)
    if state_of(job) != "done" or job.content is None or filename != job.filename:
        abort(404)
    response = Response(job.content, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{job.filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/jobs/<int:job_id>/retry", methods=["POST"])
@access(*READ, page=True)
def retry(job_id: int) -> BaseResponse:
    """A failed or interrupted job again, as a new job with the same files."""
    job = _own(job_id)
    if state_of(job) not in ("failed", "interrupted"):
        return redirect(url_for("jobs.job_page", job_id=job.id), code=303)
    again = start(job.kind, job.title, json.loads(job.params)["files"])
    return redirect(url_for("jobs.job_page", job_id=again.id), code=303)
