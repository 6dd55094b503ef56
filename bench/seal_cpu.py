"""CPU, SQL statements and commits of POST /dispensings, split by thread: the request's own
thread, and the background sealer's (issue #8, sealing and audit off the request path).

    .venv/bin/python bench/seal_cpu.py [--fund /tmp/rdf_bench_fund.json] [--n 60] [--rounds 3]
        [--interval-ms 200] [--modes inline,background]

Run from the root of the tree to measure: it imports the ``app`` and ``ledger`` of the
current directory (and bench/common.py, bench/dispense_load.py from there), so the same
command run from a snapshot of an older commit measures that commit.

Like bench/cpu_per_request.py (in-process Flask test client, one request at a time), but:
each mode gets its own app on the same database; the order of the modes alternates round
by round (the machine is shared and noisy: compare within one run); the CPU of the whole
process (every thread) and of the request thread are both counted; and in background mode
the timed window ends only once the sealer has sealed the last request's entries, so its
whole work is counted. Modes: ``inline``, ``background``, or ``head`` (printed instead
when the tree has no ledger.sealing.Sealer: its own hook). Prints, per round and mode,
then the median over rounds, per request: wall ms, Python CPU ms (request thread, sealer
thread), CPU ms of the PostgreSQL backends of the fund's database, SQL statements and
commits (request thread + other threads), sealer runs per request, entries left unsealed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from common import cpu_delta, header, postgres_cpu  # noqa: E402
from dispense_load import make_body  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fund", default="/tmp/rdf_bench_fund.json")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--interval-ms", type=int, default=200)
    ap.add_argument("--modes", default="inline,background")
    args = ap.parse_args()
    fund = json.loads(Path(args.fund).read_text())
    header("POST /dispensings: CPU, SQL and commits by thread")
    print(f"tree: {ROOT}")
    from sqlalchemy import event, func, select

    import ledger.sealing
    from app import create_app
    from ledger.tables import Entry

    has_sealer = hasattr(ledger.sealing, "Sealer")
    modes = args.modes.split(",") if has_sealer else ["head"]
    apps: dict[str, Any] = {}
    counts: dict[str, dict[str, int]] = {}
    main_ident = threading.get_ident()
    for mode in modes:
        cfg: dict[str, Any] = {"DATABASE_URL": fund["database_url"], "SECRET_KEY": "bench-seal"}
        if has_sealer:
            cfg.update(RDF_SEAL_MODE=mode, RDF_SEAL_INTERVAL_MS=args.interval_ms)
        app = apps[mode] = create_app(cfg)
        c = counts[mode] = {"sql_req": 0, "sql_other": 0, "commit_req": 0, "commit_other": 0}
        engine = app.extensions["rdf_db"].engine

        def _sql(*_a: Any, c: dict[str, int] = c, req: int = main_ident) -> None:
            c["sql_req" if threading.get_ident() == req else "sql_other"] += 1

        def _commit(*_a: Any, c: dict[str, int] = c, req: int = main_ident) -> None:
            c["commit_req" if threading.get_ident() == req else "commit_other"] += 1

        event.listen(engine, "before_cursor_execute", _sql)
        event.listen(engine, "commit", _commit)

    rng = random.Random(3)
    toks = fund["tokens"]["pharmacists"]
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}

    def unsealed(app: Any) -> int:
        with app.extensions["rdf_db"].session() as s:
            return int(s.scalar(select(func.count()).where(Entry.seal_seq.is_(None))) or 0)

    for _round in range(args.rounds):
        # the order alternates: the first mode of a round tends to pay for warming caches
        for mode in modes if _round % 2 == 0 else modes[::-1]:
            app = apps[mode]
            client = app.test_client()
            sealer = app.extensions["rdf_after_commit"]

            def dispense(client: Any = client) -> None:
                p, body = make_body(fund, rng)
                r = client.post(
                    "/api/v1/dispensings", json=body, headers={"Authorization": f"Bearer {toks[p]}"}
                )
                assert r.status_code == 201, r.get_data(True)

            for _ in range(3):
                dispense()
            if hasattr(sealer, "flush"):
                sealer.flush()
                time.sleep(2 * args.interval_ms / 1000)
            c = counts[mode]
            c.update(sql_req=0, sql_other=0, commit_req=0, commit_other=0)
            runs0 = getattr(sealer, "runs", 0)
            scpu0 = getattr(sealer, "cpu_seconds", 0.0)
            pg0 = postgres_cpu(fund["db"])
            w0, p0, t0 = time.perf_counter(), time.process_time(), time.thread_time()
            for _ in range(args.n):
                dispense()
            wall = time.perf_counter() - w0
            if mode == "background":
                # the sealer's last run (woken by the last request) is part of the cost
                time.sleep(3 * args.interval_ms / 1000 + 0.2)
            proc, thr = time.process_time() - p0, time.thread_time() - t0
            pgc = cpu_delta(pg0, postgres_cpu(fund["db"]))
            snap = dict(c)
            left = unsealed(app)
            n = args.n
            results[mode].append(
                {
                    "wall": 1000 * wall / n,
                    "py": 1000 * proc / n,
                    "py_req": 1000 * thr / n,
                    "pg": 1000 * pgc / n,
                    "sql_req": snap["sql_req"] / n,
                    "sql_other": snap["sql_other"] / n,
                    "commit_req": snap["commit_req"] / n,
                    "commit_other": snap["commit_other"] / n,
                    "runs": (getattr(sealer, "runs", 0) - runs0) / n,
                    "left": left,
                    "py_sealer": 1000 * (getattr(sealer, "cpu_seconds", 0.0) - scpu0) / n,
                }
            )
            r = results[mode][-1]
            print(
                f"  round {_round + 1} {mode:<10} wall {r['wall']:6.1f} ms  python CPU "
                f"{r['py']:5.1f} ms (request thread {r['py_req']:5.1f}, sealer "
                f"{r['py_sealer']:4.1f})  PostgreSQL CPU "
                f"{r['pg']:5.1f} ms  SQL {r['sql_req']:4.1f}+{r['sql_other']:3.1f}  commits "
                f"{r['commit_req']:3.1f}+{r['commit_other']:3.2f}  sealer runs/request "
                f"{r['runs']:4.2f}  unsealed after {left}"
            )
            sys.stdout.flush()
    print("median over rounds (SQL and commits: request thread + sealer thread):")
    for mode in modes:
        med = {k: statistics.median(r[k] for r in results[mode]) for k in results[mode][0]}
        print(
            f"  {mode:<10} wall {med['wall']:6.1f} ms  python CPU {med['py']:5.1f} ms "
            f"(request thread {med['py_req']:5.1f}, sealer {med['py_sealer']:4.1f})  "
            f"PostgreSQL CPU {med['pg']:5.1f} ms  "
            f"SQL {med['sql_req']:4.1f}+{med['sql_other']:3.1f}  commits "
            f"{med['commit_req']:3.1f}+{med['commit_other']:3.2f}  sealer runs/request "
            f"{med['runs']:4.2f}"
        )
    for app in apps.values():
        sealer = app.extensions["rdf_after_commit"]
        if hasattr(sealer, "stop"):
            sealer.stop()


if __name__ == "__main__":
    main()
