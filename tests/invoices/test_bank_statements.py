"""Bank statement import: automatic matching, one unknown line left open, malformed files
refused whole with their line number and nothing stored, duplicates, manual match/unmatch."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from invoices.tables import BankStatement, BankStatementLine
from tests.invoices.conftest import pay

GOOD = (
    "\ufeffdate,amount,currency,reference,description\r\n"
    '2026-10-16,"3,000",KHR,REM-P1-2026-10,Remittance P1\r\n'
    '2026-10-17,1500,KHR,HEF OCT,"Payment ref CLAIM-HEF-10, thank you"\r\n'
    '2026-10-18,"-35,000",KHR,TRF 8812,S1-INV-99\r\n'
    "2026-10-31,-2500,KHR,FEE,Monthly bank fee\r\n"
    "2026-10-20,12.50,USD,GIFT-7,Donation\r\n"
)


def _payments(client: FlaskClient, fin: dict[str, str]) -> dict[str, str]:
    ids = {}
    ids["cap"] = pay(
        client,
        fin,
        direction="in",
        kind="donor",
        code="Donor",
        amount="100000",
        reference="CAP-1",
        when="2026-10-01",
    )["id"]
    ids["p1"] = pay(
        client,
        fin,
        direction="in",
        kind="pharmacy",
        code="P1",
        amount="3000",
        reference="REM-P1-2026-10",
        when="2026-10-15",
    )["id"]
    ids["hef"] = pay(
        client,
        fin,
        direction="in",
        kind="scheme",
        code="HEF",
        amount="1500",
        reference="CLAIM-HEF-10",
        when="2026-10-15",
    )["id"]
    ids["s1"] = pay(
        client,
        fin,
        direction="out",
        kind="supplier",
        code="S1",
        amount="35000",
        reference="S1-INV-99",
        when="2026-10-18",
    )["id"]
    ids["usd"] = pay(
        client,
        fin,
        direction="in",
        kind="donor",
        code="Gift",
        amount="12.50",
        currency="USD",
        reference="GIFT-7",
        when="2026-10-19",
    )["id"]
    return ids


def _post_csv(
    client: FlaskClient, headers: dict[str, str], text: str | bytes, key: str | None = None
) -> Any:
    data = text.encode("utf-8") if isinstance(text, str) else text
    h = {**headers, "Content-Type": "text/csv"}
    if key:
        h["Idempotency-Key"] = key
    return client.post("/api/v1/bank-statements", data=data, headers=h)


def _stored(app: Flask) -> tuple[int, int]:
    with app.extensions["rdf_db"].session() as s:
        return s.query(BankStatement).count(), s.query(BankStatementLine).count()


def test_a_good_statement_matches_its_payments_and_leaves_the_unknown_line_open(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    ids = _payments(client, fin)
    r = _post_csv(client, fin, GOOD)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    got = [
        (ln["line_number"], ln["amount"], ln["currency"], ln["status"], ln["payment_id"])
        for ln in body["lines"]
    ]
    assert got == [
        (2, "3000", "KHR", "matched", ids["p1"]),
        (3, "1500", "KHR", "matched", ids["hef"]),
        (4, "-35000", "KHR", "matched", ids["s1"]),
        (5, "-2500", "KHR", "open", None),
        (6, "12.50", "USD", "matched", ids["usd"]),
    ]
    assert body["matched_count"] == 4 and body["open_count"] == 1
    assert {ln["match_kind"] for ln in body["lines"] if ln["payment_id"]} == {"auto"}
    p1 = client.get(f"/api/v1/payments/{ids['p1']}", headers=fin).get_json()
    assert p1["status"] == "matched"
    cap = client.get(f"/api/v1/payments/{ids['cap']}", headers=fin).get_json()
    assert cap["status"] == "unmatched"
    again = client.get(f"/api/v1/bank-statements/{body['id']}", headers=fin).get_json()
    assert again == body
    open_payments = client.get("/api/v1/payments?matched=false", headers=fin).get_json()
    assert [p["id"] for p in open_payments["items"]] == [ids["cap"]]
    banked = client.get("/api/v1/payments?matched=true", headers=fin).get_json()
    assert len(banked["items"]) == 4


def test_a_statement_uploaded_as_a_multipart_file_is_read_the_same(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    _payments(client, fin)
    r = client.post(
        "/api/v1/bank-statements",
        data={"file": (io.BytesIO(GOOD.encode()), "october.csv")},
        headers=fin,
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["filename"] == "october.csv"
    assert r.get_json()["matched_count"] == 4


def test_the_same_file_imported_twice_is_a_conflict_naming_the_first_import(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    first = _post_csv(client, fin, GOOD).get_json()
    r = _post_csv(client, fin, GOOD)
    assert r.status_code == 409
    assert r.get_json()["statement_id"] == first["id"]
    assert _stored(books) == (1, 5)


def test_a_retry_with_the_same_idempotency_key_replays_and_another_file_is_refused(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    a = _post_csv(client, fin, GOOD, key="stmt-oct")
    b = _post_csv(client, fin, GOOD, key="stmt-oct")
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.get_json() == b.get_json()
    other = GOOD.replace("Monthly bank fee", "Bank fee")
    assert _post_csv(client, fin, other, key="stmt-oct").status_code == 409
    assert _stored(books) == (1, 5)


MALFORMED = [
    (
        "date,amount,currency,reference,description\n2026-10-01,100,KHR,a,b\n2026-13-01,5,KHR,c,d\n",
        3,
        "does not exist",
    ),
    ("date,amount,currency,reference,description\n2026-10-01,100,EUR,a,b\n", 2, "EUR"),
    ("date,amount,currency,reference,description\n2026-10-01,100,KHR,a\n", 2, "fields"),
    ("date,amount,currency,reference\n2026-10-01,100,KHR,a\n", 1, "description"),
    ("date,amount,currency,reference,description\n2026-10-01,1,500,KHR,a,b\n", 2, "fields"),
    ("date,amount,currency,reference,description\n2026-10-01,12.5x,KHR,a,b\n", 2, "12.5x"),
    (
        "date,amount,currency,reference,description\n2026-10-01,1,KHR,a,b\n\n2026-10-02,1,KHR,a,b\n",
        3,
        "blank",
    ),
    ("date,amount,currency,reference,description\n2026-10-01,1.5,KHR,a,b\n", 2, "decimals"),
    ("date,amount,currency,reference,description\n2026-10-01,0,KHR,a,b\n", 2, "zero"),
    ("", 1, "empty"),
    ("date,amount,currency,reference,description\n", 2, "no bank lines"),
]


@pytest.mark.parametrize(("text", "line", "words"), MALFORMED)
def test_a_malformed_statement_is_refused_whole_with_its_line_number(
    books: Flask, client: FlaskClient, fin: dict[str, str], text: str, line: int, words: str
) -> None:
    pay(client, fin, direction="in", kind="scheme", code="HEF", amount="100", reference="a")
    r = _post_csv(client, fin, text)
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert body["line"] == line
    assert f"Line {line}" in body["detail"] and words in body["detail"]
    assert _stored(books) == (0, 0)


def test_a_statement_that_is_not_utf8_is_refused_with_its_line(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    data = b"date,amount,currency,reference,description\n2026-10-01,1,KHR,caf\xe9,b\n"
    r = _post_csv(client, fin, data)
    assert r.status_code == 422
    assert r.get_json()["line"] == 2
    assert _stored(books) == (0, 0)


def test_a_request_without_a_file_is_refused(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    r = client.post("/api/v1/bank-statements", json={"x": 1}, headers=fin)
    assert r.status_code == 422
    assert "file" in r.get_json()["errors"]


def test_a_line_is_matched_and_unmatched_by_hand(
    books: Flask, client: FlaskClient, fin: dict[str, str]
) -> None:
    ids = _payments(client, fin)
    fee = pay(
        client,
        fin,
        direction="out",
        kind="supplier",
        code="S1",
        amount="2500",
        reference="something else",
        when="2026-10-30",
    )["id"]
    body = _post_csv(client, fin, GOOD).get_json()
    open_line = next(ln for ln in body["lines"] if ln["status"] == "open")
    p1_line = next(ln for ln in body["lines"] if ln["payment_id"] == ids["p1"])

    wrong = client.post(
        f"/api/v1/bank-statements/lines/{open_line['id']}/match",
        json={"payment_id": ids["cap"]},
        headers=fin,
    )
    assert wrong.status_code == 422
    taken = client.post(
        f"/api/v1/bank-statements/lines/{open_line['id']}/match",
        json={"payment_id": ids["p1"]},
        headers=fin,
    )
    assert taken.status_code == 409

    r = client.post(
        f"/api/v1/bank-statements/lines/{open_line['id']}/match",
        json={"payment_id": fee},
        headers=fin,
    )
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["status"], r.get_json()["match_kind"]) == ("matched", "manual")
    assert client.get(f"/api/v1/payments/{fee}", headers=fin).get_json()["status"] == "matched"

    confirm = client.post(
        f"/api/v1/bank-statements/lines/{p1_line['id']}/match",
        json={"payment_id": ids["p1"]},
        headers=fin,
    )
    assert confirm.get_json()["match_kind"] == "manual"

    u = client.post(f"/api/v1/bank-statements/lines/{open_line['id']}/unmatch", headers=fin)
    assert u.status_code == 200
    assert (u.get_json()["status"], u.get_json()["payment_id"]) == ("open", None)
    assert client.get(f"/api/v1/payments/{fee}", headers=fin).get_json()["status"] == "unmatched"
    again = client.post(f"/api/v1/bank-statements/lines/{open_line['id']}/unmatch", headers=fin)
    assert again.status_code == 409
    missing = client.post("/api/v1/bank-statements/lines/999999/unmatch", headers=fin)
    assert missing.status_code == 404


def test_only_finance_imports_and_matches(
    books: Flask,
    client: FlaskClient,
    fin: dict[str, str],
    aud: dict[str, str],
    pharmacist: dict[str, str],
) -> None:
    assert _post_csv(client, aud, GOOD).status_code == 403
    assert _post_csv(client, pharmacist, GOOD).status_code == 403
    body = _post_csv(client, fin, GOOD).get_json()
    line = body["lines"][0]["id"]
    assert (
        client.post(f"/api/v1/bank-statements/lines/{line}/unmatch", headers=aud).status_code == 403
    )
    assert client.get(f"/api/v1/bank-statements/{body['id']}", headers=aud).status_code == 200
