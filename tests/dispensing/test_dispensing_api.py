"""A pharmacist's day through the API, held to DESIGN.md's rules to the riel."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from dispensing.service import dispense
from tests.dispensing.conftest import Fund


def test_the_worked_dispensing_of_design_md_is_exact(fund: Fund) -> None:
    d = fund.dispense([("MET500", 60)], ref="phone-7f3a-000118")
    assert d["pharmacy"] == "P1" and d["patient"] == "M-00042"
    assert d["service_date"] == d["accounting_date"] == "2026-10-14"
    assert d["currency"] == "KHR"
    (line,) = d["lines"]
    assert (
        line["medicine"],
        line["quantity"],
        line["unit_price"],
        line["price"],
        line["subsidy"],
        line["copayment"],
    ) == ("MET500", 60, "50", "3000", "1500", "1500")
    assert [(lot["lot"], lot["quantity"]) for lot in line["lots"]] == [("L1", 60)]
    assert (d["total_price"], d["total_subsidy"], d["total_copayment"], d["fee"]) == (
        "3000",
        "1500",
        "1500",
        "300",
    )
    entry = fund.get(f"/journal-entries/{d['entry_id']}")
    got = sorted((p["account"], p["commodity"], p["lot"], p["amount"]) for p in entry["postings"])
    assert got == sorted(
        [
            ("5000", "MET500", "L1", "60"),
            ("1400-P1", "MET500", "L1", "-60"),
            ("5000", "KHR", None, "2100"),
            ("1400-P1", "KHR", "L1", "-2100"),
            ("1200-P1", "KHR", None, "1500"),
            ("1300-HEF", "KHR", None, "1500"),
            ("4000", "KHR", None, "-3000"),
            ("5100", "KHR", None, "300"),
            ("2100-P1", "KHR", None, "-300"),
        ]
    )
    assert fund.balance("1400-P1", "MET500") == 340
    assert fund.balance("1400-P1", "KHR", lot="L1") == 14000 - 2100


def test_a_retry_with_the_same_client_ref_returns_the_first_answer_and_posts_nothing(
    fund: Fund,
) -> None:
    r1 = fund.client.post(
        "/api/v1/dispensings",
        headers=fund.pharmacist,
        json={
            "pharmacy": "P1",
            "patient": "M-00042",
            "service_date": "2026-10-14",
            "client_ref": "c-1",
            "items": [{"medicine": "MET500", "quantity": 10}],
        },
    )
    r2 = fund.client.post(
        "/api/v1/dispensings",
        headers=fund.pharmacist,
        json={
            "pharmacy": "P1",
            "patient": "M-00042",
            "service_date": "2026-10-14",
            "client_ref": "c-1",
            "items": [{"medicine": "MET500", "quantity": 10}],
        },
    )
    assert r1.status_code == r2.status_code == 201
    assert r1.data == r2.data
    assert fund.balance("1400-P1", "MET500") == 390
    r3 = fund.client.post(
        "/api/v1/dispensings",
        headers=fund.pharmacist,
        json={
            "pharmacy": "P1",
            "patient": "M-00042",
            "service_date": "2026-10-14",
            "client_ref": "c-1",
            "items": [{"medicine": "MET500", "quantity": 11}],
        },
    )
    assert r3.status_code == 409
    assert r3.content_type == "application/problem+json"
    assert fund.balance("1400-P1", "MET500") == 390


def test_a_walk_in_pays_full_price(fund: Fund) -> None:
    d = fund.dispense([("MET500", 7)], patient=None)
    assert (d["total_price"], d["total_subsidy"], d["total_copayment"]) == ("350", "0", "350")


def test_a_pharmacist_cannot_dispense_or_read_for_another_pharmacy(fund: Fund) -> None:
    fund.dispense([("MET500", 1)], pharmacy="P1", headers=fund.other_pharmacist, expect=403)
    d = fund.dispense([("MET500", 1)])
    fund.get(f"/dispensings/{d['id']}", headers=fund.other_pharmacist, expect=404)
    assert fund.get("/dispensings", headers=fund.other_pharmacist)["items"] == []
    fund.get("/dispensings?pharmacy=P1", headers=fund.other_pharmacist, expect=404)
    assert len(fund.get("/dispensings", headers=fund.pharmacist)["items"]) == 1
    fund.post(
        f"/dispensings/{d['id']}/returns",
        {"items": [{"medicine": "MET500", "quantity": 1}]},
        fund.other_pharmacist,
        expect=404,
    )
    fund.post(
        "/dispensings",
        {
            "pharmacy": "P1",
            "service_date": "2026-10-14",
            "items": [{"medicine": "MET500", "quantity": 1}],
        },
        fund.auditor,
        expect=403,
    )


def test_not_enough_stock_is_a_409_that_posts_nothing(fund: Fund) -> None:
    before = fund.get("/reports/trial-balance")
    p = fund.dispense([("MET500", 401)], expect=409)
    assert "MET500" in p["detail"]
    assert fund.get("/reports/trial-balance") == before


def test_returns_in_parts_reverse_the_dispensing_exactly(fund: Fund) -> None:
    d = fund.dispense([("MET500", 7)])
    before_1200 = fund.balance("1200-P1")
    parts = [3, 1, 3]
    for q in parts:
        fund.post(
            f"/dispensings/{d['id']}/returns",
            {"items": [{"medicine": "MET500", "quantity": q}], "date": "2026-10-20"},
            fund.pharmacist,
        )
    assert fund.balance("1400-P1", "MET500") == 400
    assert fund.balance("1400-P1", "KHR", lot="L1") == 14000
    assert fund.balance("4000") == 0 and fund.balance("5000") == 0
    assert fund.balance("1300-HEF") == 0 and fund.balance("5100") == 0
    assert before_1200 > 0 and fund.balance("1200-P1") == 0
    fund.post(
        f"/dispensings/{d['id']}/returns",
        {"items": [{"medicine": "MET500", "quantity": 1}]},
        fund.pharmacist,
        expect=409,
    )
    full = fund.get(f"/dispensings/{d['id']}")
    assert len(full["returns"]) == 3


def test_the_batch_answers_each_record_and_a_replay_posts_nothing(fund: Fund) -> None:
    records = [
        {
            "pharmacy": "P1",
            "patient": "M-00042",
            "service_date": "2026-10-14",
            "client_ref": f"b-{i}",
            "items": [{"medicine": "MET500", "quantity": 10}],
        }
        for i in range(5)
    ]
    records.insert(2, {"pharmacy": "P1", "service_date": "2026-02-30", "items": []})
    records.append(
        {
            "pharmacy": "P1",
            "service_date": "2026-10-14",
            "client_ref": "big",
            "items": [{"medicine": "MET500", "quantity": 100000}],
        }
    )
    out = fund.post("/dispensings/batch", {"dispensings": records}, fund.pharmacist, expect=200)
    statuses = [r["status"] for r in out["results"]]
    assert statuses == [201, 201, 422, 201, 201, 201, 409]
    assert out["created"] == 5 and out["failed"] == 2
    assert fund.balance("1400-P1", "MET500") == 350
    again = fund.post("/dispensings/batch", {"dispensings": records}, fund.pharmacist, expect=200)
    assert again["created"] == 0 and again["replayed"] == 5
    assert [r["dispensing"] for r in again["results"] if r["status"] == 201] == [
        r["dispensing"] for r in out["results"] if r["status"] == 201
    ]
    assert fund.balance("1400-P1", "MET500") == 350


def test_a_batch_key_never_keeps_an_answer_that_says_send_it_again(
    fund: Fund, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record the database could not take (busy or down past the retries) is answered 409
    "send it again". Under a batch Idempotency-Key that answer must not be the one the key
    replays, or the record could never be sent in again with it: the crash trials found a
    phone resending such a batch forever."""
    records = [
        {
            "pharmacy": "P1",
            "patient": "M-00042",
            "service_date": "2026-10-14",
            "client_ref": f"k-{i}",
            "items": [{"medicine": "MET500", "quantity": 10}],
        }
        for i in range(3)
    ]

    def busy_for_k1(session: Any, req: Any, *, by: str) -> Any:
        if req.client_ref == "k-1":
            raise IntegrityError("INSERT …", {}, Exception("busy"))
        return dispense(session, req, by=by)

    app = fund.client.application
    monkeypatch.setitem(app.config, "RDF_BATCH_CHUNK", 1)  # one record per transaction
    monkeypatch.setattr("api.dispensing.dispense", busy_for_k1)
    headers = {**fund.pharmacist, "Idempotency-Key": "phone-batch-7"}
    out = fund.post("/dispensings/batch", {"dispensings": records}, headers, expect=200)
    assert [r["status"] for r in out["results"]] == [201, 409, 201]
    assert "send it again" in out["results"][1]["problem"]["detail"]
    assert fund.balance("1400-P1", "MET500") == 380

    monkeypatch.setattr("api.dispensing.dispense", dispense)
    again = fund.post("/dispensings/batch", {"dispensings": records}, headers, expect=200)
    assert [r["status"] for r in again["results"]] == [201, 201, 201]
    assert (again["created"], again["replayed"]) == (1, 2)
    assert fund.balance("1400-P1", "MET500") == 370
    final = fund.post("/dispensings/batch", {"dispensings": records}, headers, expect=200)
    assert final == again  # now the key keeps the answer, and replays it whole


