"""POST /dispensings/batch: 1,000 dispensings a request, several batches over pharmacies.

    .venv/bin/python bench/batch_load.py [--batches 4] [--size 1000] [--concurrency 1]
        [--workers 2] [--fund /tmp/rdf_bench_fund.json] [--pgbench-seconds 0]

Starts ``gunicorn -w N 'app:create_app()'`` on a free port of 127.0.0.1 for the bench fund
(``bench/setup_fund.py``) and sends ``--batches`` batches, each from one pharmacy's
pharmacist (pharmacies taken in turn), ``--concurrency`` at a time. Each record has its own
``client_ref``, a random patient and 1 to 3 medicines. Prints, per batch and overall,
seconds, created/failed counts and dispensings per second (target >= 3,000/s).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    Server,
    cpu_delta,
    header,
    pgbench_tps,
    postgres_cpu,
    proc_cpu_seconds,
    rss_mb,
    run_threads,
)
from dispense_load import make_body  # noqa: E402


def send_batch(
    port: int, token: str, records: list[dict[str, Any]]
) -> tuple[float, int, dict[str, int]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1800)
    body = json.dumps({"dispensings": records})
    t0 = time.perf_counter()
    conn.request(
        "POST",
        "/api/v1/dispensings/batch",
        body,
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    r = conn.getresponse()
    payload = r.read()
    took = time.perf_counter() - t0
    conn.close()
    counts: dict[str, int] = {}
    if r.status == 200:
        data = json.loads(payload)
        counts = {k: data[k] for k in ("created", "replayed", "failed")}
        statuses: dict[str, int] = {}
        for res in data["results"]:
            statuses[str(res["status"])] = statuses.get(str(res["status"]), 0) + 1
        counts["statuses"] = statuses  # type: ignore[assignment]
        bad = [res for res in data["results"] if res["status"] >= 400][:2]
        if bad:
            counts["example_problem"] = bad  # type: ignore[assignment]
    else:
        counts = {"http_status": r.status, "body": payload[:300].decode()}  # type: ignore[dict-item]
    return took, r.status, counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fund", default="/tmp/rdf_bench_fund.json")
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pgbench-seconds", type=int, default=0)
    args = ap.parse_args()
    fund = json.loads(Path(args.fund).read_text())
    header("POST /dispensings/batch")
    if args.pgbench_seconds:
        print(
            f"pgbench TPC-B-like -c 16 -j 2 -T {args.pgbench_seconds}: "
            f"{pgbench_tps(16, args.pgbench_seconds):.1f} tps"
        )
    rng = random.Random(42)
    jobs = []
    for b in range(args.batches):
        pharmacy = fund["pharmacies"][b % len(fund["pharmacies"])]
        recs = []
        for _ in range(args.size):
            _p, body = make_body(fund, rng)
            body["pharmacy"] = pharmacy
            recs.append(body)
        jobs.append((pharmacy, recs))
    server = Server(fund["database_url"], args.workers)
    server.start()
    results: list[tuple[int, str, float, int, dict[str, Any]]] = []
    lock = threading.Lock()
    queue = list(enumerate(jobs))

    def runner() -> None:
        while True:
            with lock:
                if not queue:
                    return
                i, (pharmacy, recs) = queue.pop(0)
            took, status, counts = send_batch(
                server.port, fund["tokens"]["pharmacists"][pharmacy], recs
            )
            with lock:
                results.append((i, pharmacy, took, status, counts))
                print(
                    f"  batch {i} ({pharmacy}, {len(recs)} records): HTTP {status} in "
                    f"{took:.1f}s = {len(recs) / took:.0f} dispensings/s {counts}"
                )
                sys.stdout.flush()

    db = fund["database_url"].rsplit("/", 1)[1]
    try:
        wpids = server.worker_pids()
        w0 = sum(proc_cpu_seconds(p) for p in wpids)
        p0 = postgres_cpu(db)
        wall = run_threads(lambda _i: runner(), args.concurrency)
        workers_cpu = sum(proc_cpu_seconds(p) for p in wpids) - w0
        pg_cpu = cpu_delta(p0, postgres_cpu(db))
        rss = [round(rss_mb(p), 1) for p in wpids]
    finally:
        server.stop()
    created = sum(int(r[4].get("created", 0)) for r in results)
    print(
        f"workers={args.workers} batches={args.batches} size={args.size} "
        f"concurrency={args.concurrency}: {created} dispensings created in {wall:.1f}s = "
        f"{created / wall:.1f} dispensings/s (target >= 3,000/s); worker RSS after (MB): {rss}"
    )
    if created:
        w, pg = 1000 * workers_cpu / created, 1000 * pg_cpu / created
        print(
            f"CPU per dispensing: workers {w:.2f} ms + PostgreSQL {pg:.2f} ms = {w + pg:.2f} ms"
            f" => ceiling on 2 idle cores ~{2000 / (w + pg):.0f} dispensings/s"
        )


if __name__ == "__main__":
    main()
