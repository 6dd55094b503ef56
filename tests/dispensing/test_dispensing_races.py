"""On PostgreSQL, concurrent dispensings never overdraw a lot, a raced client_ref makes one
dispensing, and two pharmacies dispensing at once both end with exact books.

Each thread has its own test client (its own requests, sessions and connections); a barrier
starts them together. Starting point: a copy of the worked example's fund (``pg_fund``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.dispensing.conftest import Fund

pytestmark = pytest.mark.postgres_only

Job = tuple[dict[str, str], dict[str, Any]]  # headers, body


def race(app: Flask, jobs: list[Job], threads: int) -> list[tuple[int, bytes]]:
    """POST every job to /dispensings from ``threads`` threads at once; (status, body) each,
    in job order."""
    local = threading.local()
    barrier = threading.Barrier(threads)
    started: set[int] = set()
    lock = threading.Lock()

    def client() -> FlaskClient:
        if not hasattr(local, "client"):
            local.client = app.test_client()
        return local.client  # type: ignore[no-any-return]

    def send(job: Job) -> tuple[int, bytes]:
        c = client()
        with lock:
            first = threading.get_ident() not in started
            started.add(threading.get_ident())
        if first:
            barrier.wait(timeout=60)
        headers, body = job
        r = c.post("/api/v1/dispensings", json=body, headers=headers)
        return r.status_code, r.data

    # Each of the ``threads`` workers takes its first job before any second one is handed
    # out only if there are at least as many jobs as threads (true in every test here).
    assert len(jobs) >= threads
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(send, jobs))


def body(pharmacy: str, ref: str, quantity: int, patient: str | None = "M-00042") -> dict[str, Any]:
    return {
        "pharmacy": pharmacy,
        "patient": patient,
        "service_date": "2026-10-14",
        "client_ref": ref,
        "items": [{"medicine": "MET500", "quantity": quantity}],
    }


def stock_p2(f: Fund, units: int) -> int:
    out = f.post(
        "/stock/transfers",
        {
            "from": "CENTRAL",
            "to": "P2",
            "date": "2026-10-03",
            "lines": [{"medicine": "MET500", "quantity": units}],
        },
    )
    return int(out["lines"][0]["lots"][0]["value"])


def test_100_dispensings_raced_against_a_lot_holding_71_of_them_give_71_201_and_29_409(
    pg_fund: tuple[Flask, Fund],
) -> None:
    app, f = pg_fund
    value = stock_p2(f, 71 * 5)
    assert value == 12425  # 355 of CENTRAL's 600 worth 21000
    jobs = [(f.other_pharmacist, body("P2", f"race-{i}", 5)) for i in range(100)]
    results = race(app, jobs, threads=10)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 71, 409: 29}, statuses
    assert f.balance("1400-P2", "MET500") == 0
    assert f.balance("1400-P2", "KHR", lot="L1") == 0
    listed = f.get("/dispensings?pharmacy=P2&limit=1000")["items"]
    assert len(listed) == 71
    assert sum(int(d["lines"][0]["cost"]) for d in listed) == 12425
    # 71 dispensings of 250 KHR at 50 %, fee 25 each.
    assert f.balance("1200-P2") == 71 * 125
    assert f.balance("2100-P2") == -71 * 25
    assert f.balance("5000", "MET500") == 355


def test_12_threads_sending_one_client_ref_at_once_make_one_dispensing(
    pg_fund: tuple[Flask, Fund],
) -> None:
    app, f = pg_fund
    jobs = [(f.pharmacist, body("P1", "same-ref", 7)) for _ in range(12)]
    results = race(app, jobs, threads=12)
    # The first claims the key; the others wait on its unique index, then replay its
    # stored answer: all 201, byte for byte the same body.
    assert [status for status, _ in results] == [201] * 12
    assert len({data for _, data in results}) == 1
    (d,) = f.get("/dispensings?pharmacy=P1")["items"]
    assert d["client_ref"] == "same-ref"
    assert f.balance("1400-P1", "MET500") == 400 - 7
    assert f.balance("4000") == -350


def test_two_pharmacies_dispensing_at_once_both_end_with_exact_books(
    pg_fund: tuple[Flask, Fund],
) -> None:
    app, f = pg_fund
    assert stock_p2(f, 150) == 5250
    jobs: list[Job] = []
    for i in range(50):
        jobs.append((f.pharmacist, body("P1", f"p1-{i}", 3)))
        jobs.append((f.other_pharmacist, body("P2", f"p2-{i}", 3)))
    results = race(app, jobs, threads=10)
    assert [status for status, _ in results] == [201] * 100
    # Each dispensing: 3 x 50 = 150, subsidy 75, co-payment 75, fee 15, cost 3 x 35 = 105.
    expected: dict[tuple[str, str], int] = {
        ("1400-P1", "MET500"): 400 - 150,
        ("1400-P2", "MET500"): 0,
        ("1200-P1", "KHR"): 50 * 75,
        ("1200-P2", "KHR"): 50 * 75,
        ("2100-P1", "KHR"): -50 * 15,
        ("2100-P2", "KHR"): -50 * 15,
        ("1300-HEF", "KHR"): 100 * 75,
        ("4000", "KHR"): -100 * 150,
        ("5100", "KHR"): 100 * 15,
        ("5000", "KHR"): 100 * 105,
    }
    got = {key: f.balance(*key) for key in expected}
    assert got == expected
    assert f.balance("1400-P1", "KHR", lot="L1") == 14000 - 50 * 105
    assert f.balance("1400-P2", "KHR", lot="L1") == 0
    tb = f.get("/reports/trial-balance")
    assert all(t["debit"] == t["credit"] for t in tb["totals"])
    counted: Callable[[str], int] = lambda p: len(  # noqa: E731
        f.get(f"/dispensings?pharmacy={p}&limit=1000")["items"]
    )
    assert (counted("P1"), counted("P2")) == (50, 50)


def test_8_batches_sending_the_same_client_refs_at_once_make_one_dispensing_each(
    pg_fund: tuple[Flask, Fund],
) -> None:
    """A phone that re-sends its batch while the first send is still running: each record
    claims its client_ref before the work, so the losers queue on the claim and replay the
    winner's answer."""
    app, f = pg_fund
    records = [body("P1", f"phone-{i}", 3) for i in range(6)]
    barrier = threading.Barrier(8)

    def send(_: int) -> tuple[int, Any]:
        c = app.test_client()
        barrier.wait(timeout=60)
        r = c.post("/api/v1/dispensings/batch", json={"dispensings": records}, headers=f.pharmacist)
        return r.status_code, r.get_json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, range(8)))
    assert [status for status, _ in answers] == [200] * 8
    per_ref: dict[str, set[str]] = {}
    for _status, out in answers:
        for res in out["results"]:
            assert res["status"] == 201, res.get("problem")
            per_ref.setdefault(res["client_ref"], set()).add(repr(res["dispensing"]))
    assert all(len(v) == 1 for v in per_ref.values()), "a client_ref was answered two ways"
    assert sum(out["created"] for _s, out in answers) == 6
    items = f.get("/dispensings?pharmacy=P1&limit=100")["items"]
    assert Counter(d["client_ref"] for d in items) == Counter(f"phone-{i}" for i in range(6))
    assert f.balance("1400-P1", "MET500") == 400 - 6 * 3
