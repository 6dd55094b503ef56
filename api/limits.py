"""What a request body may be: its size, its type and how deep its JSON nests.

* **Size** (``MAX_BODY_BYTES``, 1 MiB), with or without ``Content-Length``. A body with a
  length over the limit is refused by werkzeug (``MAX_CONTENT_LENGTH``) when it is read. A
  body sent ``Transfer-Encoding: chunked`` has no length: werkzeug would hand a view its
  first MiB and quietly drop the rest (a bank file imported cut in two).
  :class:`BodyLimit`, a WSGI middleware, reads such a body whole before the app sees it, up
  to the limit: within it, the app gets the body with its length as if it had been sent so;
  past it, the body is dropped and :func:`refuse_oversized` answers 413 — never a part.
* **Type**: a non-empty body on an operation documented as taking JSON must say
  ``Content-Type: application/json`` (415 naming what to send), rather than be read as no
  body at all ("Missing data for required field" for every field).
* **Depth**: JSON nested deeper than ``MAX_JSON_DEPTH`` (64) is refused with 400 before it
  is parsed (Python's parser recurses: 200,000 ``[`` would raise ``RecursionError``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask, Response, current_app, request

from api.problems import problem

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64

#: Set in the WSGI environ by :class:`BodyLimit` when a chunked body was over the limit.
TOO_LARGE = "rdf.body_too_large"

_READ = 64 * 1024
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BodyLimit:
    """WSGI middleware: a body without ``Content-Length`` is read here, whole or not at all."""

    def __init__(self, app: WsgiApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked or (not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated")):
            body, over = _read_at_most(environ["wsgi.input"], self.limit)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["wsgi.input_terminated"] = False
            if over:
                environ[TOO_LARGE] = True
                body = b""
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


def _read_at_most(stream: Any, limit: int) -> tuple[bytes, bool]:
    """The stream's bytes, or ``(b"", True)`` as soon as there are more than ``limit``."""
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(_READ)
        if not chunk:
            return b"".join(parts), False
        size += len(chunk)
        if size > limit:
            return b"", True
        parts.append(chunk)


def too_large() -> Response:
    resp = problem(
        413,
        "Request Entity Too Large",
        f"the request body is larger than {MAX_BODY_BYTES} bytes; nothing was read",
        "request-entity-too-large",
    )
    # The rest of the body was not read: the connection cannot carry another request.
    resp.headers["Connection"] = "close"
    return resp


def refuse_oversized() -> Response | None:
    """``before_request`` (first): a chunked body over the limit is a 413, on every route."""
    if request.environ.get(TOO_LARGE):
        return too_large()
    return None


def json_too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``data`` nests arrays/objects deeper than ``limit`` (a scan, no parsing:
    brackets inside strings do not count)."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if m.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def body_types(spec: Mapping[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """``{(OpenAPI path, METHOD): documented request body content types}``."""
    out: dict[tuple[str, str], frozenset[str]] = {}
    for path, ops in (spec.get("paths") or {}).items():
        for method, op in ops.items():
            if not isinstance(op, Mapping):
                continue
            content = (op.get("requestBody") or {}).get("content") or {}
            if content:
                out[(path, method.upper())] = frozenset(content)
    return out


def openapi_path(rule: str) -> str:
    """``/api/v1/x/<string:code>`` → ``/api/v1/x/{code}``."""
    return _RULE_ARG.sub(r"{\1}", rule)


def remember_body_types(app: Flask, spec: Mapping[str, Any]) -> None:
    app.extensions["rdf_body_types"] = body_types(spec)


def check_body() -> Response | None:
    """``before_request`` (after the access check): a JSON operation's body is JSON, and
    no JSON body nests deeper than ``MAX_JSON_DEPTH``."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return None
    if not request.content_length:
        return None
    if request.url_rule is not None:
        types: Mapping[tuple[str, str], frozenset[str]] = current_app.extensions.get(
            "rdf_body_types", {}
        )
        accepted = types.get((openapi_path(request.url_rule.rule), request.method))
        if accepted and "application/json" in accepted and not request.is_json:
            sent = request.mimetype or "no Content-Type"
            return problem(
                415,
                "Unsupported Media Type",
                f"this operation takes a JSON body: send it with 'Content-Type: "
                f"application/json' (the request said {sent})",
                "unsupported-media-type",
                {"Content-Type": ["must be application/json"]},
            )
    if request.is_json and json_too_deep(request.get_data(cache=True)):
        return problem(
            400,
            "Bad Request",
            f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels",
            "bad-request",
            {"body": [f"at most {MAX_JSON_DEPTH} levels of nested arrays and objects"]},
        )
    return None
