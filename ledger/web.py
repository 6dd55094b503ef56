"""What every HTTP handler shares: the request's session, who is calling and what they may
do (deny by default), problem+json errors, idempotent writes, and opaque page cursors.

Authorisation is declarative: each view carries an ``@access(...)`` naming the roles that
may call it and, for pharmacists, that the object must be their own pharmacy's. A
``before_request`` hook refuses any route without a declaration, and a test walks the URL
map so no route can be added without one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer
from marshmallow import Schema
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import clock
from ledger.audit import event_committed, stage_event
from ledger.auth import Principal, authenticate
from ledger.bulk import allocate_ids, insert_rows
from ledger.db import Base, Database, is_retryable, sqlite_read_only
from ledger.errors import Forbidden, IdempotencyConflict, InvalidRequest, NotFound, RdfError
from ledger.posting import request_hash
from ledger.tables import IdempotencyKey

F = TypeVar("F", bound=Callable[..., Any])

PROBLEM_MIME = "application/problem+json"


# --------------------------------------------------------------------------- problems


def problem(
    status: int,
    title: str,
    detail: str,
    slug: str,
    errors: Mapping[str, list[str]] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = dict(errors)
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(json.dumps(body, default=str), status=status, mimetype=PROBLEM_MIME)


def problem_from(exc: RdfError) -> Response:
    return problem(exc.status, exc.title, exc.detail, exc.slug, exc.errors, **exc.extra)


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested error dict as ``{"postings.0.amount": ["…"]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for k, v in messages.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if key == "_schema":
                key = prefix or "body"
            out.update(flatten_messages(v, key))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "body"] = list(messages)
    elif isinstance(messages, list):
        for i, m in enumerate(messages):
            out.update(flatten_messages(m, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or "body"] = [str(messages)]
    return out


# --------------------------------------------------------------------------- session


def database() -> Database:
    db: Database = current_app.extensions["rdf_db"]
    return db


def db_session() -> Session:
    """The request's session; closed (and rolled back unless committed) at teardown."""
    if "rdf_session" not in g:
        g.rdf_session = database().sessionmaker()
    s: Session = g.rdf_session
    return s


def close_session(_exc: BaseException | None = None) -> None:
    s = g.pop("rdf_session", None)
    if s is not None:
        s.close()


# --------------------------------------------------------------------------- access


@dataclass(frozen=True)
class Access:
    """Who may call a view. ``admin`` may call everything except public views need nobody."""

    roles: frozenset[str]
    #: "own": a pharmacist may call it only for its own pharmacy's objects (the handler
    #: checks with ``ensure_pharmacy``); None: pharmacists are not admitted at all.
    pharmacist: str | None = None
    public: bool = False

    def admits(self, principal: Principal) -> bool:
        if principal.role == "admin":
            return True
        if principal.role == "pharmacist":
            return self.pharmacist == "own"
        return principal.role in self.roles


def access(*roles: str, pharmacist: str | None = None) -> Callable[[F], F]:
    """Declare the roles that may call a view (admin always may)."""
    assert pharmacist in (None, "own")
    rule = Access(frozenset(roles), pharmacist)

    def deco(fn: F) -> F:
        fn._rdf_access = rule  # type: ignore[attr-defined]
        return fn

    return deco


def public(fn: F) -> F:
    """Declare a view that needs no token (health check)."""
    fn._rdf_access = Access(frozenset(), None, public=True)  # type: ignore[attr-defined]
    return fn


#: Views made by libraries, which we cannot decorate: the OpenAPI document is public.
PUBLIC_ENDPOINTS = {"api-docs.openapi_json", "static"}


def access_for(app: Flask, endpoint: str, method: str) -> Access | None:
    if endpoint in PUBLIC_ENDPOINTS:
        return Access(frozenset(), None, public=True)
    view = app.view_functions.get(endpoint)
    if view is None:
        return None
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        meth = getattr(view_class, method.lower(), None)
        if meth is None and method == "HEAD":
            meth = getattr(view_class, "get", None)
        return getattr(meth, "_rdf_access", None)
    return getattr(view, "_rdf_access", None)


