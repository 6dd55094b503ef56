"""CSV/XLSX reports at the edge: content negotiation and the HTTP answer.

Use it from a view in one call::

    out = build_json(...)                                   # what the JSON answer is
    return respond(lambda: Report("Trial balance", [Section("Rows", cols, rows)]), out,
                   filename="trial-balance")

:func:`respond` negotiates on ``?format=csv|xlsx|json`` (wins) or the ``Accept`` header. For
JSON (the default, also for ``*/*`` or no header) it returns ``json_payload`` untouched, so
flask-smorest's ``@blp.response`` serialises it exactly as before; otherwise it builds the
report (a callable is only called then) and returns a ``Response``. 406 problem if the client
accepts none of the three. The bytes are built by :mod:`reports.tabular`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from api.problems import problem
from reports.tabular import (
    CSV_MIME,
    JSON_MIME,
    MIMES,
    XLSX_MIME,
    Format,
    Report,
    ReportLike,
    file_bytes,
    filename_of,
)


def negotiated_format() -> Format | None:
    """``?format=`` if given (``None`` if it names no format), else the best of ``Accept``."""
    asked = request.args.get("format")
    if asked is not None:
        return asked if asked in MIMES else None
    accept = request.accept_mimetypes
    if not accept:
        return "json"
    best = accept.best_match([JSON_MIME, CSV_MIME, XLSX_MIME])
    if best is None:
        return None
    return next(f for f, m in MIMES.items() if m == best)


def wants_json() -> bool:
    return negotiated_format() == "json"


def respond(report: ReportLike, json_payload: Any, *, filename: str | None = None) -> Any:
    """The view's answer: ``json_payload`` as is, or the report as CSV/XLSX (see module doc)."""
    fmt = negotiated_format()
    if fmt is None:
        return problem(
            406,
            "Not Acceptable",
            "this report is available as application/json, text/csv and "
            f"{XLSX_MIME} (or ?format=json|csv|xlsx)",
            "not-acceptable",
        )
    if fmt == "json":
        return json_payload
    built = report() if callable(report) else report
    return file_response(built, fmt, filename=filename)


def file_response(report: Report, fmt: Format, *, filename: str | None = None) -> Response:
    """The report as a CSV or XLSX attachment."""
    if fmt == "json":  # pragma: no cover - json never reaches here
        raise ValueError(fmt)
    name = filename_of(filename or report.title)
    body = file_bytes(report, fmt)
    resp = Response(body, mimetype=CSV_MIME if fmt == "csv" else XLSX_MIME)
    if fmt == "csv":
        resp.headers["Content-Type"] = "text/csv; charset=utf-8"
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    resp.headers["Vary"] = "Accept"
    return resp
