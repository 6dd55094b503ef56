"""23.1: a request body with a field the API does not know is refused with a 422 naming
the field — on every endpoint, in nested objects, and per record of a batch. A misspelt
``clientRef`` dropped silently turned a retry into a second dispensing."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from tests.dispensing.conftest import Fund
from tests.support import bearer

UNKNOWN = "zzNotAField"


def _json_posts(client: FlaskClient) -> list[str]:
    doc: dict[str, Any] = client.get("/api/v1/openapi.json").get_json()
    out = []
    for path, ops in doc["paths"].items():
        op = ops.get("post")
        if op is None:
            continue
        content = (op.get("requestBody") or {}).get("content") or {}
        if "application/json" in content:
            out.append(path)
    return out


def test_every_post_route_refuses_an_unknown_field(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    paths = _json_posts(client)
    assert len(paths) >= 15, paths
    for path in paths:
        url = "/api/v1" + re.sub(r"\{[^}]+\}", "1", path.removeprefix("/api/v1"))
        for role in ("finance", "admin"):
            r = client.post(url, json={UNKNOWN: 1}, headers=bearer(tokens[role]))
            if r.status_code != 403:
                break
        body = r.get_json()
        assert r.status_code == 422, (path, r.status_code, body)
        assert UNKNOWN in body["errors"], (path, body)
        assert "unknown field" in body["errors"][UNKNOWN][0], (path, body)


def _dispensing(**extra: Any) -> dict[str, Any]:
    return {
        "pharmacy": "P1",
        "patient": "M-00042",
        "service_date": "2026-10-14",
        "items": [{"medicine": "MET500", "quantity": 2}],
        **extra,
    }


def test_a_misspelt_client_ref_is_refused_not_a_second_dispensing(fund: Fund) -> None:
    for _ in range(2):
        r = fund.post("/dispensings", _dispensing(clientRef="abc-1"), fund.pharmacist, 422)
        assert r["errors"] == {"clientRef": [r["errors"]["clientRef"][0]]}
        assert r["detail"].startswith("clientRef: unknown field")
    assert fund.get("/dispensings")["items"] == []


def test_unknown_fields_in_nested_objects_are_named(fund: Fund) -> None:
    bad_item = _dispensing(items=[{"medicine": "MET500", "quantity": 2, "note": "x"}])
    r = fund.post("/dispensings", bad_item, fund.pharmacist, 422)
    assert list(r["errors"]) == ["items.0.note"]
    r = fund.post(
        "/journal-entries",
        {
            "date": "2026-10-14",
            "memo": "m",
            "postings": [
                {"account": "1010", "commodity": "KHR", "amount": "5", "side": "debit"},
                {"account": "3000", "commodity": "KHR", "amount": "-5"},
            ],
        },
        expect=422,
    )
    assert list(r["errors"]) == ["postings.0.side"]
    r = fund.post(
        "/patients",
        {
            "member_code": "M-9",
            "enrolments": [{"scheme": "HEF", "valid_from": "2026-01-01", "x": 1}],
        },
        expect=422,
    )
    assert list(r["errors"]) == ["enrolments.0.x"]
    r = fund.post(
        "/pharmacies/P1/contracts",
        {
            "valid_from": "2027-01-01",
            "model": "consignment",
            "price_list": "PL1",
            "fee": {"kind": "percent", "value": "10", "cap": "5"},
        },
        expect=422,
    )
    assert list(r["errors"]) == ["fee.cap"]
    r = fund.post(
        "/payments",
        {
            "date": "2026-10-20",
            "direction": "in",
            "kind": "pharmacy",
            "counterparty": {"kind": "pharmacy", "code": "P1", "name": "P1"},
            "currency": "KHR",
            "amount": "10",
        },
        expect=422,
    )
    assert "counterparty.name" in r["errors"]
    r = fund.post(
        "/stock/receipts",
        {
            "supplier": "S1",
            "location": "CENTRAL",
            "date": "2026-10-01",
            "lines": [
                {
                    "medicine": "MET500",
                    "lot": "L9",
                    "expiry": "2028-03-31",
                    "quantity": 10,
                    "total_cost": "350",
                    "unit_cost": "35",
                }
            ],
        },
        expect=422,
    )
    assert list(r["errors"]) == ["lines.0.unit_cost"]


def test_a_batch_record_with_an_unknown_field_is_refused_alone(fund: Fund) -> None:
    good = _dispensing(client_ref="good-1")
    bad = _dispensing(clientRef="abc-1")
    out = fund.post("/dispensings/batch", {"dispensings": [good, bad]}, fund.pharmacist, 200)
    first, second = out["results"]
    assert first["status"] == 201
    assert second["status"] == 422 and second["dispensing"] is None
    assert list(second["problem"]["errors"]) == ["clientRef"]
    assert second["problem"]["detail"].startswith("clientRef: unknown field")
    assert out["created"] == 1 and out["failed"] == 1
    # The batch itself refuses a field it does not know.
    r = fund.post(
        "/dispensings/batch", {"dispensings": [good], "device": "phone-1"}, fund.pharmacist, 422
    )
    assert list(r["errors"]) == ["device"]


def test_query_strings_stay_lenient(fund: Fund) -> None:
    fund.get("/dispensings?limit=5&_=12345")
    fund.get("/accounts/1010/statement?cache=1")
