"""CPU of the request before its handler (the token check and the access rule), in-process,
on the bench fund: the figure of issue 21's "authenticated request under ~1 ms of CPU".

    .venv/bin/python bench/auth_cpu.py [--n 300] [--rounds 5] [--fund /tmp/rdf_bench_fund.json]

Imports the tree of the current directory (run it from a snapshot of another commit to
compare). For ``GET /healthz``, ``GET /api/v1/pharmacies/P01`` (finance token) and
``POST /api/v1/dispensings`` (a pharmacist's token), prints per request: this process's
CPU of the ``before_request`` hooks (``authorise_request`` and the others, timed around
each), of the whole request, and the database round trips the driver made (statements,
plus BEGIN, COMMIT and ROLLBACK, counted at the connection). Rounds alternate the
requests; the median round is printed, since the machine may be busy.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path.cwd()))

from common import header  # noqa: E402
from dispense_load import make_body  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fund", default="/tmp/rdf_bench_fund.json")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    fund = json.loads(Path(args.fund).read_text())
    header("CPU before the handler, in-process")
    from sqlalchemy import event

    from app import create_app

    print(f"tree: {Path.cwd()}")
    app = create_app({"DATABASE_URL": fund["database_url"], "SECRET_KEY": "bench-auth"})
    engine = app.extensions["rdf_db"].engine
    trips = {"n": 0}

    def count(*_a: Any, **_k: Any) -> None:
        trips["n"] += 1

    for name in ("before_cursor_execute", "begin", "commit", "rollback"):
        event.listen(engine, name, count)

    hooks_cpu = {"t": 0.0}
    funcs = app.before_request_funcs.setdefault(None, [])

    def timed(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            t0 = time.process_time()
            try:
                return fn()
            finally:
                hooks_cpu["t"] += time.process_time() - t0

        return run

    funcs[:] = [timed(f) for f in funcs]
    client = app.test_client()
    rng = random.Random(5)
    fin = {"Authorization": f"Bearer {fund['tokens']['finance']}"}
    toks = fund["tokens"]["pharmacists"]

    def healthz() -> None:
        assert client.get("/healthz").status_code == 200

    def pharmacy() -> None:
        assert client.get("/api/v1/pharmacies/P01", headers=fin).status_code == 200

    def dispense() -> None:
        p, body = make_body(fund, rng)
        r = client.post(
            "/api/v1/dispensings", json=body, headers={"Authorization": f"Bearer {toks[p]}"}
        )
        assert r.status_code == 201, r.get_data(True)

    cases: list[tuple[str, Callable[[], None], int]] = [
        ("GET /healthz", healthz, args.n),
        ("GET /api/v1/pharmacies/P01", pharmacy, args.n),
        ("POST /api/v1/dispensings", dispense, max(args.n // 5, 20)),
    ]
    results: dict[str, list[tuple[float, float, float]]] = {c[0]: [] for c in cases}
    for _label, fn, _n in cases:
        for _ in range(5):
            fn()
    for _ in range(args.rounds):
        for label, fn, n in cases:
            hooks_cpu["t"] = 0.0
            trips["n"] = 0
            c0 = time.process_time()
            for _ in range(n):
                fn()
            cpu = time.process_time() - c0
            results[label].append((1000 * hooks_cpu["t"] / n, 1000 * cpu / n, trips["n"] / n))
    for label, _fn, _n in cases:
        rows = results[label]
        hook = statistics.median(r[0] for r in rows)
        whole = statistics.median(r[1] for r in rows)
        rt = statistics.median(r[2] for r in rows)
        lo = min(r[1] for r in rows)
        print(
            f"{label:<28} before the handler {hook:5.2f} ms  whole request {whole:6.2f} ms "
            f"(least {lo:6.2f})  round trips {rt:5.1f}"
        )


if __name__ == "__main__":
    main()
