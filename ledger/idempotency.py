"""The idempotency store: a client key claimed before the work, its answer stored with
the write (DESIGN invariant 5)."""

from __future__ import annotations

from sqlalchemy import Row, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from ledger import clock
from ledger.bulk import allocate_ids, insert_rows
from ledger.db import Base
from ledger.errors import IdempotencyConflict
from ledger.tables import IdempotencyKey

_IDEMPOTENCY = Base.metadata.tables[IdempotencyKey.__tablename__]
# Core statements built once: a single write's key costs no ORM object (issue 21).
_STORED_ONE = select(
    _IDEMPOTENCY.c.request_hash, _IDEMPOTENCY.c.status_code, _IDEMPOTENCY.c.response_body
).where(_IDEMPOTENCY.c.scope == bindparam("the_scope"), _IDEMPOTENCY.c.key == bindparam("the_key"))
_INSERT = insert(_IDEMPOTENCY)
_ANSWER_KEY = (
    update(_IDEMPOTENCY)
    .where(
        _IDEMPOTENCY.c.scope == bindparam("the_scope"),
        _IDEMPOTENCY.c.key == bindparam("the_key"),
    )
    .values(status_code=bindparam("status"), response_body=bindparam("body"))
)


def stored_answer(
    session: Session, scope: str, key: str, body_hash: str, conflict: str | None = None
) -> Row[str, int, str] | None:
    """The answer stored under ``key`` in ``scope``, if any (``status_code``,
    ``response_body``); the key used with another body raises :class:`IdempotencyConflict`
    (``conflict``: its detail)."""
    row = session.execute(_STORED_ONE, {"the_scope": scope, "the_key": key}).first()
    if row is not None and row.request_hash != body_hash:
        raise IdempotencyConflict(
            conflict
            or f"the idempotency key {key!r} was already used with a different request body"
        )
    return row


def claim_key(session: Session, scope: str, key: str, body_hash: str) -> None:
    """Claim ``key`` before the work (a row with a unique index): a second request with the
    same key queues on it until this transaction ends, then finds the stored answer. The
    caller stores the answer with :func:`answer_key` before committing."""
    store_answer(session, scope, key, body_hash, 0, "")


def answer_key(session: Session, scope: str, key: str, status: int, body: str) -> None:
    """Store the answer of a key claimed by :func:`claim_key` in this transaction."""
    session.execute(
        _ANSWER_KEY, {"the_scope": scope, "the_key": key, "status": status, "body": body}
    )


def store_answer(
    session: Session, scope: str, key: str, body_hash: str, status: int, body: str
) -> None:
    """Claim ``key`` and store its answer at once (a key taken concurrently raises
    ``IntegrityError``)."""
    session.execute(
        _INSERT,
        dict(
            scope=scope,
            key=key,
            request_hash=body_hash,
            status_code=status,
            response_body=body,
            created_at=clock.now(),
        ),
    )


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
    insert_rows(
        session,
        _IDEMPOTENCY,
        [
            dict(
                id=i,
                scope=scope,
                key=key,
                request_hash=h,
                status_code=0,
                response_body="",
                created_at=now,
            )
            for i, (scope, key, h) in zip(ids, claims, strict=True)
        ],
    )
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