def test_a_batch_over_1000_records_is_refused_whole(fund: Fund) -> None:
    rec = {
        "pharmacy": "P1",
        "service_date": "2026-10-14",
        "items": [{"medicine": "MET500", "quantity": 1}],
    }
    p = fund.post("/dispensings/batch", {"dispensings": [rec] * 1001}, fund.pharmacist, expect=422)
    assert "1000" in p["detail"] or "1000" in str(p.get("errors"))
    assert fund.balance("1400-P1", "MET500") == 400


def test_bad_input_on_every_field_is_a_4xx_that_changes_nothing(fund: Fund) -> None:
    before = fund.get("/reports/trial-balance")
    good = {
        "pharmacy": "P1",
        "patient": "M-00042",
        "service_date": "2026-10-14",
        "items": [{"medicine": "MET500", "quantity": 1}],
    }
    bad_bodies = [
        {**good, "pharmacy": "NOPE"},
        {**good, "pharmacy": 7},
        {**good, "patient": "M-404"},
        {**good, "patient": 42},
        {**good, "service_date": "2026-13-01"},
        {**good, "service_date": "2099-01-01"},
        {**good, "service_date": None},
        {**good, "items": []},
        {**good, "items": "x"},
        {**good, "items": [{"medicine": "NOPE", "quantity": 1}]},
        {**good, "items": [{"medicine": "MET500", "quantity": 0}]},
        {**good, "items": [{"medicine": "MET500", "quantity": -3}]},
        {**good, "items": [{"medicine": "MET500", "quantity": 1.5}]},
        {**good, "items": [{"medicine": "MET500", "quantity": "1"}]},
        {**good, "items": [{"medicine": "MET500", "quantity": True}]},
        {**good, "items": [{"medicine": "MET500", "quantity": 10**12}]},
        {**good, "client_ref": ""},
        {**good, "client_ref": "x" * 500},
        [good],
        "text",
    ]
    for body in bad_bodies:
        r = fund.client.post("/api/v1/dispensings", json=body, headers=fund.pharmacist)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.get_json())
        assert r.content_type == "application/problem+json", body
    assert fund.get("/reports/trial-balance") == before


def test_the_dispensing_list_pages_through_everything_and_refuses_a_foreign_cursor(
    fund: Fund,
) -> None:
    made = [fund.dispense([("MET500", 1)], ref=f"page-{i}")["id"] for i in range(3)]
    seen, cursor = [], None
    while True:
        page = fund.get("/dispensings?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [d["id"] for d in page["items"]]
        assert all(len(d["lines"]) == 1 for d in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made
    foreign = fund.get("/accounts?limit=1")["next_cursor"]
    r = fund.client.get(f"/api/v1/dispensings?cursor={foreign}", headers=fund.finance)
    assert r.status_code == 422 and r.content_type == "application/problem+json"
