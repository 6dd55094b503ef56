"""Profile POST /dispensings in-process (Flask test client, one thread) on the bench fund.

    .venv/bin/python bench/profile_dispense.py [--n 50] [--fund /tmp/rdf_bench_fund.json] [--sql]
        [--batch 1000]

With ``--batch N``, each of the ``--n`` requests is a POST /dispensings/batch of N records
of one pharmacy (figures per request, and per record).

Prints wall time per request, the top functions by cumulative time (cProfile) and, with
``--sql``, the SQL statements issued per request (count and the slowest by total time).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import header  # noqa: E402
from dispense_load import make_body  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fund", default="/tmp/rdf_bench_fund.json")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--sql", action="store_true")
    ap.add_argument("--top", type=int, default=35)
    ap.add_argument("--save", help="write the cProfile stats to this file")
    ap.add_argument("--batch", type=int, default=0, help="records per batch (0: single POSTs)")
    args = ap.parse_args()
    fund = json.loads(Path(args.fund).read_text())
    header("POST /dispensings profiled in-process")
    from sqlalchemy import event

    from app import create_app

    app = create_app({"DATABASE_URL": fund["database_url"], "SECRET_KEY": "bench-profile"})
    client = app.test_client()
    stmts: dict[str, list[float]] = defaultdict(list)
    if args.sql:
        engine = app.extensions["rdf_db"].engine

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, *a: Any) -> None:
            conn.info["t0"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, *a: Any) -> None:
            stmts[" ".join(statement.split())[:160]].append(time.perf_counter() - conn.info["t0"])

    rng = random.Random(1)
    tokens = fund["tokens"]["pharmacists"]

    def one() -> None:
        pharmacy, body = make_body(fund, rng)
        if args.batch:
            records = [body] + [make_body(fund, rng)[1] for _ in range(args.batch - 1)]
            for rec in records:
                rec["pharmacy"] = pharmacy
            r = client.post(
                "/api/v1/dispensings/batch",
                json={"dispensings": records},
                headers={"Authorization": f"Bearer {tokens[pharmacy]}"},
            )
            assert r.status_code == 200 and r.get_json()["created"] == args.batch, r.get_data(True)
            return
        r = client.post(
            "/api/v1/dispensings",
            json=body,
            headers={"Authorization": f"Bearer {tokens[pharmacy]}"},
        )
        assert r.status_code == 201, r.get_data(True)

    one()  # warm up
    stmts.clear()
    prof = cProfile.Profile(time.process_time)  # CPU time: what a busy machine blurs least
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(args.n):
        one()
    prof.disable()
    wall = time.perf_counter() - t0
    print(
        f"{args.n} requests in {wall:.2f}s: {1000 * wall / args.n:.1f} ms per request "
        f"(one client, no concurrency)"
    )
    if args.batch:
        print(
            f"per record: {1000 * wall / args.n / args.batch:.2f} ms wall, "
            f"{args.n * args.batch / wall:.0f} records/s"
        )
    pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
    if args.save:
        prof.dump_stats(args.save)  # for pstats' print_callees
    if args.sql:
        total = sum(len(v) for v in stmts.values())
        print(
            f"SQL statements per request: {total / args.n:.1f}; "
            f"time in SQL per request: {1000 * sum(map(sum, stmts.values())) / args.n:.1f} ms"
        )
        for s, ts in sorted(stmts.items(), key=lambda kv: -sum(kv[1]))[:25]:
            print(f"  {len(ts) / args.n:5.1f}/req {1000 * sum(ts) / args.n:7.2f} ms/req  {s}")


if __name__ == "__main__":
    main()
