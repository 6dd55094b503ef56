"""23.4: an error says how to fix it — a date's form, a period's form, that medicine codes
are case-sensitive and where to list them, and ``client_ref`` (not "idempotency key") when
the key of a dispensing came from the body."""

from __future__ import annotations

from typing import Any

from tests.dispensing.conftest import Fund


def _dispensing(**extra: Any) -> dict[str, Any]:
    return {
        "pharmacy": "P1",
        "patient": "M-00042",
        "service_date": "2026-10-14",
        "items": [{"medicine": "MET500", "quantity": 2}],
        **extra,
    }


def test_a_date_in_the_wrong_form_says_the_right_one(fund: Fund) -> None:
    r = fund.post("/dispensings", _dispensing(service_date="14/10/2026"), fund.pharmacist, 422)
    assert r["errors"] == {"service_date": ["Not a valid date: use YYYY-MM-DD"]}
    assert "YYYY-MM-DD" in r["detail"]
    r = fund.post("/journal-entries", {"date": "2026-10", "memo": "m", "postings": []}, None, 422)
    assert r["errors"]["date"] == ["Not a valid date: use YYYY-MM-DD"]
    q = fund.client.get("/api/v1/accounts/1010/statement?from=01.10.2026", headers=fund.finance)
    assert q.status_code == 422
    assert q.get_json()["errors"] == {"from": ["Not a valid date: use YYYY-MM-DD"]}


def test_a_period_in_the_wrong_form_says_the_right_one(fund: Fund) -> None:
    r = fund.post("/settlements", {"pharmacy": "P1", "period": "2026-1"}, None, 422)
    assert r["errors"] == {"period": ["Not a valid period: use YYYY-MM"]}
    r = fund.post("/subsidy-claims", {"scheme": "HEF", "period": "October"}, None, 422)
    assert "YYYY-MM" in r["errors"]["period"][0] and "YYYY-MM" in r["detail"]


def _case_hint(text: str) -> None:
    assert "case-sensitive" in text and "GET /api/v1/medicines" in text, text


def test_an_unknown_medicine_code_says_codes_are_case_sensitive_and_where_to_list_them(
    fund: Fund,
) -> None:
    lower = _dispensing(items=[{"medicine": "met500", "quantity": 2}])
    for path in ("/dispensings", "/dispensings/quote"):
        r = fund.post(path, lower, fund.pharmacist, 422)
        _case_hint(r["detail"])
        _case_hint(r["errors"]["items.0.medicine"][0])
    out = fund.post("/dispensings/batch", {"dispensings": [lower]}, fund.pharmacist, 200)
    _case_hint(out["results"][0]["problem"]["detail"])
    r = fund.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P1",
            "date": "2026-10-03",
            "lines": [{"medicine": "met500", "quantity": 1}],
        },
        expect=422,
    )
    _case_hint(r["errors"]["lines.0.medicine"][0])
    r = fund.post(
        "/price-lists/PL1/versions",
        {"effective_from": "2026-11-01", "items": [{"medicine": "met500", "unit_price": "50"}]},
        expect=422,
    )
    _case_hint(r["errors"]["items.0.medicine"][0])
    r = fund.post(
        "/journal-entries",
        {
            "date": "2026-10-14",
            "memo": "m",
            "postings": [
                {"account": "1010", "commodity": "khr", "amount": "5"},
                {"account": "3000", "commodity": "KHR", "amount": "-5"},
            ],
        },
        expect=422,
    )
    assert "case-sensitive" in r["errors"]["postings.0.commodity"][0]
    # A known medicine the price list does not carry is still said so.
    fund.post(
        "/medicines",
        {
            "code": "PCM500",
            "name": "Paracetamol",
            "strength": "500 mg",
            "form": "tablet",
            "unit": "tablet",
        },
    )
    r = fund.post(
        "/dispensings/quote",
        _dispensing(items=[{"medicine": "PCM500", "quantity": 1}]),
        fund.pharmacist,
        422,
    )
    assert "is not on price list PL1" in r["detail"]


def test_a_reused_client_ref_is_named_client_ref(fund: Fund) -> None:
    fund.post("/dispensings", _dispensing(client_ref="r-1"), fund.pharmacist, 201)
    again = _dispensing(client_ref="r-1", items=[{"medicine": "MET500", "quantity": 3}])
    r = fund.post("/dispensings", again, fund.pharmacist, 409)
    assert r["type"] == "/problems/idempotency-key-reused"
    assert "client_ref 'r-1'" in r["detail"] and "idempotency key" not in r["detail"]
    assert "idempotency key" not in r["title"].lower()
    assert list(r["errors"]) == ["client_ref"]
    out = fund.post("/dispensings/batch", {"dispensings": [again]}, fund.pharmacist, 200)
    assert "client_ref 'r-1'" in out["results"][0]["problem"]["detail"]
    # The header's key is still called what it is.
    h = {**fund.pharmacist, "Idempotency-Key": "k-1"}
    fund.post("/dispensings", _dispensing(), h, 201)
    r = fund.post("/dispensings", again | {"client_ref": None}, h, 409)
    assert "idempotency key" in r["detail"]
