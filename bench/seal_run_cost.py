"""CPU of one sealing run by the number of entries it seals, per entry: Python CPU of the
sealing thread, CPU of the PostgreSQL backend that served it, SQL statements, and where the
database time goes (the ``entries_guard`` row trigger included).

    .venv/bin/python <repo>/bench/seal_run_cost.py [--db rdf_bench_seal_run]
        [--sizes 1,100,500] [--rounds 6] [--postings 10] [--keep]

Imports ``ledger`` from the current directory, so the same command run from the root of a
snapshot of another commit (``git worktree add /tmp/old <commit>``) measures that commit's
sealer. Makes its own PostgreSQL database (``BENCH_PG``, default
``postgresql://postgres@127.0.0.1:5432``; dropped at the end unless ``--keep``), migrates
it to heads, and adds 20 pharmacies with a stocked lot of 3 medicines each. Then, per round
and size (sizes alternate order round by round; the machine is shared, compare within one
run):

* writes ``size`` entries shaped like a dispensing (``--postings`` postings each, 3 of them
  on a lot; memo, source and partition as the service writes them) straight in SQL, 100
  per transaction (as POST /dispensings/batch commits them), outside the timing;
* times one ``ledger.sealing.seal_pending`` call (the background sealer's call), which must
  seal exactly those entries, with ``batch`` above the largest size so that one run is one
  sealing transaction (a run of exactly ``BATCH_SIZE`` entries would add a second, empty
  one).

Timed per run: thread CPU of the call (``time.thread_time``); CPU of the PostgreSQL backends
of the sealer's connections (``/proc/<pid>/schedstat``, nanoseconds; background helpers
such as the WAL writer are not counted); SQL statements the call sent (SQLAlchemy's
``before_cursor_execute``: an executemany counts once) with their wall time by kind.
Prints each run, then per size the median per run and per entry.

Then, for the largest size, EXPLAIN ANALYZE of one set-based seal UPDATE of that many
entries (rolled back), with the ``entries_guard`` trigger and, in a rolled-back
transaction, with it disabled, alternating 3 times: what the guard costs per entry. The
guard is never disabled outside such a rolled-back transaction of the bench's own database.

Finally it checks the chain of the bench database: every entry sealed, gapless, each seal
recomputed from the entry (``ledger.sealing.verify``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path.cwd()
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py of this script
sys.path.insert(0, str(ROOT))  # ledger of the tree to measure

import psycopg  # noqa: E402
from common import PG, header, psql, sql_chart_and_lots  # noqa: E402

PHARMACIES = [f"P{i:02d}" for i in range(1, 21)]
MEDICINES = ["MET500", "AML5", "ENA10"]
STOCK = 10**12  # units and riel of each lot at each pharmacy: never runs out
PER_TRANSACTION = 100


def sa_url(db: str) -> str:
    return PG.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{db}"


def schedstat_ns(pid: int) -> int:
    """CPU nanoseconds a process has run (first field of /proc/<pid>/schedstat)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return 0