def principal() -> Principal:
    p: Principal | None = g.get("rdf_principal")
    if p is None:  # pragma: no cover - the before_request hook guarantees it
        raise Forbidden("no principal")
    return p


def ensure_pharmacy(code: str) -> None:
    """For a pharmacist, an object of another pharmacy does not exist (404)."""
    p = principal()
    if p.is_pharmacist and p.pharmacy != code:
        raise NotFound(f"no pharmacy {code!r}")


def visible_pharmacy() -> str | None:
    """The pharmacy a caller is confined to (pharmacists), or None (sees all)."""
    p = principal()
    return p.pharmacy if p.is_pharmacist else None


def authorise_request() -> Response | None:
    """``before_request``: authenticate the bearer token and apply the view's ``@access``."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        sqlite_read_only.set(True)
    else:
        sqlite_read_only.set(False)
    if request.endpoint is None:
        return None  # 404/405 handled by Flask
    rule = access_for(current_app, request.endpoint, request.method)
    if rule is not None and rule.public:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return problem(401, "Unauthorized", "send 'Authorization: Bearer <token>'", "unauthorized")
    limiter = current_app.extensions.get("rdf_auth_limiter")
    addr = request.remote_addr or "?"
    if limiter is not None and limiter.blocked(addr):
        return problem(
            429,
            "Too many bad tokens",
            "too many invalid tokens from this address; wait a minute",
            "too-many-requests",
        )
    s = db_session()
    who = authenticate(s, token.strip())
    s.rollback()
    if who is None:
        if limiter is not None:
            limiter.failed(addr)
        return problem(
            401, "Unauthorized", "the token is unknown, expired or revoked", "unauthorized"
        )
    g.rdf_principal = who
    if rule is None or not rule.admits(who):
        return problem(
            403,
            "Forbidden",
            f"the role {who.role!r} may not {request.method} {request.path}",
            "forbidden",
        )
    return None


# --------------------------------------------------------------------------- writes


def _scope() -> str:
    p = principal()
    owner = f"pharmacy:{p.pharmacy}" if p.is_pharmacist else f"user:{p.user_id}"
    return f"{request.endpoint}:{owner}"


def stored_answer(
    session: Session, scope: str, key: str, body_hash: str, conflict: str | None = None
) -> IdempotencyKey | None:
    """The answer stored under ``key`` in ``scope``, if any; the key used with another
    body raises :class:`IdempotencyConflict` (``conflict``: its detail)."""
    row = session.scalars(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    ).first()
    if row is not None and row.request_hash != body_hash:
        raise IdempotencyConflict(
            conflict
            or f"the idempotency key {key!r} was already used with a different request body"
        )
    return row


def claim_key(session: Session, scope: str, key: str, body_hash: str) -> IdempotencyKey:
    """Claim ``key`` before the work (a row with a unique index): a second request with the
    same key queues on it until this transaction ends, then finds the stored answer. The
    caller fills ``status_code`` and ``response_body`` before committing."""
    claim = IdempotencyKey(
        scope=scope,
        key=key,
        request_hash=body_hash,
        status_code=0,
        response_body="",
        created_at=clock.now(),
    )
    session.add(claim)
    session.flush()
    return claim


_IDEMPOTENCY = Base.metadata.tables[IdempotencyKey.__tablename__]
# One scope and a list of keys: one index range per key (a list of (scope, key) pairs
# costs PostgreSQL milliseconds of planning an OR of every pair).
_STORED_MANY = select(IdempotencyKey).where(
    IdempotencyKey.scope == bindparam("scope"),
    IdempotencyKey.key.in_(bindparam("keys", expanding=True)),
)
_ANSWER_CLAIM = (
    update(_IDEMPOTENCY)
    .where(_IDEMPOTENCY.c.id == bindparam("claim"))
    .values(status_code=bindparam("status"), response_body=bindparam("body"))
)
_DROP_CLAIMS = delete(_IDEMPOTENCY).where(_IDEMPOTENCY.c.id.in_(bindparam("ids", expanding=True)))


def stored_answers(
    session: Session, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], IdempotencyKey]:
    """``stored_answer`` for many (scope, key) at once, in one query; the caller compares
    each row's ``request_hash`` with its own."""
    by_scope: dict[str, list[str]] = {}
    for scope, key in keys:
        by_scope.setdefault(scope, []).append(key)
    return {
        (row.scope, row.key): row
        for scope, wanted in sorted(by_scope.items())
        for row in session.scalars(_STORED_MANY, {"scope": scope, "keys": wanted})
    }


