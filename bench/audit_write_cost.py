"""CPU of one audit event written apart (its own session, insert, commit: what
``ledger.audit.write_event`` does) against the same event staged in a transaction that
commits anyway (the insert only: a session that inserts the event and commits, less the
same session without the insert).

    .venv/bin/python bench/audit_write_cost.py [--fund /tmp/rdf_bench_fund.json] [--n 40]
        [--rounds 6] [--wall]

Run from the repository root. In-process, on the database of the fund of
bench/setup_fund.py (the events it writes stay in its audit_events). Per round, ``--n``
writes of each kind; prints the median over rounds and every round, in ms of this thread's
CPU (``--wall``: wall time instead).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import header  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fund", default="/tmp/rdf_bench_fund.json")
    ap.add_argument("--n", type=int, default=40, help="writes of each kind per round")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--wall", action="store_true", help="wall time instead of thread CPU")
    args = ap.parse_args()
    fund = json.loads(Path(args.fund).read_text())
    header("audit event: written apart vs staged in a committing transaction")
    from sqlalchemy import text

    from api.audit_trail import AuditEvent, write_event
    from app import create_app
    from ledger import clock

    app = create_app(
        {
            "DATABASE_URL": fund["database_url"],
            "SECRET_KEY": "bench-audit",
            "RDF_SEAL_MODE": "inline",
        }
    )
    db = app.extensions["rdf_db"]

    def ev() -> dict[str, Any]:
        return dict(
            at=clock.now(),
            user_id=1,
            user_name="bench",
            role="pharmacist",
            token_hash_prefix="abcd1234",
            method="POST",
            path="/api/v1/dispensings",
            status=201,
            remote_addr="127.0.0.1",
            object_ref="id=1",
        )

    n = args.n
    clock_fn = time.perf_counter if args.wall else time.thread_time
    unit = "ms wall" if args.wall else "ms CPU"
    apart: list[float] = []
    staged: list[float] = []
    for _ in range(args.rounds):
        t0 = clock_fn()
        for _ in range(n):
            write_event(app, ev())
        apart.append((clock_fn() - t0) / n * 1000)
        # staged: the insert joins a transaction that commits anyway (here: one commit per 1
        # insert would double count, so the write's own commit is simulated by a commit that
        # happens regardless)
        t0 = clock_fn()
        for _ in range(n):
            with db.session() as s:
                s.execute(text("SELECT 1"))  # the write's own transaction
                s.add(AuditEvent(**ev()))
                s.commit()
        with_write = (clock_fn() - t0) / n * 1000
        t0 = clock_fn()
        for _ in range(n):
            with db.session() as s:
                s.execute(text("SELECT 1"))
                s.commit()
        without = (clock_fn() - t0) / n * 1000
        staged.append(with_write - without)
    print(
        f"audit event written apart (own session, insert, commit): median "
        f"{statistics.median(apart):.2f} {unit}  {[f'{a:.2f}' for a in apart]}"
    )
    print(
        f"audit event staged in a transaction that commits anyway (insert only): median "
        f"{statistics.median(staged):.2f} {unit}  {[f'{a:.2f}' for a in staged]}"
    )


if __name__ == "__main__":
    main()
