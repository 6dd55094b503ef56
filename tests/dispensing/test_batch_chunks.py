"""A batch is written many records per transaction (``api.dispensing._chunk`` and
``dispensing.service.dispense_many``): it must answer and book exactly as the same records
sent one at a time — the same answers, byte for byte, ids included, and the same books.

Each test runs the same records against two copies of the fund: one app writes chunks of
7 records (so a batch crosses several chunk boundaries, and stock and capped subsidy carry
from record to record inside a chunk), the other one record per transaction
(``RDF_BATCH_CHUNK=1``, as a single POST does).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from api.dispensing import _hash
from tests.conftest import BACKENDS
from tests.dispensing.conftest import (
    Fund,
    FundTemplate,
    fund_on,
    pg_fund_copy,
    sqlite_fund_copy,
)
from tests.support import make_app

CHUNK = 7


def _extend(f: Fund) -> None:
    """More than the worked example: stock at P2, a fund scheme with a monthly cap and
    cash rounding, and patients in every situation."""
    f.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P2",
            "date": "2026-10-02",
            "lines": [{"medicine": "MET500", "quantity": 90}],
        },
    )
    f.post(
        "/subsidy-schemes",
        {
            "code": "NGO",
            "name": "NGO scheme",
            "payer": "fund",
            "percent": "75",
            "cap_per_patient_month": "900",
            "cash_rounding": "100",
        },
    )
    for code in ("C-1", "C-2", "C-3"):
        f.post(
            "/patients",
            {"member_code": code, "enrolments": [{"scheme": "NGO", "valid_from": "2026-01-01"}]},
        )
    f.post(
        "/patients",
        {
            "member_code": "C-4",
            "enrolments": [
                {"scheme": "NGO", "valid_from": "2026-01-01"},
                {"scheme": "HEF", "valid_from": "2026-10-10"},
            ],
        },
    )


@pytest.fixture(params=BACKENDS)
def fund_pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Fund, Fund]]:
    """(chunked, one at a time): the same fund twice, extended alike."""
    with ExitStack() as stack:
        if request.param == "postgres":
            template: FundTemplate = request.getfixturevalue("pg_fund_template")
            urls = [stack.enter_context(pg_fund_copy(template)) for _ in range(2)]
        else:
            template = request.getfixturevalue("sqlite_fund_template")
            urls = [sqlite_fund_copy(template, tmp_path) for _ in range(2)]
        apps = [make_app(url) for url in urls]
        for application in apps:
            stack.callback(application.extensions["rdf_db"].dispose)
        apps[0].config["RDF_BATCH_CHUNK"] = CHUNK
        apps[1].config["RDF_BATCH_CHUNK"] = 1
        funds = (fund_on(apps[0], template), fund_on(apps[1], template))
        for f in funds:
            _extend(f)
        yield funds


def _records(seed: int, n: int) -> list[Any]:
    """A day of an offline phone, with every kind of trouble: stock running out, capped
    patients, unknown patients and medicines, invalid records, client_refs sent twice
    (the same record, or an altered one), records without client_ref."""
    rnd = random.Random(seed)
    out: list[Any] = []
    twice = 0
    for i in range(n):
        kind = rnd.random()
        if kind < 0.04:
            out.append({"pharmacy": "P1", "service_date": "2026-02-30", "items": []})
            continue
        keyed = [r for r in out if isinstance(r, dict) and r.get("client_ref")]
        if kind < 0.16 and keyed:
            earlier = rnd.choice(keyed)
            twice += 1
            if twice % 2:
                out.append(dict(earlier))  # sent twice
            else:
                out.append({**earlier, "items": [{"medicine": "AML5", "quantity": 1}]})
            continue
        items = [
            {"medicine": rnd.choice(["MET500", "MET500", "AML5"]), "quantity": rnd.randint(1, 30)}
            for _ in range(rnd.choice([1, 1, 2]))
        ]
        if rnd.random() < 0.03:
            items.append({"medicine": "NOPE", "quantity": 1})
        rec: dict[str, Any] = {
            "pharmacy": rnd.choice(["P1", "P1", "P1", "P2"]),
            "patient": rnd.choice(
                [
                    "M-00042",
                    "M-00043",
                    "C-1",
                    "C-2",
                    "C-3",
                    "C-4",
                    None,
                    "C-1",
                    "C-2",
                    "M-404" if rnd.random() < 0.1 else None,
                ]
            ),
            "service_date": f"2026-10-{rnd.randint(8, 20):02d}",
            "items": items,
        }
        if rnd.random() < 0.85:
            rec["client_ref"] = f"s{seed}-r{i}"
        out.append(rec)
    return out


def _books(f: Fund) -> dict[str, Any]:
    return {
        "trial_balance": f.get("/reports/trial-balance"),
        "on_hand": f.get("/stock/on-hand"),
        "dispensings": f.get("/dispensings?limit=1000"),
        "balances": {
            a: f.get(f"/accounts/{a}/balance")
            for a in (
                "1400-P1",
                "1400-P2",
                "1200-P1",
                "1200-P2",
                "2100-P1",
                "2100-P2",
                "1300-HEF",
                "4000",
                "5000",
                "5100",
                "5300",
            )
        },
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_chunked_batch_answers_and_books_exactly_as_one_record_at_a_time(
    fund_pair: tuple[Fund, Fund], seed: int
) -> None:
    chunked, single = fund_pair
    records = _records(seed, 60)
    a = chunked.post("/dispensings/batch", {"dispensings": records}, expect=200)
    b = single.post("/dispensings/batch", {"dispensings": records}, expect=200)
    statuses = {r["status"] for r in a["results"]}
    assert {201, 409, 422} <= statuses, statuses  # the records exercise every outcome
    assert a["created"] > 10 and a["replayed"] >= 1
    assert a == b
    assert _books(chunked) == _books(single)
    # Sent again: every stored answer comes back byte for byte; only the records without
    # a client_ref (nothing to recognise them by) are booked again.
    again = chunked.post("/dispensings/batch", {"dispensings": records}, expect=200)
    assert again == single.post("/dispensings/batch", {"dispensings": records}, expect=200)
    for first, second in zip(a["results"], again["results"], strict=True):
        if first["status"] == 201 and first["client_ref"] is not None:
            assert second["replayed"] is True
            assert second["dispensing"] == first["dispensing"]
    assert again["created"] < a["created"]
    assert _books(chunked) == _books(single)
    assert chunked.get("/audit/verify")["ok"] is True


def test_a_capped_patient_is_capped_across_records_of_one_chunk(
    fund_pair: tuple[Fund, Fund],
) -> None:
    chunked, single = fund_pair
    # 75 % of 20 x 50 = 750 each, rounded; the monthly cap is 900.
    records = [
        {
            "pharmacy": "P1",
            "patient": "C-1",
            "service_date": "2026-10-15",
            "client_ref": f"cap-{i}",
            "items": [{"medicine": "MET500", "quantity": 20}],
        }
        for i in range(3)
    ]
    a = chunked.post("/dispensings/batch", {"dispensings": records}, expect=200)
    b = single.post("/dispensings/batch", {"dispensings": records}, expect=200)
    assert a == b
    subsidies = [r["dispensing"]["total_subsidy"] for r in a["results"]]
    assert sum(int(x) for x in subsidies) == 900 and subsidies[0] != "0"
    assert subsidies[-1] == "0"


def test_stock_running_out_inside_a_chunk_refuses_exactly_the_records_that_do_not_fit(
    fund_pair: tuple[Fund, Fund],
) -> None:
    chunked, single = fund_pair
    records = [
        {
            "pharmacy": "P1",
            "service_date": "2026-10-15",
            "client_ref": f"out-{i}",
            "items": [{"medicine": "MET500", "quantity": q}],
        }
        for i, q in enumerate([150, 150, 150, 99, 1, 1])
    ]
    a = chunked.post("/dispensings/batch", {"dispensings": records}, expect=200)
    assert [r["status"] for r in a["results"]] == [201, 201, 409, 201, 201, 409]
    assert "MET500" in a["results"][2]["problem"]["detail"]
    assert a == single.post("/dispensings/batch", {"dispensings": records}, expect=200)
    assert chunked.balance("1400-P1", "MET500") == 0
    assert chunked.balance("1400-P1", "KHR", lot="L1") == 0  # the last units, the last riel


def test_a_pharmacist_batch_refuses_only_the_records_of_another_pharmacy(
    fund_pair: tuple[Fund, Fund],
) -> None:
    chunked, single = fund_pair
    records = [
        {
            "pharmacy": p,
            "service_date": "2026-10-15",
            "client_ref": f"own-{i}",
            "items": [{"medicine": "MET500", "quantity": 2}],
        }
        for i, p in enumerate(["P1", "P2", "P1"])
    ]
    a = chunked.post("/dispensings/batch", {"dispensings": records}, chunked.pharmacist, 200)
    assert [r["status"] for r in a["results"]] == [201, 403, 201]
    assert a == single.post("/dispensings/batch", {"dispensings": records}, single.pharmacist, 200)
    assert chunked.balance("1400-P2", "MET500") == 90


def test_a_client_ref_held_by_a_dispensing_without_stored_answer_is_refused_in_a_chunk(
    fund_pair: tuple[Fund, Fund],
) -> None:
    """A dispensing holds a client_ref whose stored answer is gone: inside a chunk that
    record alone is refused (409 client-ref-reused), as one at a time; the others book."""
    results = []
    for f in fund_pair:
        f.dispense([("MET500", 1)], ref="taken")
        app: Flask = f.client.application
        with app.extensions["rdf_db"].session() as s:
            s.execute(text("DELETE FROM idempotency_keys WHERE key = 'taken'"))
            s.commit()
        records = [
            {
                "pharmacy": "P1",
                "service_date": "2026-10-15",
                "client_ref": ref,
                "items": [{"medicine": "MET500", "quantity": 2}],
            }
            for ref in ("before", "taken", "after")
        ]
        out = f.post("/dispensings/batch", {"dispensings": records}, expect=200)
        assert [r["status"] for r in out["results"]] == [201, 409, 201]
        assert out["results"][1]["problem"]["type"] == "/problems/client-ref-reused"
        assert f.balance("1400-P1", "MET500") == 400 - 1 - 4
        results.append(out)
    assert results[0] == results[1]


def test_a_chunk_whose_claim_is_taken_meanwhile_is_redone_one_record_at_a_time(
    pg_fund: tuple[Flask, Fund],
) -> None:
    """Another request holds the claim of one record's client_ref (uncommitted) when the
    chunk claims its keys: the chunk waits on it, its INSERT fails once the other commits,
    and the chunk's records are redone one at a time: that record replays the other's
    stored answer, the others are booked once."""
    app, f = pg_fund
    app.config["RDF_BATCH_CHUNK"] = CHUNK
    records = [
        {
            "pharmacy": "P1",
            "service_date": "2026-10-15",
            "client_ref": ref,
            "items": [{"medicine": "MET500", "quantity": 2}],
        }
        for ref in ("c-1", "held", "c-3")
    ]
    stored = '{"id": "elsewhere"}'
    engine = app.extensions["rdf_db"].engine
    holder = engine.connect()
    holder.begin()
    holder.execute(
        text(
            "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response_body,"
            " created_at) VALUES ('dispensings:P1', 'held', :h, 201, :b, now())"
        ),
        {"h": _hash(records[1]), "b": stored},
    )
    out: list[Any] = []
    sender = threading.Thread(
        target=lambda: out.append(
            f.post("/dispensings/batch", {"dispensings": records}, f.pharmacist, 200)
        )
    )
    sender.start()
    deadline, queued = time.monotonic() + 30, False
    with engine.connect() as c:  # wait until the chunk queues on the held claim
        while time.monotonic() < deadline and not queued:
            queued = bool(
                c.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND datname = current_database()"
                    )
                ).scalar()
            )
            c.rollback()  # pg_stat_activity is a snapshot per transaction: take a new one
            time.sleep(0.05)
    holder.commit()
    holder.close()
    sender.join(timeout=60)
    (answer,) = out
    assert queued, "the chunk never waited on the held claim"
    assert [r["status"] for r in answer["results"]] == [201, 201, 201]
    assert answer["results"][1] == {
        "index": 1,
        "client_ref": "held",
        "status": 201,
        "replayed": True,
        "dispensing": {"id": "elsewhere"},
        "problem": None,
    }
    assert answer["created"] == 2 and answer["replayed"] == 1
    assert f.balance("1400-P1", "MET500") == 400 - 4


def test_concurrent_chunked_batches_on_one_lot_never_oversell(pg_fund: tuple[Flask, Fund]) -> None:
    """Four phones of P1 send 30 records each at once (chunks of 7, from one lot of 400):
    exactly as many records succeed as the lot holds, every other one is a 409, and the
    stock and its value end exact."""
    app, f = pg_fund
    app.config["RDF_BATCH_CHUNK"] = CHUNK
    barrier = threading.Barrier(4)

    def send(phone: int) -> Any:
        c = app.test_client()
        records = [
            {
                "pharmacy": "P1",
                "service_date": "2026-10-15",
                "client_ref": f"phone{phone}-{i}",
                "items": [{"medicine": "MET500", "quantity": 7}],
            }
            for i in range(30)
        ]
        barrier.wait(timeout=60)
        r = c.post("/api/v1/dispensings/batch", json={"dispensings": records}, headers=f.pharmacist)
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outs = list(pool.map(send, range(4)))
    statuses = [r["status"] for out in outs for r in out["results"]]
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) == 400 // 7
    assert f.balance("1400-P1", "MET500") == 400 - 7 * (400 // 7)
    # Each 7 units cost 7 x 35 = 245 riel out of the lot's 14,000 at P1.
    assert f.balance("1400-P1", "KHR", lot="L1") == 14000 - 245 * (400 // 7)
    assert f.balance("5000", "KHR") == 245 * (400 // 7)
    tb = f.get("/reports/trial-balance")
    assert all(t["debit"] == t["credit"] for t in tb["totals"])