def claim_keys(session: Session, claims: list[tuple[str, str, str]]) -> list[int]:
    """``claim_key`` for many (scope, key, body_hash) at once, in one INSERT: the ids of the
    claims, in order. A key claimed concurrently raises ``IntegrityError`` (after waiting
    for the other transaction, as one claim does). Fill them with :func:`answer_claims`,
    drop those whose work was refused with :func:`drop_claims`."""
    if not claims:
        return []
    now = clock.now()
    ids = allocate_ids(session, _IDEMPOTENCY, len(claims))
    insert_rows(session, _IDEMPOTENCY, [
        dict(id=i, scope=scope, key=key, request_hash=h, status_code=0, response_body="",
             created_at=now)
        for i, (scope, key, h) in zip(ids, claims, strict=True)
    ])
    return ids


def answer_claims(session: Session, status: int, answers: list[tuple[int, str]]) -> None:
    """Store the answer (claim id, response body) of each claimed key."""
    if not answers:
        return
    session.execute(_ANSWER_CLAIM, [{"claim": c, "status": status, "body": b} for c, b in answers])


def drop_claims(session: Session, claim_ids: list[int]) -> None:
    """Release claims whose work was refused (a refusal stores nothing, as in run_write)."""
    if claim_ids:
        session.execute(_DROP_CLAIMS, {"ids": claim_ids})


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
) -> Response:
    """Run a write in one transaction, idempotently under ``key``, retrying on deadlock.

    The key is claimed first (a row with a unique index), so two requests with one key
    queue on it: the second gets the first's stored answer, byte for byte. The request's
    audit event is inserted just before the commit (``ledger.audit.stage_event``).
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
    for attempt in range(1, attempts + 1):
        try:
            if key is not None:
                replay = replay_or_conflict(session, scope, key, body_hash)
                if replay is not None:
                    session.rollback()
                    return replay
                claim = claim_key(session, scope, key, body_hash)
            result = work()
            text = json.dumps(dump(result), default=str)
            if key is not None:
                claim.status_code = status
                claim.response_body = text
            response = Response(text, status=status, mimetype="application/json")
            audited = stage_event(session, request, response)  # committed with the write
            session.commit()
            if audited:
                event_committed()
            after = current_app.extensions.get("rdf_after_commit")
            if after is not None:
                after()
            return response
        except IntegrityError:
            session.rollback()
            if key is None or attempt == attempts:
                raise
        except RdfError:
            session.rollback()
            raise
        except Exception as exc:
            session.rollback()
            if attempt == attempts or not is_retryable(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


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


# --------------------------------------------------------------------------- cursors


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="rdf-cursor")


def encode_cursor(value: Any) -> str:
    return str(_serializer().dumps(value))


def id_page(session: Session, q: Any, id_column: Any, limit: int, cursor: str | None
            ) -> tuple[list[int], str | None]:
    """A page of ids of ``q`` (a select of ``id_column``) in id order after ``cursor``, and
    the cursor of the next page (None on the last)."""
    after = decode_cursor(cursor)
    if after is not None:
        if not isinstance(after, int) or isinstance(after, bool):
            raise InvalidRequest("the cursor belongs to another list",
                                 errors={"cursor": ["invalid cursor for this list"]})
        q = q.where(id_column > after)
    ids = [int(i) for i in session.scalars(q.order_by(id_column).limit(limit + 1))]
    more = len(ids) > limit
    ids = ids[:limit]
    return ids, encode_cursor(ids[-1]) if more else None


def decode_cursor(token: str | None) -> Any:
    if not token:
        return None
    try:
        return _serializer().loads(token)
    except BadSignature as exc:
        raise InvalidRequest(
            "the cursor is not one this service gave out", errors={"cursor": ["invalid cursor"]}
        ) from exc
