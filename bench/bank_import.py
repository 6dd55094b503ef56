"""A big bank file: how long ``POST /bank-statements`` takes for the largest file the API
takes (10,000 lines, ``invoices.bankcsv.MAX_BANK_LINES``) against a month with thousands
of open payments, and how long the month's reconciliation then takes; SQLite in-process
(the demo fund), optionally PostgreSQL (``--postgres URL``, a database made and dropped).

    .venv/bin/python bench/bank_import.py [--payments 2000] [--lines 10000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import header  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

import demo  # noqa: E402
from app import create_app  # noqa: E402
from commands import upgrade  # noqa: E402


def run(url: str, payments: int, lines: int) -> None:
    upgrade(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.extensions["rdf_db"].session() as s:
        tokens = demo.seed(s)
        s.commit()
    client = app.test_client()
    h = {"Authorization": f"Bearer {tokens['finance'][1]}"}
    for i in range(payments):
        body = {
            "date": f"2026-11-{1 + i % 28:02d}",
            "direction": "in",
            "counterparty": {"kind": "pharmacy", "code": "P-TAKEO"},
            "amount": str(5000 + i),
            "currency": "KHR",
            "reference": f"PAY-{i}",
        }
        assert client.post("/api/v1/payments", json=body, headers=h).status_code == 201
    rows = ["date,amount,currency,reference,description"] + [
        f"2026-11-{1 + i % 28:02d},{5000 + i},KHR,PAY-{i},line {i}" for i in range(lines)
    ]
    data = "\n".join(rows).encode()
    t = time.perf_counter()
    r = client.post("/api/v1/bank-statements", data=data, headers={**h, "Content-Type": "text/csv"})
    took = time.perf_counter() - t
    out = r.get_json()
    assert r.status_code == 201, out
    print(
        f"import of {lines:,} lines ({len(data) // 1024} KiB) against {payments:,} open"
        f" payments: {took * 1000:.0f} ms, {out['matched_count']:,} matched"
    )
    t = time.perf_counter()
    r = client.get("/api/v1/reconciliation?period=2026-11", headers=h)
    assert r.status_code == 200
    print(f"the month's reconciliation after it: {(time.perf_counter() - t) * 1000:.0f} ms")
    t = time.perf_counter()
    r = client.get("/app/finance/bank?period=2026-11", headers=h)
    print(f"/app/finance/bank (bearer, {r.status_code}): {(time.perf_counter() - t) * 1000:.0f} ms")
    app.extensions["rdf_db"].dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--payments", type=int, default=2000)
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--postgres", default=None)
    a = ap.parse_args()
    header("bank import: the largest file against a month of open payments")
    print(f"load average before: {os.getloadavg()}")
    print("SQLite:")
    run(f"sqlite:///{tempfile.mkdtemp(prefix='rdf-bench-bank-')}/rdf.sqlite3", a.payments, a.lines)
    if a.postgres:
        name = f"rdf_bench_bank_{uuid.uuid4().hex[:8]}"
        admin = create_engine(a.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            print("PostgreSQL:")
            run(a.postgres.rsplit("/", 1)[0] + "/" + name, a.payments, a.lines)
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
