"""Security headers on every answer (``after_request``).

* ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` everywhere.
* ``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`` unless the answer
  set its own (the API docs page and the web pages do): an API answer is data, never a page
  that may run or load anything.
* ``Cache-Control: no-store`` on every ``/api/v1`` answer but the OpenAPI document and the
  docs page: answers and documents carry patients, prices and balances.
* ``Strict-Transport-Security`` outside development and tests (the service is meant to sit
  behind a TLS proxy; a browser that met it once never speaks plain HTTP to it again).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"
#: /api/v1 paths that hold no private data and may be cached.
CACHEABLE_PREFIXES = ("/api/v1/openapi.json", "/api/v1/docs")


def hsts_wanted(app: Flask) -> bool:
    return app.config.get("RDF_ENV") != "development" and not app.config.get("TESTING")


def security_headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    if "Content-Security-Policy" not in h:
        h["Content-Security-Policy"] = API_CSP
    path = request.path
    if path.startswith("/api/") and not path.startswith(CACHEABLE_PREFIXES):
        h["Cache-Control"] = "no-store"
    if current_app.config.get("RDF_HSTS"):
        h.setdefault("Strict-Transport-Security", HSTS)
    return response
