"""The OpenAPI document as the service answers, and an interactive page to read it.

* :class:`RdfApi` documents every error as the service sends it:
  ``application/problem+json`` ``{type, title, status, detail, errors?}``
  (flask-smorest's default is ``application/json`` ``{code, status, message, errors}``).
* :func:`document_formats` adds what the views negotiate by hand: ``?format=``, the content
  types of documents and downloads (PDF, CSV, XLSX), and ``period`` required on a
  pharmacy's statement (the view checks it after ownership, so it is optional to webargs).
* ``GET /api/v1/docs``: Swagger UI, served from the ``swagger-ui-bundle`` package's files
  (Swagger UI, Apache License 2.0); nothing is loaded from outside at run time. Public,
  as the OpenAPI document is.
"""

from __future__ import annotations

import http
from typing import Any

import marshmallow as ma
from apispec import APISpec
from flask import Blueprint, Response, abort, send_from_directory, url_for
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path

from api.problems import PROBLEM_MIME

CSV_MIME = "text/csv"
PDF_MIME = "application/pdf"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON_MIME = "application/json"
BINARY = {"type": "string", "format": "binary"}
TEXT = {"type": "string"}


class ProblemSchema(ma.Schema):
    """An error answer (RFC 9457 problem details)."""

    class Meta:
        unknown = ma.INCLUDE  # a problem may carry more members (e.g. ``checks``)

    type = ma.fields.String(required=True, metadata={"description": "/problems/<slug>"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True, metadata={"description": "the HTTP status"})
    detail = ma.fields.String(required=True, metadata={"description": "what to do about it"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "validation errors: {field: [messages]}"},
    )


class RdfApi(Api):
    """flask-smorest's Api, with errors documented as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["content"] = {PROBLEM_MIME: {"schema": self.ERROR_SCHEMA}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME,
            {
                "description": "An error, as application/problem+json",
                "content": {PROBLEM_MIME: {"schema": self.ERROR_SCHEMA}},
            },
            lazy=True,
        )


def _format_param(formats: list[str], default: str) -> dict[str, Any]:
    return {
        "in": "query",
        "name": "format",
        "required": False,
        "schema": {"type": "string", "enum": formats},
        "description": f"the answer's format (wins over Accept); without it: {default}",
    }


#: GET operations answering JSON, or the same report as CSV or XLSX (reports.tabular).
TABULAR = (
    "/api/v1/accounts/{code}/statement",
    "/api/v1/reports/trial-balance",
    "/api/v1/reconciliation",
    "/api/v1/reports/aged-balances",
    "/api/v1/reports/balance-sheet",
    "/api/v1/reports/income-statement",
    "/api/v1/reports/fund-health",
    "/api/v1/stock/on-hand",
    "/api/v1/subsidy-claims/{claim_id}",
)
#: GET operations answering a PDF only.
PDF_ONLY = (
    "/api/v1/reports/trial-balance.pdf",
    "/api/v1/settlements/{settlement_id}.pdf",
    "/api/v1/subsidy-claims/{claim_id}.pdf",
    "/api/v1/reports/fund-health.pdf",
)


def _ok_content(op: dict[str, Any]) -> dict[str, Any]:
    ok = op.setdefault("responses", {}).setdefault("200", {"description": "OK"})
    content: dict[str, Any] = ok.setdefault("content", {})
    return content


def _add_param(op: dict[str, Any], param: dict[str, Any]) -> None:
    params = op.setdefault("parameters", [])
    if not any(p.get("name") == param["name"] and p.get("in") == "query" for p in params):
        params.append(param)


def document_formats(spec: APISpec) -> None:
    """Complete the operations whose answers the views negotiate themselves."""
    paths: dict[str, dict[str, Any]] = spec._paths
    for path in TABULAR:
        op = paths.get(path, {}).get("get")
        if op is None:
            continue
        _add_param(op, _format_param(["json", "csv", "xlsx"], "by Accept, else JSON"))
        content = _ok_content(op)
        content.setdefault(JSON_MIME, {"schema": {"type": "object"}})
        content[CSV_MIME] = {"schema": TEXT}
        content[XLSX_MIME] = {"schema": BINARY}
    for path in PDF_ONLY:
        op = paths.get(path, {}).get("get")
        if op is not None:
            _ok_content(op)[PDF_MIME] = {"schema": BINARY}
    op = paths.get("/api/v1/statements/accounts/{code}", {}).get("get")
    if op is not None:
        _add_param(op, _format_param(["pdf", "json"], "PDF unless Accept prefers JSON"))
        content = _ok_content(op)
        content[PDF_MIME] = {"schema": BINARY}
        content.setdefault(JSON_MIME, {"schema": {"type": "object"}})
    op = paths.get("/api/v1/statements/pharmacies/{code}", {}).get("get")
    if op is not None:
        _add_param(op, _format_param(["pdf", "json", "csv", "xlsx"], "by Accept, else PDF"))
        for p in op.get("parameters", []):
            if p.get("name") == "period" and p.get("in") == "query":
                p["required"] = True
                p["schema"] = {"type": "string", "pattern": r"^\d{4}-\d{2}$"}
                p["description"] = "the month, YYYY-MM"
        content = _ok_content(op)
        content[PDF_MIME] = {"schema": BINARY}
        content[JSON_MIME] = {"schema": {"type": "object"}}
        content[CSV_MIME] = {"schema": TEXT}
        content[XLSX_MIME] = {"schema": BINARY}


# --------------------------------------------------------------------------- the page

docs = Blueprint("docs", __name__, url_prefix="/api/v1/docs")

#: Files of Swagger UI the page loads (all from the installed package).
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png")
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>RDF Ledger API v1</title>
<link rel="icon" href="{icon}">
<link rel="stylesheet" href="{css}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
"""

INIT = """window.ui = SwaggerUIBundle({{
  url: {spec!r},
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false
}});
"""


@docs.get("")
def page() -> Response:
    """Swagger UI over ``/api/v1/openapi.json`` (public)."""

    def asset(name: str) -> str:
        return url_for("docs.asset", name=name)

    html = PAGE.format(
        icon=asset("favicon-32x32.png"),
        css=asset("swagger-ui.css"),
        bundle=asset("swagger-ui-bundle.js"),
        init=asset("init.js"),
    )
    resp = Response(html, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    return resp


@docs.get("/<name>")
def asset(name: str) -> Response:
    """A file of Swagger UI, or the page's own script."""
    if name == "init.js":
        spec_url = url_for("api-docs.openapi_json")
        return Response(INIT.format(spec=spec_url), mimetype="text/javascript")
    if name not in ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, name, max_age=3600)
