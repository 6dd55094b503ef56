"""Bodies: refused whole past 1 MiB whether or not they say their length (22.1), JSON nested
too deep is a 400 (22.7), a JSON operation refuses a body of another type with 415 (23.3)."""

from __future__ import annotations

import http.client
import io
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.serving import make_server

from api.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, json_too_deep
from invoices.tables import BankStatement
from tests.support import bearer

OVER = MAX_BODY_BYTES + 64 * 1024


def csv_body(lines: int, start: int = 0) -> bytes:
    head = "date,amount,currency,reference,description\r\n"
    rows = "".join(
        f"2026-10-16,1000000,KHR,REF-{i:06d},line {i}\r\n" for i in range(start, start + lines)
    )
    return (head + rows).encode()


def big_csv() -> bytes:
    body = csv_body(OVER // 40 + 10)
    assert len(body) > MAX_BODY_BYTES
    return body


def post_operations(app: Flask) -> list[tuple[str, frozenset[str]]]:
    """Every documented POST with a body, its path parameters filled in."""
    out = []
    for (path, method), types in sorted(app.extensions["rdf_body_types"].items()):
        if method == "POST":
            out.append((re.sub(r"\{[^}]+\}", "1", path), types))
    assert len(out) > 20
    return out


def chunked(client: FlaskClient, path: str, body: bytes, headers: dict[str, str]) -> Any:
    """A request as a server hands a chunked body to the app: no Content-Length, a stream
    that ends where the body does (``wsgi.input_terminated``)."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def statements(app: Flask) -> int:
    with app.extensions["rdf_db"].session() as s:
        n: int = s.scalar(select(func.count()).select_from(BankStatement)) or 0
    return n


def test_a_chunked_bank_file_over_the_limit_is_refused_whole_not_cut(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    r = chunked(
        client,
        "/api/v1/bank-statements",
        big_csv(),
        {**bearer(tokens["finance"]), "Content-Type": "text/csv"},
    )
    assert r.status_code == 413, r.get_data(as_text=True)[:300]
    assert r.mimetype == "application/problem+json"
    assert statements(app) == 0


def test_a_chunked_bank_file_within_the_limit_is_read_whole(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    body = csv_body(50)
    r = chunked(
        client,
        "/api/v1/bank-statements",
        body,
        {**bearer(tokens["finance"]), "Content-Type": "text/csv"},
    )
    assert r.status_code == 201, r.get_data(as_text=True)[:300]
    assert len(r.get_json()["lines"]) == 50


def test_every_post_refuses_a_chunked_body_over_the_limit(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    body = b'{"memo": "' + b"x" * OVER + b'"}'
    for path, _types in post_operations(app):
        r = chunked(
            client, path, body, {**bearer(tokens["admin"]), "Content-Type": "application/json"}
        )
        assert r.status_code == 413, (path, r.status_code, r.get_data(as_text=True)[:200])
        assert r.get_json()["status"] == 413


@pytest.fixture
def served(app: Flask) -> Iterator[int]:
    """The app behind a real werkzeug server (it dechunks the body as gunicorn does)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.port
    server.shutdown()
    thread.join(timeout=10)


def send_chunked(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    pieces = (body[i : i + 8192] for i in range(0, len(body), 8192))
    try:
        conn.request("POST", path, body=pieces, headers=headers, encode_chunked=True)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (BrokenPipeError, ConnectionResetError):
        pytest.fail("the server dropped the connection instead of answering 413")
    finally:
        conn.close()


def test_over_a_real_socket_a_chunked_bank_file_is_413_and_nothing_is_imported(
    app: Flask, served: int, tokens: dict[str, str]
) -> None:
    headers = {**bearer(tokens["finance"]), "Content-Type": "text/csv"}
    status, body = send_chunked(served, "/api/v1/bank-statements", big_csv(), headers)
    assert status == 413, body[:300]
    assert b"larger than" in body
    assert statements(app) == 0
    status, body = send_chunked(served, "/api/v1/bank-statements", csv_body(20), headers)
    assert status == 201, body[:300]


def deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


def test_the_depth_scan_counts_brackets_outside_strings_only() -> None:
    assert not json_too_deep(deep(MAX_JSON_DEPTH))
    assert json_too_deep(deep(MAX_JSON_DEPTH + 1))
    assert not json_too_deep(b'{"a": "' + b"[" * 10_000 + b'"}')
    assert not json_too_deep(b'{"a": "\\"' + b"{" * 10_000 + b'"}')
    assert not json_too_deep(b"[" + b"[1],{}," * 50_000 + b"1]")


def test_json_nested_200000_deep_is_a_400_problem_on_every_json_operation(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    body = deep(200_000)
    checked = 0
    for path, types in post_operations(app):
        if "application/json" not in types:
            continue
        r = client.post(
            path,
            data=body,
            headers={**bearer(tokens["admin"]), "Content-Type": "application/json"},
        )
        assert r.status_code == 400, (path, r.status_code, r.get_data(as_text=True)[:200])
        assert r.mimetype == "application/problem+json"
        assert str(MAX_JSON_DEPTH) in r.get_json()["detail"]
        checked += 1
    assert checked > 20


def test_a_json_operation_refuses_another_content_type_with_415_saying_what_to_send(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    payload = b'{"pharmacy": "P1", "patient": "M-1", "service_date": "2026-10-14", "items": []}'
    for headers in (
        {},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
    ):
        r = client.post(
            "/api/v1/dispensings", data=payload, headers={**bearer(tokens["finance"]), **headers}
        )
        assert r.status_code == 415, r.get_data(as_text=True)[:300]
        problem = r.get_json()
        assert r.mimetype == "application/problem+json"
        assert "Content-Type: application/json" in problem["detail"]
        assert "Missing data" not in r.get_data(as_text=True)


def test_every_json_operation_answers_415_to_a_text_body(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    for path, types in post_operations(app):
        if "application/json" not in types:
            continue
        r = client.post(
            path, data=b"{}", headers={**bearer(tokens["admin"]), "Content-Type": "text/plain"}
        )
        assert r.status_code == 415, (path, r.status_code)


def test_the_bank_statement_upload_still_takes_csv_and_multipart(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    r = client.post(
        "/api/v1/bank-statements",
        data=csv_body(3),
        headers={**bearer(tokens["finance"]), "Content-Type": "text/csv"},
    )
    assert r.status_code == 201, r.get_json()
    r = client.post(
        "/api/v1/bank-statements",
        # other lines than the first file's: a line imported twice is refused (issue 22.5)
        data={"file": (io.BytesIO(csv_body(4, start=3)), "october.csv")},
        headers=bearer(tokens["finance"]),
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
