"""The OpenAPI document tells the truth, and can be read in a browser (23.7).

* ``/api/v1/docs``: Swagger UI from local files, public.
* Errors are documented as the service sends them: ``application/problem+json``
  ``{type, title, status, detail, errors?}``.
* ``?format=``, the content types of documents, ``period`` required on a pharmacy's
  statement.
* schemathesis compares what is documented with what is sent — status, content type and
  body — over a bounded set of operations, deterministically (derandomized).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode

from tests.support import create_pharmacy, create_user_token, make_app

PROBLEM = "application/problem+json"


def spec(client: FlaskClient) -> dict[str, Any]:
    doc: dict[str, Any] = client.get("/api/v1/openapi.json").get_json()
    return doc


def test_the_docs_page_is_public_and_loads_nothing_from_outside(client: FlaskClient) -> None:
    r = client.get("/api/v1/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(sources) >= 3
    for src in sources:
        assert src.startswith("/api/v1/docs/"), src
        with client.get(src) as asset:
            assert asset.status_code == 200, src
            assert b"//unpkg" not in asset.data and b"cdn.jsdelivr" not in asset.data
    init = client.get("/api/v1/docs/init.js").get_data(as_text=True)
    assert "/api/v1/openapi.json" in init
    assert client.get("/api/v1/docs/../app.py").status_code == 404
    assert client.get("/api/v1/docs/index.html").status_code == 404


def test_errors_are_documented_as_problem_json(client: FlaskClient) -> None:
    doc = spec(client)
    responses = doc["components"]["responses"]
    assert {"DEFAULT_ERROR", "UNPROCESSABLE_ENTITY"} <= set(responses)
    for name in responses:
        content = responses[name]["content"]
        assert list(content) == [PROBLEM], name
        assert content[PROBLEM]["schema"]["$ref"].endswith("/Problem")
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert problem["properties"]["status"]["type"] == "integer"
    assert "errors" in problem["properties"]
    assert "Error" not in doc["components"]["schemas"]


def test_formats_documents_and_the_statement_period_are_documented(client: FlaskClient) -> None:
    paths = spec(client)["paths"]

    def params(path: str) -> dict[str, Any]:
        return {p["name"]: p for p in paths[path]["get"].get("parameters", [])}

    def ok(path: str) -> set[str]:
        return set(paths[path]["get"]["responses"]["200"]["content"])

    tb = "/api/v1/reports/trial-balance"
    assert params(tb)["format"]["schema"]["enum"] == ["json", "csv", "xlsx"]
    assert {"application/json", "text/csv"} <= ok(tb) and any("sheet" in m for m in ok(tb))
    st = "/api/v1/statements/pharmacies/{code}"
    assert params(st)["period"]["required"] is True
    assert "pdf" in params(st)["format"]["schema"]["enum"]
    assert "application/pdf" in ok(st) and "text/csv" in ok(st)
    for pdf in ("/api/v1/settlements/{settlement_id}.pdf", "/api/v1/reports/trial-balance.pdf"):
        assert "application/pdf" in ok(pdf)


#: The operations compared (GET and POST, lists, reports, documents, writes).
OPERATIONS = {
    ("GET", "/api/v1/accounts"),
    ("GET", "/api/v1/accounts/{code}/balance"),
    ("GET", "/api/v1/accounts/{code}/statement"),
    ("GET", "/api/v1/reports/trial-balance"),
    ("GET", "/api/v1/reports/trial-balance.pdf"),
    ("GET", "/api/v1/statements/pharmacies/{code}"),
    ("GET", "/api/v1/periods"),
    ("GET", "/api/v1/medicines/{code}"),
    ("GET", "/api/v1/stock/on-hand"),
    ("POST", "/api/v1/journal-entries"),
    ("POST", "/api/v1/medicines"),
    ("POST", "/api/v1/dispensings"),
    ("POST", "/api/v1/patients"),
}


@pytest.fixture
def conformance_app(sqlite_template: Path, tmp_path: Path) -> Iterator[Flask]:
    path = tmp_path / "conformance.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = make_app(f"sqlite:///{path}")
    yield app
    app.extensions["rdf_db"].dispose()


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def compare(
    op: APIOperation[Any, Any, Any, Any],
    label: str,
    mode: GenerationMode,
    headers: dict[str, str],
    failures: list[str],
    seen: dict[str, int],
) -> None:
    """Send up to 15 derandomized examples of ``op`` and check every answer against the
    document: status documented, content type documented for it, body matching its schema."""

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def one(case: schemathesis.Case[APIOperation[Any, Any, Any, Any]]) -> None:
        response = case.call(headers=headers)
        kind = str(response.headers.get("content-type") or "?")
        kind = kind.strip("[]'").split(";")[0]
        key = f"{response.status_code} {kind}"
        seen[key] = seen.get(key, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected
            text = " | ".join(str(exc).strip().splitlines()[:4])[:400]
            failures.append(f"{label} [{mode.value}] {response.status_code}: {text}")

    one()


def test_what_is_sent_matches_what_is_documented(conformance_app: Flask) -> None:
    app = conformance_app
    finance = create_user_token(app, "conf-finance", "finance")
    create_pharmacy(app, app.test_client(), finance, "PCONF")
    headers = {"Authorization": f"Bearer {finance}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    seen: dict[str, int] = {}
    started = time.monotonic()
    compared = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        op = result.ok()
        if (op.method.upper(), op.path) not in OPERATIONS:
            continue
        compared += 1
        label = f"{op.method.upper()} {op.path}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            compare(op, label, mode, headers, failures, seen)
    elapsed = time.monotonic() - started
    print(f"conformance: {compared} operations in {elapsed:.1f} s; answers {sorted(seen.items())}")
    assert compared == len(OPERATIONS)
    # Errors were compared too, not only successes.
    assert any(k.startswith(("4",)) and k.endswith(PROBLEM) for k in seen), seen
    assert any(k.startswith("2") for k in seen), seen
    assert failures == [], "\n".join(sorted(set(failures))[:30])
