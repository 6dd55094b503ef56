"""CPU time and SQL statements per request, in-process (Flask test client, one thread):
the figure a shared, noisy machine cannot blur much, since CPU time is counted only while
this process runs.

    .venv/bin/python bench/cpu_per_request.py [--n 40] [--fund /tmp/rdf_bench_fund.json]

For GET /healthz (no token, no database), an authenticated GET of one pharmacy (token
check, audit rules), and POST /dispensings (the bench fund's random dispensings), prints
per request: wall ms, this process's CPU ms, SQL statements, commits, and the CPU of the
PostgreSQL backends serving it (from /proc), so the ceiling on 2 cores with nothing else
running is 2 x 1000 / (python CPU + PostgreSQL CPU) requests/s.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import cpu_delta, header, postgres_cpu  # noqa: E402
from dispense_load import make_body  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fund", default="/tmp/rdf_bench_fund.json")
    ap.add_argument("--n", type=int, default=40)
    args = ap.parse_args()
    fund = json.loads(Path(args.fund).read_text())
    header("CPU and SQL per request, in-process")
    from sqlalchemy import event

    from app import create_app

    app = create_app({"DATABASE_URL": fund["database_url"], "SECRET_KEY": "bench-cpu"})
    engine = app.extensions["rdf_db"].engine
    counts = {"sql": 0, "commit": 0}

    @event.listens_for(engine, "before_cursor_execute")
    def _sql(*_a: Any) -> None:
        counts["sql"] += 1

    @event.listens_for(engine, "commit")
    def _commit(*_a: Any) -> None:
        counts["commit"] += 1

    client = app.test_client()
    rng = random.Random(3)
    toks = fund["tokens"]["pharmacists"]
    fin = {"Authorization": f"Bearer {fund['tokens']['finance']}"}

    def healthz() -> None:
        assert client.get("/healthz").status_code == 200

    def get_pharmacy() -> None:
        assert client.get("/api/v1/pharmacies/P01", headers=fin).status_code == 200

    def dispense() -> None:
        p, body = make_body(fund, rng)
        r = client.post(
            "/api/v1/dispensings", json=body, headers={"Authorization": f"Bearer {toks[p]}"}
        )
        assert r.status_code == 201, r.get_data(True)

    month = fund["service_date"][:8] + "01"

    def reader(path: str) -> Any:
        def read() -> None:
            r = client.get(path, headers=fin)
            assert r.status_code == 200, r.get_data(True)

        return read

    for label, fn in (
        ("GET /healthz", healthz),
        ("GET /api/v1/pharmacies/P01", get_pharmacy),
        ("GET balance 1200-P01", reader("/api/v1/accounts/1200-P01/balance")),
        ("GET trial balance", reader("/api/v1/reports/trial-balance")),
        (
            "GET statement 1200-P01 month",
            reader(f"/api/v1/accounts/1200-P01/statement?from={month}"),
        ),
        ("POST /api/v1/dispensings", dispense),
    ):
        for _ in range(3):
            fn()
        counts.update(sql=0, commit=0)
        pg0 = postgres_cpu(fund["db"])
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.n):
            fn()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        pgc = cpu_delta(pg0, postgres_cpu(fund["db"]))
        per = 1000 / args.n
        ceiling = 2000 / (per * (cpu + pgc)) if cpu + pgc else float("inf")
        print(
            f"{label:<30} wall {per * wall:7.1f} ms  python CPU {per * cpu:6.1f} ms  "
            f"PostgreSQL CPU {per * pgc:5.1f} ms  SQL statements {counts['sql'] / args.n:5.1f}"
            f"  commits {counts['commit'] / args.n:4.1f}  -> ceiling on 2 idle cores "
            f"~{ceiling:,.0f}/s"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
