"""Idempotent writes over HTTP: a key from the header or the body, the stored answer
replayed byte for byte, one transaction with its audit event."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, request
from marshmallow import Schema
from sqlalchemy.orm import Session

from api.access import principal
from api.audit_trail import event_committed, event_row, stage_event
from api.session import db_session
from ledger import clock
from ledger.errors import InvalidRequest, StaleWrite
from ledger.idempotency import answer_key, claim_key, stored_answer
from ledger.posting import request_hash
from ledger.uow import UnitOfWork
from ledger.uow import run as uow_run

F = TypeVar("F", bound=Callable[..., Any])
#: Writes a planned one-trip write with its idempotency rows and audit events.
OneTripWrite = Callable[[list[dict[str, Any]], list[dict[str, Any]]], None]


def owner_scope() -> str:
    """Whose stored answers a key names, keyed by kind so no two kinds meet: a pharmacist's
    is their pharmacy's (``pharmacy:P1``: the pharmacy's phones share their keys), anyone
    else's their own (``user:7``). A pharmacy coded ``7`` and user 7 never share a key."""
    p = principal()
    return f"pharmacy:{p.pharmacy}" if p.is_pharmacist else f"user:{p.user_id}"


def _scope() -> str:
    return f"{request.endpoint}:{owner_scope()}"


def replay_or_conflict(session: Session, scope: str, key: str, body_hash: str) -> Response | None:
    row = stored_answer(session, scope, key, body_hash)
    if row is None:
        return None
    return Response(row.response_body, status=row.status_code, mimetype="application/json")


def run_write(
    work: Callable[[], Any],
    dump: Callable[[Any], Any],
    *,
    status: int = 201,
    key: str | None = None,
    scope: str | None = None,
    body_hash: str | None = None,
    attempts: int = 8,
    one_trip: Callable[[], tuple[Any, OneTripWrite] | None] | None = None,
) -> Response:
    """Run a write in one unit of work (``ledger.uow.run``: one transaction, retried on
    deadlock), idempotently under ``key``.

    The key is claimed first (a row with a unique index), so two requests with one key
    queue on it: the second gets the first's stored answer, byte for byte. The request's
    audit event is inserted just before the commit (``ledger.audit.stage_event``).

    ``one_trip`` (the dispensing on PostgreSQL): plans the work from unlocked reads and
    returns its result with the function that writes it, or None when the work is not for
    that path. Then the answer, its idempotency row and the audit event go with the write
    in one statement (the key is not claimed first: a concurrent duplicate fails on the
    key's unique index and is answered, on retry, with the stored answer). A write whose
    plan went stale (``StaleWrite``) is rolled back and ``work`` runs the usual way.
    """
    session = db_session()
    if body_hash is None:
        body_hash = request_hash({"path": request.path, "body": request.get_json(silent=True)})
    scope = scope or _scope()
    if key is not None and len(key) > 300:
        raise InvalidRequest(
            "the idempotency key is longer than 300 characters",
            errors={"Idempotency-Key": ["at most 300 characters"]},
        )

    def attempt(uow: UnitOfWork) -> Response:
        if key is not None:
            replay = replay_or_conflict(session, scope, key, body_hash)
            if replay is not None:
                uow.discard()
                return replay
        if one_trip is not None:
            planned = one_trip()
            if planned is not None:
                fast = _write_one_trip(session, uow, planned, dump, status, key, scope, body_hash)
                if fast is not None:
                    return fast
        if key is not None:
            claim_key(session, scope, key, body_hash)
        result = work()
        text = json.dumps(dump(result), default=str)
        if key is not None:
            answer_key(session, scope, key, status, text)
        response = Response(text, status=status, mimetype="application/json")
        if stage_event(session, request, response):  # committed with the write
            uow.after_commit(event_committed)
        return response

    after = current_app.extensions.get("rdf_after_commit")
    return uow_run(
        session,
        attempt,
        attempts=attempts,
        retry_integrity=key is not None,
        after_commit=() if after is None else (after,),
    )


def _write_one_trip(
    session: Session,
    uow: UnitOfWork,
    planned: tuple[Any, OneTripWrite],
    dump: Callable[[Any], Any],
    status: int,
    key: str | None,
    scope: str,
    body_hash: str,
) -> Response | None:
    """Answer a planned one-trip write and write it with its idempotency row and audit
    event; None (and the transaction rolled back) when its plan went stale."""
    result, write = planned
    text = json.dumps(dump(result), default=str)
    response = Response(text, status=status, mimetype="application/json")
    claims = []
    if key is not None:
        claims.append(
            dict(
                scope=scope,
                key=key,
                request_hash=body_hash,
                status_code=status,
                response_body=text,
                created_at=clock.now(),
            )
        )
    event = event_row(request, response)
    try:
        write(claims, [] if event is None else [event])
    except StaleWrite:
        session.rollback()
        return None
    if event is not None:
        uow.after_commit(event_committed)
    return response


def write_view(
    schema: Schema | type[Schema],
    *,
    status: int = 201,
    key_from_body: Callable[[Any], str | None] | None = None,
) -> Callable[[F], F]:
    """Make a view an idempotent write: its result is dumped with ``schema`` and stored
    under the ``Idempotency-Key`` header (or a key taken from the body)."""
    sch = schema() if isinstance(schema, type) else schema

    def deco(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            key = request.headers.get("Idempotency-Key")
            if key is None and key_from_body is not None:
                key = key_from_body(request.get_json(silent=True))
            return run_write(lambda: fn(*args, **kwargs), sch.dump, status=status, key=key)

        return wrapper  # type: ignore[return-value]

    return deco