class Books:
    """Accounts, lots and stock of the bench database, and entries shaped like a
    dispensing, written in SQL (the write path is not what this bench measures)."""

    def __init__(self, conn: psycopg.Connection[Any], day: date, postings: int) -> None:
        self.conn = conn
        self.day = day
        self.postings = postings
        self.lots: dict[tuple[str, str], int] = {}
        self.rng = random.Random(7)
        self.serial = 0

    def build(self) -> None:
        c = self.conn
        self.lots.update(sql_chart_and_lots(c, PHARMACIES, MEDICINES, self.day))
        with c.transaction():
            for (p, m), lot in self.lots.items():
                eid = self._entries(p, 1, "stock")[0]
                self._postings(
                    [
                        (eid, f"1400-{p}", m, lot, STOCK, 0),
                        (eid, "9000", m, lot, -STOCK, 0),
                        (eid, f"1400-{p}", "KHR", lot, STOCK, 0),
                        (eid, "3000", "KHR", None, -STOCK, 0),
                    ]
                )

    def _entries(self, pharmacy: str, n: int, kind: str) -> list[int]:
        first = self.serial + 1
        self.serial += n
        rows = self.conn.execute(
            """INSERT INTO entries (service_date, accounting_date, memo, source, partition,
                                    idempotency_key, request_hash, created_at, created_by)
               SELECT %(d)s, %(d)s, %(kind)s || ' ' || i || ' at ' || %(p)s,
                      %(kind)s || ':' || i, %(p)s, 'bench-seal-' || %(kind)s || '-' || i,
                      md5(i::text) || md5(i::text), now(), 'bench'
                 FROM generate_series(%(a)s::bigint, %(b)s::bigint) AS i
               ORDER BY i
               RETURNING id""",
            {"d": self.day, "p": pharmacy, "kind": kind, "a": first, "b": self.serial},
        )
        return sorted(int(r[0]) for r in rows.fetchall())

    def _postings(self, rows: list[tuple[int, str, str, int | None, int, int]]) -> None:
        cols = list(zip(*rows, strict=True))
        self.conn.execute(
            """INSERT INTO postings (entry_id, account_code, commodity, lot_id, amount,
                                     accounting_date, stripe)
               SELECT * FROM unnest(%(e)s::bigint[], %(a)s::text[], %(c)s::text[],
                                    %(l)s::bigint[], %(m)s::bigint[], %(d)s::date[],
                                    %(s)s::smallint[])""",
            {
                "e": list(cols[0]),
                "a": list(cols[1]),
                "c": list(cols[2]),
                "l": list(cols[3]),
                "m": list(cols[4]),
                "d": [self.day] * len(rows),
                "s": list(cols[5]),
            },
        )

    def dispensing(self, eid: int, p: str) -> list[tuple[int, str, str, int | None, int, int]]:
        from ledger.model import stripe_for

        m = self.rng.choice(MEDICINES)
        lot = self.lots[(p, m)]
        q = self.rng.randint(10, 90)
        cost, price = 35 * q, 50 * q
        fee = price // 10
        subsidy = price // 2
        fund_part = subsidy // 5
        s = stripe_for(p, lot_key=0, nonneg=False)
        rows = [
            (eid, "5000", m, lot, q, s),
            (eid, f"1400-{p}", m, lot, -q, 0),
            (eid, "5000", "KHR", None, cost, s),
            (eid, f"1400-{p}", "KHR", lot, -cost, 0),
            (eid, f"1200-{p}", "KHR", None, price - subsidy, s),
            (eid, "1300-HEF", "KHR", None, subsidy - fund_part, s),
            (eid, "5300", "KHR", None, fund_part, s),
            (eid, "4000", "KHR", None, -price, s),
            (eid, "5100", "KHR", None, fee, s),
            (eid, f"2100-{p}", "KHR", None, -fee, s),
        ]
        extra = self.postings - len(rows)
        for i in range(max(0, extra) // 2):  # more postings: pairs of fee lines
            rows += [
                (eid, "5100", "KHR", None, 1 + i, s),
                (eid, f"2100-{p}", "KHR", None, -1 - i, s),
            ]
        return rows[: self.postings] if extra < 0 else rows

    def write(self, n: int) -> list[int]:
        """``n`` unsealed entries, ``PER_TRANSACTION`` per committed transaction."""
        ids: list[int] = []
        while len(ids) < n:
            k = min(PER_TRANSACTION, n - len(ids))
            p = self.rng.choice(PHARMACIES)
            with self.conn.transaction():
                got = self._entries(p, k, "Dispensing")
                self._postings([r for eid in got for r in self.dispensing(eid, p)])
            ids += got
        return ids


def kind_of(statement: str) -> str:
    words = statement.split()
    first = words[0].upper() if words else "?"
    if first == "SELECT" and "advisory" in statement:
        return "lock"
    if first == "SELECT" and "FROM postings" in statement:
        return "select postings"
    if first == "SELECT" and "FROM entries" in statement:
        return "select entries"
    if first == "SELECT" and "FROM seal_checkpoints" in statement:
        return "select checkpoint"
    if first in ("UPDATE", "INSERT") and len(words) > 1:
        target = words[2] if words[1].upper() == "INTO" else words[1]
        return f"{first.lower()} {target}"
    return first.lower()


class Probe:
    """SQL statements (count, wall time by kind) and backend pids of one engine, counted
    on one thread."""

    def __init__(self, engine: Any, thread: int) -> None:
        from sqlalchemy import event

        self.thread = thread
        self.pids: set[int] = set()
        self.count = 0
        self.wall: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._t0: dict[int, tuple[float, str]] = {}

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _rec: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT pg_backend_pid()")
            self.pids.add(int(cur.fetchone()[0]))
            cur.close()
            dbapi_conn.rollback()

        @event.listens_for(engine, "before_cursor_execute")
        def _before(_c: Any, cursor: Any, statement: str, *_a: Any) -> None:
            if threading.get_ident() == self.thread:
                self.count += 1
                self._t0[id(cursor)] = (time.perf_counter(), kind_of(statement))

        @event.listens_for(engine, "after_cursor_execute")
        def _after(_c: Any, cursor: Any, *_a: Any) -> None:
            started = self._t0.pop(id(cursor), None)
            if started is not None:
                t0, kind = started
                self.wall[kind] += time.perf_counter() - t0
                self.calls[kind] += 1

    def pg_ns(self) -> dict[int, int]:
        return {pid: schedstat_ns(pid) for pid in self.pids}


def explain_insert(conn: psycopg.Connection[Any], ids: list[int], rounds: int = 3) -> str:
    """Revision 0018: EXPLAIN ANALYZE of one set-based INSERT of the seals of ``ids`` into
    ``entry_seals`` (made-up seals and places that collide with nothing), rolled back
    ``rounds`` times; medians, and the time of its triggers (the foreign-key check)."""
    sql = """EXPLAIN (ANALYZE, FORMAT JSON)
             INSERT INTO entry_seals (seal_seq, entry_id, seal)
             SELECT v.seq, v.id, v.seal
               FROM unnest(%(ids)s::bigint[], %(seqs)s::bigint[], %(seals)s::varchar[])
                    AS v(id, seq, seal)
             ON CONFLICT DO NOTHING"""
    params = {
        "ids": ids,
        "seqs": [10**12 + i for i in ids],
        "seals": [f"{i:064x}" for i in ids],
    }
    total: list[float] = []
    trig: list[float] = []
    for _ in range(rounds):
        with conn.transaction(force_rollback=True):
            row = conn.execute(sql, params).fetchone()
            assert row is not None
            doc = row[0] if not isinstance(row[0], str) else json.loads(row[0])
            top = doc[0]
            total.append(top["Execution Time"])
            trig.append(sum(t["Time"] for t in top.get("Triggers", [])))
    n = len(ids)
    on, g = statistics.median(total), statistics.median(trig)
    return (
        f"INSERT INTO entry_seals {on:.2f} ms ({on / n * 1000:.1f} us/entry), of which "
        f"triggers {g:.2f} ms; medians of {rounds}"
    )


def explain_update(conn: psycopg.Connection[Any], ids: list[int], rounds: int = 3) -> str:
    """EXPLAIN ANALYZE of one set-based seal UPDATE of ``ids`` (made-up seals and seq
    numbers that collide with nothing), with the guard trigger and without it, alternating
    ``rounds`` times; each rolled back. Medians."""
    sql = """EXPLAIN (ANALYZE, FORMAT JSON)
             UPDATE entries AS e SET seal_seq = v.seq, seal = v.seal
               FROM unnest(%(ids)s::bigint[], %(seqs)s::bigint[], %(seals)s::varchar[])
                    AS v(id, seq, seal)
              WHERE e.id = v.id AND e.seal IS NULL"""
    params = {"ids": ids, "seqs": [-i for i in ids], "seals": [f"{i:064x}" for i in ids]}
    total: dict[bool, list[float]] = {True: [], False: []}
    guard_ms: list[float] = []
    for rep in range(rounds):
        for guard in (True, False) if rep % 2 == 0 else (False, True):
            with conn.transaction(force_rollback=True):
                if not guard:
                    conn.execute("ALTER TABLE entries DISABLE TRIGGER entries_guard")
                row = conn.execute(sql, params).fetchone()
                assert row is not None
                doc = row[0] if not isinstance(row[0], str) else json.loads(row[0])
                top = doc[0]
                total[guard].append(top["Execution Time"])
                for t in top.get("Triggers", []):
                    if t["Trigger Name"] == "entries_guard":
                        assert t["Calls"] == len(ids), t
                        guard_ms.append(t["Time"])
    n = len(ids)
    on, off = statistics.median(total[True]), statistics.median(total[False])
    g = statistics.median(guard_ms)
    return (
        f"with entries_guard {on:.2f} ms ({on / n * 1000:.1f} us/entry), of which the "
        f"trigger {g:.2f} ms ({g / n * 1000:.1f} us/call); guard disabled (rolled back) "
        f"{off:.2f} ms ({off / n * 1000:.1f} us/entry); medians of {rounds}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="rdf_bench_seal_run")
    ap.add_argument("--sizes", default="1,100,500", help="entries per sealing run")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--postings", type=int, default=10, help="postings per entry")
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = ap.parse_args()
    sizes = [int(k) for k in args.sizes.split(",")]
    header("CPU of one sealing run, per entry sealed")
    print(f"tree: {ROOT}")
    import ledger.sealing as sealing
    from commands import upgrade
    from ledger.db import Database

    batch = max(sealing.BATCH_SIZE, max(sizes) + 1)
    psql(f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
    psql(f"CREATE DATABASE {args.db}")
    try:
        url = sa_url(args.db)
        upgrade(url)
        conn = psycopg.connect(PG + f"/{args.db}", autocommit=True)
        books = Books(conn, date(2026, 11, 2), args.postings)
        books.build()
        db = Database(url)
        probe = Probe(db.engine, threading.get_ident())
        factory = db.sessionmaker
        sealing.seal_pending(factory, blocking=True)  # the stock entries
        for _ in range(2):  # warm: connections, statement caches, plans
            books.write(min(sizes))
            sealing.seal_pending(factory, batch=batch)
        runs: dict[int, list[dict[str, float]]] = {k: [] for k in sizes}
        walls: dict[int, Counter[str]] = {k: Counter() for k in sizes}
        calls: dict[int, Counter[str]] = {k: Counter() for k in sizes}
        for rep in range(args.rounds):
            for k in sizes if rep % 2 == 0 else sizes[::-1]:
                books.write(k)
                probe.count = 0
                probe.wall.clear()
                probe.calls.clear()
                pg0 = probe.pg_ns()
                t0 = time.thread_time()
                w0 = time.perf_counter()
                n = sealing.seal_pending(factory, batch=batch)
                wall = time.perf_counter() - w0
                py = time.thread_time() - t0
                pg1 = probe.pg_ns()
                assert n == k, (n, k)
                pg = sum(v - pg0.get(pid, 0) for pid, v in pg1.items()) / 1e9
                runs[k].append(
                    {"py": py * 1000, "pg": pg * 1000, "wall": wall * 1000, "sql": probe.count}
                )
                walls[k].update(probe.wall)
                calls[k].update(probe.calls)
                print(
                    f"round {rep + 1} size {k:>4}: python {py * 1000:6.1f} ms  "
                    f"postgres {pg * 1000:6.1f} ms  wall {wall * 1000:6.1f} ms  "
                    f"statements {probe.count}"
                )
        print()
        print(f"per sealing run (median of {args.rounds}), and per entry sealed:")
        for k in sizes:
            rs = runs[k]
            py = statistics.median(r["py"] for r in rs)
            pg = statistics.median(r["pg"] for r in rs)
            wall = statistics.median(r["wall"] for r in rs)
            sql = statistics.median(r["sql"] for r in rs)
            print(
                f"  {k:>4} entries x {args.postings} postings: python {py:6.1f} ms "
                f"({py / k * 1000:5.0f} us/entry)  postgres {pg:6.1f} ms "
                f"({pg / k * 1000:5.0f} us/entry)  both {(py + pg) / k * 1000:5.0f} us/entry"
                f"  wall {wall:6.1f} ms  statements {sql:.0f}"
            )
            spent = ", ".join(
                f"{kind} {walls[k][kind] / len(rs) * 1000:.1f} ms x{calls[k][kind] / len(rs):g}"
                for kind in sorted(walls[k], key=lambda x: -walls[k][x])
            )
            print(f"        wall per run by statement: {spent}")
        print()
        ids = books.write(max(sizes))
        if conn.execute("SELECT to_regclass('entry_seals') IS NOT NULL").fetchone()[0]:  # type: ignore[index]
            print(f"one seal INSERT of {len(ids)} entries, EXPLAIN ANALYZE (rolled back):")
            print(explain_insert(conn, ids))
        else:
            print(f"one seal UPDATE of {len(ids)} entries, EXPLAIN ANALYZE (rolled back):")
            print(explain_update(conn, ids))
        sealing.seal_pending(factory, blocking=True)
        report = sealing.verify(factory)
        print()
        print(
            f"chain: ok={report.ok} entries_checked={report.entries_checked} "
            f"unsealed={report.unsealed} reason={report.reason}"
        )
        assert report.ok and report.unsealed == 0, report
        conn.close()
        db.dispose()
    finally:
        if not args.keep:
            psql(f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")


if __name__ == "__main__":
    main()
