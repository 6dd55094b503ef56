"""Opaque page cursors (signed with the app's secret)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from ledger.errors import InvalidRequest


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="rdf-cursor")


def encode_cursor(value: Any) -> str:
    return str(_serializer().dumps(value))


def id_page(
    session: Session, q: Any, id_column: Any, limit: int, cursor: str | None
) -> tuple[list[int], str | None]:
    """A page of ids of ``q`` (a select of ``id_column``) in id order after ``cursor``, and
    the cursor of the next page (None on the last)."""
    after = decode_cursor(cursor)
    if after is not None:
        if not isinstance(after, int) or isinstance(after, bool):
            raise InvalidRequest(
                "the cursor belongs to another list",
                errors={"cursor": ["invalid cursor for this list"]},
            )
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
