"""problem+json: every error answer of the API and the pages' scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Response

from ledger.errors import RdfError

PROBLEM_MIME = "application/problem+json"


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
