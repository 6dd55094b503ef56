"""The audit trail: who did what, when, from which token.

Every write request (POST, PUT, PATCH, DELETE, whatever its answer) and every document
download (a PDF, a CSV or spreadsheet, by path, ``Accept`` or ``?format=``; anything under
``/statements/`` or ``/exports/``) leaves one row in ``audit_events``:

* a write that succeeds through ``ledger.web.run_write`` inserts its row in its own
  transaction, just before the commit (:func:`stage_event`): one commit, and the row
  exists exactly when the write was committed;
* everything else (refusals, failed or rolled-back writes, replays of an idempotent write,
  the per-record batch, document downloads) is written in its own short transaction after
  the answer is decided (:func:`record_response`, an ``after_request`` hook); a failure to
  write it is logged, never turned into a failed request.

Both rows are built by :func:`event_of` from the request and its answer, so they read the
same. The table is append-only: the database refuses UPDATE and DELETE (migration 0004).

Only the first 8 hex digits of the token's SHA-256 are kept: enough to tell two tokens of
one user apart (before and after a rotation), useless to anyone who reads the table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Flask, Request, Response, g
from sqlalchemy import BigInteger, DateTime, SmallInteger, String, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from api.auth import hash_token
from ledger import clock
from ledger.db import Base, sqlite_read_only
from ledger.tables import BigId

log = logging.getLogger("rdf.audit")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DOCUMENT_SUFFIXES = (".pdf", ".csv", ".xlsx", ".beancount", ".zip")
DOCUMENT_SEGMENTS = ("/statements/", "/exports/")
DOCUMENT_MIMES = (
    "text/csv",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)


class AuditEvent(Base):
    """One audited request (append-only)."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    user_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    role: Mapped[str | None] = mapped_column(String(12), nullable=True)
    token_hash_prefix: Mapped[str | None] = mapped_column(String(8), nullable=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(1000))
    status: Mapped[int] = mapped_column(SmallInteger)
    remote_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    object_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)


_INSERT_EVENT = insert(Base.metadata.tables[AuditEvent.__tablename__])


# --------------------------------------------------------------------------- what is audited


def is_document_download(
    method: str, path: str, accept: str, mimetype: str | None, fmt: str | None = None
) -> bool:
    """A GET that hands out a document (PDF, CSV, spreadsheet, statement, export)."""
    if method not in ("GET", "HEAD"):
        return False
    if fmt is not None and fmt.lower() in ("csv", "xlsx", "pdf"):
        return True
    lowered = path.lower()
    if lowered.endswith(DOCUMENT_SUFFIXES) or any(seg in lowered for seg in DOCUMENT_SEGMENTS):
        return True
    accept = accept.lower()
    if "text/csv" in accept or "spreadsheetml" in accept or "application/pdf" in accept:
        return True
    return mimetype in DOCUMENT_MIMES


def should_audit(
    method: str, path: str, accept: str, mimetype: str | None, fmt: str | None = None
) -> bool:
    return method in WRITE_METHODS or is_document_download(method, path, accept, mimetype, fmt)


def token_prefix(authorization: str) -> str | None:
    """First 8 hex digits of the SHA-256 of the presented bearer token, if any."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return hash_token(token[:500])[:8]


def object_ref(request: Request, response: Response) -> str | None:
    """What the request acted on: the created object's id, else the path's parameters."""
    if (
        200 <= response.status_code < 300
        and response.mimetype == "application/json"
        and not response.direct_passthrough
        and not response.is_streamed
    ):
        body = response.get_json(silent=True)
        if isinstance(body, dict):
            for key in ("id", "entry_id", "period", "code"):
                value = body.get(key)
                if isinstance(value, (str, int)) and not isinstance(value, bool):
                    return f"{key}={value}"[:200]
    if request.view_args:
        return ",".join(f"{k}={v}" for k, v in sorted(request.view_args.items()))[:200]
    return None


def event_of(request: Request, response: Response) -> dict[str, Any]:
    """The audit event of ``request`` answered by ``response`` (the columns' values)."""
    who = g.get("rdf_principal")
    query = request.query_string.decode("utf-8", "replace")
    path = request.path + (f"?{query}" if query else "")
    return dict(
        at=clock.now(),
        user_id=who.user_id if who else None,
        user_name=who.name if who else None,
        role=who.role if who else None,
        token_hash_prefix=token_prefix(request.headers.get("Authorization", "")),
        method=request.method[:10],
        path=path[:1000],
        status=response.status_code,
        remote_addr=(request.remote_addr or "")[:64] or None,
        object_ref=object_ref(request, response),
    )


def _audited(request: Request, response: Response) -> bool:
    return should_audit(
        request.method,
        request.path,
        request.headers.get("Accept", ""),
        response.mimetype,
        request.args.get("format"),
    )


def _storable(event: dict[str, Any]) -> bool:
    """No text a database may refuse (NUL, lone surrogates): such an event is written apart,
    where its failure is only logged, never inside the write it would then fail."""
    for value in event.values():
        if isinstance(value, str):
            if "\x00" in value:
                return False
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


#: ``g`` flag: this request's event went into its write's transaction, which committed.
_RECORDED = "rdf_audit_recorded"


def event_row(request: Request, response: Response) -> dict[str, Any] | None:
    """The audit event of a write answered by ``response``, as a row to insert with the
    write itself (``dispensing.service.write_one_trip``); None when it is to be written
    apart after the request, as for :func:`stage_event`. Never raises."""
    try:
        if not _audited(request, response):
            return None
        event = event_of(request, response)
        return event if _storable(event) else None
    except Exception:  # noqa: BLE001 - written apart by record_response instead
        log.exception("could not build the audit event of %s %s", request.method, request.path)
        return None


def stage_event(session: Session, request: Request, response: Response) -> bool:
    """Add the audit event of a write answered by ``response`` to ``session``, to commit
    with the write. True if added (then call :func:`event_committed` once the commit
    succeeded); False when it is to be written apart after the request, as for a refusal.
    Never raises: a write is never failed by building its audit event."""
    try:
        if not _audited(request, response):
            return False
        event = event_of(request, response)
        if not _storable(event):
            return False
        session.execute(_INSERT_EVENT, event)  # Core: no ORM object on the hot path
        return True
    except Exception:  # noqa: BLE001 - written apart by record_response instead
        log.exception("could not stage the audit event of %s %s", request.method, request.path)
        return False


def event_committed() -> None:
    """The write that carried this request's audit event committed: none is written after."""
    setattr(g, _RECORDED, True)


def record_response(app: Flask, request: Request, response: Response) -> Response:
    """``after_request``: write the audit event of an audited request (unless it was
    committed with the request's write); never fails the request."""
    try:
        if g.get(_RECORDED) or not _audited(request, response):
            return response
        event = event_of(request, response)
        _release_request_transaction(request)
        write_event(app, event)
    except Exception:  # noqa: BLE001 - the audit trail must never fail the request
        log.exception("could not write the audit event of %s %s", request.method, request.path)
    return response


def _release_request_transaction(request: Request) -> None:
    """A write request's answer is decided: end its transaction so, on SQLite, the audit
    insert does not wait behind the request's own write lock."""
    s: Session | None = g.get("rdf_session")
    if s is not None and request.method not in ("GET", "HEAD") and s.in_transaction():
        s.rollback()


def write_event(app: Flask, event: dict[str, Any]) -> None:
    token = sqlite_read_only.set(False)
    try:
        with app.extensions["rdf_db"].session() as s:
            s.execute(_INSERT_EVENT, event)
            s.commit()
    finally:
        sqlite_read_only.reset(token)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class EventPage:
    items: list[AuditEvent]
    next_after: int | None


def list_events(
    session: Session,
    *,
    limit: int,
    before_id: int | None = None,
    user: str | None = None,
    from_: date | None = None,
    to: date | None = None,
    what: str | None = None,
) -> EventPage:
    """Newest first; ``before_id`` continues a page; ``from_``/``to`` are inclusive days;
    ``what``: the method (``POST``, any case) or a part of the path (``/settlements``)."""
    q = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if before_id is not None:
        q = q.where(AuditEvent.id < before_id)
    if user is not None:
        q = q.where(AuditEvent.user_name == user)
    if what is not None:
        q = q.where(
            AuditEvent.path.contains(what, autoescape=True) | (AuditEvent.method == what.upper())
        )
    tz = clock.now().tzinfo
    if from_ is not None:
        q = q.where(AuditEvent.at >= datetime.combine(from_, time.min, tzinfo=tz))
    if to is not None:
        q = q.where(AuditEvent.at < datetime.combine(to + timedelta(days=1), time.min, tzinfo=tz))
    rows = list(session.scalars(q))
    more = len(rows) > limit
    rows = rows[:limit]
    return EventPage(rows, rows[-1].id if more and rows else None)
