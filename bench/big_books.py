"""Reads of the books with a big journal: 100 k, then 10 M postings (or 1 M if 10 M would
take too long to generate here).

    .venv/bin/python bench/big_books.py [--stages 100000,10000000] [--db rdf_bench_books]
        [--max-minutes 15] [--trigger-sample 100000] [--keep] [--no-plans] [--profile]

1. Builds a fund in its own database (``bench/setup_fund.py``'s code: migrations, 20
   pharmacies, users).
2. Fills the journal with dispensing-like entries of 5 money postings each (1200-Pnn
   co-payment, 1300-HEF subsidy, 4000 price, 5100 fee, 2100-Pnn fee), spread over the 12
   months up to today and over the 20 pharmacies (the bulk part over 19 of them: the last,
   the "quiet" pharmacy, keeps the same postings at every stage, so its statements show
   what the journal's size alone costs), generated inside PostgreSQL
   (``INSERT … SELECT … FROM generate_series``) — bench data only, never the service's
   write path. Two ways, both timed:

   * ``trigger``: triggers on, so ``rdf_posting_apply`` folds each posting into its kept
     balance row by row and the deferred balance check runs per posting (the real rules);
     used for the first ``--trigger-sample`` postings and to measure that rate;
   * ``bulk``: ``session_replication_role = replica`` (triggers and foreign-key checks
     off) for the rest, then every kept balance and every kept month total (revision
     0008) recomputed from the postings with one ``INSERT … SELECT … GROUP BY … ON
     CONFLICT DO UPDATE`` each, then verified: every kept balance and month total equals
     the sum of its postings, every generated entry balances, every posting names an
     existing account. The chain of seals is not extended (generated entries are
     unsealed): ``/audit/verify`` is not meaningful on this database.
3. At each stage: the SQL underneath timed from psycopg, and ``ledger.queries``' as-of
   reads timed with their SQL statements and ``EXPLAIN (ANALYZE, BUFFERS)`` (unless
   ``--no-plans``); then starts ``gunicorn -w 1 'app:create_app()'`` and times (20
   requests each, after 3 to warm up; median, p95, max) GET /accounts/{code}/balance (a
   pharmacy's account, a shared revenue account, a header, and as of a mid-month day),
   /reports/trial-balance (now and as of a month end), /accounts/1200-P01/statement for
   the latest full month and for the earliest month (and the quiet pharmacy's), and the
   pharmacy statement JSON of P01 for both months (and the quiet pharmacy's); then each
   statement in-process: CPU of this process and of PostgreSQL, SQL statements per request
   (``--profile``: cProfile's top functions).
   Target: <= 50 ms and no slower at 10 M than at 100 k.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from common import PG, Server, header  # noqa: E402

POSTINGS_PER_ENTRY = 5


def month_start(d: date, back: int) -> date:
    y, m = d.year, d.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    return date(y, m, 1)


def generate(
    conn: psycopg.Connection[Any],
    entries: int,
    *,
    bulk: bool,
    first: date,
    days: int,
    stripes: dict[str, int],
) -> float:
    """Insert ``entries`` entries of 5 postings; returns seconds taken."""
    pharm = sorted(stripes)
    t0 = time.perf_counter()
    with conn.transaction():
        if bulk:
            conn.execute("SET LOCAL session_replication_role = replica")
        base = conn.execute("SELECT nextval('entries_id_seq')").fetchone()[0]  # type: ignore[index]
        conn.execute("SELECT setval('entries_id_seq', %s)", (base + entries,))
        conn.execute("""
            CREATE TEMP TABLE IF NOT EXISTS bench_ph (i int PRIMARY KEY, code text, stripe int)
        """)
        conn.execute("TRUNCATE bench_ph")
        with conn.cursor().copy("COPY bench_ph (i, code, stripe) FROM STDIN") as cp:
            for i, p in enumerate(pharm):
                cp.write_row((i, p, stripes[p]))
        conn.execute(
            """
            INSERT INTO entries (id, service_date, accounting_date, memo, source, partition,
                                 created_at, created_by)
            SELECT %(base)s + g, d, d, 'bench dispensing ' || g, 'bench:' || (%(base)s + g),
                   ph.code, now(), 'bench'
              FROM generate_series(0, %(n)s - 1) g
              CROSS JOIN LATERAL (SELECT %(first)s::date + (g %% %(days)s)::int AS d) dd
              JOIN bench_ph ph ON ph.i = g %% %(np)s
        """,
            {"base": base, "n": entries, "first": first, "days": days, "np": len(pharm)},
        )
        conn.execute(
            """
            INSERT INTO postings (entry_id, account_code, commodity, amount, accounting_date,
                                  stripe)
            SELECT e.id, v.account, 'KHR', v.amount, e.accounting_date, ph.stripe
              FROM entries e
              JOIN bench_ph ph ON ph.code = e.partition
              CROSS JOIN LATERAL (SELECT 100 + e.id %% 500 AS c, 200 + e.id %% 300 AS s,
                                         10 + e.id %% 50 AS f) a
              CROSS JOIN LATERAL (VALUES ('1200-' || ph.code, a.c), ('1300-HEF', a.s),
                                         ('4000', -(a.c + a.s)), ('5100', a.f),
                                         ('2100-' || ph.code, -a.f)) v(account, amount)
             WHERE e.id >= %(base)s AND e.id < %(base)s + %(n)s
             ORDER BY e.id
        """,
            {"base": base, "n": entries},
        )
    return time.perf_counter() - t0


def recompute_balances(conn: psycopg.Connection[Any]) -> float:
    t0 = time.perf_counter()
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("""
            INSERT INTO balances (account_code, commodity, lot_key, stripe, amount, nonneg)
            SELECT p.account_code, p.commodity, COALESCE(p.lot_id, 0), p.stripe, SUM(p.amount),
                   bool_or(COALESCE(p.lot_id, 0) <> 0 AND a.is_inventory)
              FROM postings p JOIN accounts a ON a.code = p.account_code
             GROUP BY p.account_code, p.commodity, COALESCE(p.lot_id, 0), p.stripe
            ON CONFLICT (account_code, commodity, lot_key, stripe)
            DO UPDATE SET amount = EXCLUDED.amount
        """)
    return time.perf_counter() - t0


MONTH = "date_trunc('month', accounting_date::timestamp)::date"


def recompute_month_totals(conn: psycopg.Connection[Any]) -> float:
    """The kept month totals (revision 0008) recomputed from all postings, as the migration's
    backfill does (its guard trigger is off under the replica role)."""
    t0 = time.perf_counter()
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(f"""
            INSERT INTO month_totals (account_code, commodity, lot_key, stripe, month, amount,
                                      debit, credit)
            SELECT account_code, commodity, COALESCE(lot_id, 0), stripe, {MONTH}, SUM(amount),
                   SUM(GREATEST(amount, 0)), SUM(GREATEST(-amount, 0))
              FROM postings
             GROUP BY account_code, commodity, COALESCE(lot_id, 0), stripe, {MONTH}
            ON CONFLICT (account_code, commodity, month, lot_key, stripe)
            DO UPDATE SET amount = EXCLUDED.amount, debit = EXCLUDED.debit,
                          credit = EXCLUDED.credit
        """)
    return time.perf_counter() - t0


def has_day_totals(conn: psycopg.Connection[Any]) -> bool:
    """Revision 0018's kept day totals exist (a tree before it has none)."""
    return conn.execute("SELECT to_regclass('day_totals') IS NOT NULL").fetchone()[0]  # type: ignore[index,no-any-return]


def recompute_day_totals(conn: psycopg.Connection[Any]) -> float:
    """The kept day totals (revision 0018) recomputed from all postings, as the migration's
    backfill does (its guard trigger is off under the replica role)."""
    t0 = time.perf_counter()
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("""
            INSERT INTO day_totals (account_code, commodity, lot_key, stripe, day, amount,
                                    debit, credit)
            SELECT account_code, commodity, COALESCE(lot_id, 0), stripe, accounting_date,
                   SUM(amount), SUM(GREATEST(amount, 0)), SUM(GREATEST(-amount, 0))
              FROM postings
             GROUP BY account_code, commodity, COALESCE(lot_id, 0), stripe, accounting_date
            ON CONFLICT (account_code, commodity, day, lot_key, stripe)
            DO UPDATE SET amount = EXCLUDED.amount, debit = EXCLUDED.debit,
                          credit = EXCLUDED.credit
        """)
    return time.perf_counter() - t0


def trigger_cost(
    conn: psycopg.Connection[Any],
    entries: int,
    rounds: int,
    first: date,
    days: int,
    stripes: dict[str, int],
) -> None:
    """What the month-totals trigger adds to a write: entries of 5 postings, one per
    transaction (as the service writes them; commits not waiting for the disk), with every
    trigger on, and with only ``postings_month_totals`` disabled; the arms alternate
    ``rounds`` times. Prints entries/s and the CPU of this connection's PostgreSQL backend
    per entry (CLK_TCK resolution, hence many entries). The month totals are recomputed
    afterwards (the disabled arm left them short)."""
    from common import proc_cpu_seconds

    pharm = sorted(stripes)
    pid = conn.info.backend_pid
    # CPU is the measure: commits do not wait for the disk here (with fsync on, each one
    # would wait for the WAL flush and the run would measure the disk)
    conn.execute("SET synchronous_commit = off")
    totals = {"all triggers": [0.0, 0.0, 0], "without postings_month_totals": [0.0, 0.0, 0]}
    k = 0
    for _ in range(rounds):
        for arm in totals:
            off = arm.startswith("without")
            if off:
                conn.execute("ALTER TABLE postings DISABLE TRIGGER postings_month_totals")
            c0, w0 = proc_cpu_seconds(pid), time.perf_counter()
            for _ in range(entries // rounds):
                k += 1
                ph = pharm[k % len(pharm)]
                d = first + timedelta(days=k % days)
                with conn.transaction():
                    eid = conn.execute(
                        "INSERT INTO entries (service_date, accounting_date, memo, source,"
                        " partition, created_at, created_by) VALUES (%s, %s, 'bench trigger',"
                        " 'bench:t', %s, now(), 'bench') RETURNING id",
                        (d, d, ph),
                    ).fetchone()[0]  # type: ignore[index]
                    c, f = 100 + k % 500, 10 + k % 50
                    conn.execute(
                        "INSERT INTO postings (entry_id, account_code, commodity, amount,"
                        " accounting_date, stripe) VALUES"
                        " (%(e)s, %(a1)s, 'KHR', %(c)s, %(d)s, %(s)s),"
                        " (%(e)s, '1300-HEF', 'KHR', 200, %(d)s, %(s)s),"
                        " (%(e)s, '4000', 'KHR', %(r)s, %(d)s, %(s)s),"
                        " (%(e)s, '5100', 'KHR', %(f)s, %(d)s, %(s)s),"
                        " (%(e)s, %(a2)s, 'KHR', %(nf)s, %(d)s, %(s)s)",
                        {
                            "e": eid,
                            "a1": f"1200-{ph}",
                            "a2": f"2100-{ph}",
                            "c": c,
                            "r": -(c + 200),
                            "f": f,
                            "nf": -f,
                            "d": d,
                            "s": stripes[ph],
                        },
                    )
            t = totals[arm]
            t[0] += time.perf_counter() - w0
            t[1] += proc_cpu_seconds(pid) - c0
            t[2] += entries // rounds
            if off:
                conn.execute("ALTER TABLE postings ENABLE TRIGGER postings_month_totals")
    conn.execute("RESET synchronous_commit")
    recompute_month_totals(conn)
    for arm, (wall, cpu, n) in totals.items():
        print(
            f"  write path, {arm:<30}: {n:,} entries of 5 postings, one per transaction "
            f"(synchronous_commit off): "
            f"{n / wall:,.0f} entries/s, PostgreSQL backend CPU {1000 * cpu / n:.3f} ms "
            f"per entry"
        )
    sys.stdout.flush()


def verify(conn: psycopg.Connection[Any]) -> tuple[float, dict[str, int]]:
    t0 = time.perf_counter()
    out = {}
    out["balances_differing_from_postings"] = conn.execute("""
        SELECT count(*) FROM balances b
        FULL JOIN (SELECT account_code, commodity, COALESCE(lot_id, 0) lk, stripe,
                          SUM(amount) s
                     FROM postings GROUP BY 1, 2, 3, 4) p
          ON (p.account_code, p.commodity, p.lk, p.stripe)
             = (b.account_code, b.commodity, b.lot_key, b.stripe)
        WHERE COALESCE(b.amount, 0) <> COALESCE(p.s, 0)
    """).fetchone()[0]  # type: ignore[index]
    out["month_totals_differing_from_postings"] = conn.execute(f"""
        SELECT count(*) FROM month_totals m
        FULL JOIN (SELECT account_code, commodity, COALESCE(lot_id, 0) lk, stripe,
                          {MONTH} mo, SUM(amount) s, SUM(GREATEST(amount, 0)) d,
                          SUM(GREATEST(-amount, 0)) c
                     FROM postings GROUP BY 1, 2, 3, 4, 5) p
          ON (p.account_code, p.commodity, p.lk, p.stripe, p.mo)
             = (m.account_code, m.commodity, m.lot_key, m.stripe, m.month)
        WHERE m.account_code IS NULL OR p.account_code IS NULL OR m.amount <> p.s
           OR m.debit <> p.d OR m.credit <> p.c
    """).fetchone()[0]  # type: ignore[index]
    if has_day_totals(conn):
        out["day_totals_differing_from_postings"] = conn.execute("""
            SELECT count(*) FROM day_totals m
            FULL JOIN (SELECT account_code, commodity, COALESCE(lot_id, 0) lk, stripe,
                              accounting_date d, SUM(amount) s, SUM(GREATEST(amount, 0)) dr,
                              SUM(GREATEST(-amount, 0)) cr
                         FROM postings GROUP BY 1, 2, 3, 4, 5) p
              ON (p.account_code, p.commodity, p.lk, p.stripe, p.d)
                 = (m.account_code, m.commodity, m.lot_key, m.stripe, m.day)
            WHERE m.account_code IS NULL OR p.account_code IS NULL OR m.amount <> p.s
               OR m.debit <> p.dr OR m.credit <> p.cr
        """).fetchone()[0]  # type: ignore[index]
    out["unbalanced_entries"] = conn.execute("""
        SELECT count(*) FROM (SELECT entry_id FROM postings GROUP BY entry_id, commodity
                              HAVING SUM(amount) <> 0) x
    """).fetchone()[0]  # type: ignore[index]
    out["postings_without_account"] = conn.execute("""
        SELECT count(*) FROM postings p LEFT JOIN accounts a ON a.code = p.account_code
         WHERE a.code IS NULL
    """).fetchone()[0]  # type: ignore[index]
    out["negative_nonneg_balances"] = conn.execute(
        "SELECT count(*) FROM balances WHERE nonneg AND amount < 0"
    ).fetchone()[0]  # type: ignore[index]
    return time.perf_counter() - t0, out


def count_postings(conn: psycopg.Connection[Any]) -> int:
    return int(conn.execute("SELECT count(*) FROM postings").fetchone()[0])  # type: ignore[index]


def timed_gets(port: int, token: str, paths: list[tuple[str, str]], n: int = 20) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def get(path: str) -> tuple[float, int, int]:
        t0 = time.perf_counter()
        conn.request(
            "GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )
        r = conn.getresponse()
        body = r.read()
        if r.will_close:
            conn.close()
        return (time.perf_counter() - t0) * 1000, r.status, len(body)

    for label, path in paths:
        for _ in range(3):
            get(path)
        samples = [get(path) for _ in range(n)]
        ms = sorted(s[0] for s in samples)
        statuses = sorted({s[1] for s in samples})
        p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
        print(
            f"  {label:<44} median={statistics.median(ms):8.1f} ms  p95={p95:8.1f}  "
            f"max={ms[-1]:8.1f}  status={statuses} bytes={samples[-1][2]}  GET {path}"
        )
        sys.stdout.flush()


def sql_timings(
    conn: psycopg.Connection[Any], first: date, first_end: date, last: date, last_end: date
) -> None:
    """The database's own part of each read: its main queries, timed from psycopg. The two
    "Σ postings … after" rows are what an opening balance cost before the month totals
    (kept − every posting after the date), kept for comparison."""
    day = timedelta(days=1)
    queries = [
        (
            "SQL kept balance of 1200-P01",
            "SELECT commodity, lot_key, SUM(amount) FROM balances WHERE account_code = '1200-P01' "
            "GROUP BY 1, 2",
            {},
        ),
        (
            "SQL trial balance from kept balances",
            "SELECT account_code, commodity, SUM(amount) FROM balances GROUP BY 1, 2",
            {},
        ),
        (
            "SQL (old) Σ postings of 1200-P01 after the latest month's start",
            "SELECT SUM(amount) FROM postings WHERE account_code = '1200-P01' AND commodity = 'KHR'"
            " AND accounting_date > %(d)s",
            {"d": last - day},
        ),
        (
            "SQL (old) Σ postings of 1200-P01 after the earliest month's start",
            "SELECT SUM(amount) FROM postings WHERE account_code = '1200-P01' AND commodity = 'KHR'"
            " AND accounting_date > %(d)s",
            {"d": first - day},
        ),
        (
            "SQL month totals of 1200-P01 after the earliest month",
            "SELECT SUM(amount) FROM month_totals WHERE account_code = '1200-P01' "
            "AND commodity = 'KHR' AND month > %(m)s",
            {"m": first},
        ),
        (
            "SQL statement page (101 lines) of the earliest month",
            "SELECT p.id, p.amount, e.memo FROM postings p JOIN entries e ON e.id = p.entry_id "
            "WHERE p.account_code = '1200-P01' AND p.commodity = 'KHR' AND p.accounting_date "
            "BETWEEN %(a)s AND %(b)s ORDER BY p.accounting_date, p.id LIMIT 101",
            {"a": first, "b": first_end},
        ),
    ]
    for label, sql, params in queries:
        conn.execute(sql, params).fetchall()
        ms = []
        for _ in range(10):
            t0 = time.perf_counter()
            conn.execute(sql, params).fetchall()
            ms.append((time.perf_counter() - t0) * 1000)
        print(f"  {label:<66} median={statistics.median(ms):8.1f} ms  max={max(ms):8.1f}")


def query_timings(
    url: str, first: date, first_end: date, last: date, last_end: date, *, plans: bool
) -> None:
    """``ledger.queries`` itself (SQLAlchemy, psycopg) on this database: each as-of read the
    statements make, its SQL statements, and (``plans``) EXPLAIN ANALYZE of each."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.orm import Session

    from ledger.queries import balance_of, balances, trial_balance

    day = timedelta(days=1)
    eng = create_engine(url)
    seen: list[tuple[str, Any]] = []

    @event.listens_for(eng, "before_cursor_execute")
    def _capture(_c: Any, _cur: Any, statement: str, params: Any, *_a: Any) -> None:
        seen.append((statement, params))

    p01 = ["1200-P01"]
    cases: list[tuple[str, Any]] = [
        (
            f"opening of {first:%Y-%m} (balance_of as of {first - day})",
            lambda s: balance_of(s, p01, "KHR", first - day),
        ),
        (
            f"closing of {first:%Y-%m} (balance_of as of {first_end})",
            lambda s: balance_of(s, p01, "KHR", first_end),
        ),
        (
            f"opening of {last:%Y-%m} (balance_of as of {last - day})",
            lambda s: balance_of(s, p01, "KHR", last - day),
        ),
        (
            f"balances 1200-P01 as of {first + 13 * day} (postings up to it)",
            lambda s: balances(s, p01, first + 13 * day),
        ),
        (
            f"balances 1200-P01 as of {first + 19 * day} (postings after it)",
            lambda s: balances(s, p01, first + 19 * day),
        ),
        (f"trial balance as of {last_end} (a month end)", lambda s: trial_balance(s, last_end)),
        (
            f"trial balance as of {last + 14 * day} (mid-month: the 15th)",
            lambda s: trial_balance(s, last + 14 * day),
        ),
        (
            f"trial balance as of {last + 19 * day} (every posting after it in its month)",
            lambda s: trial_balance(s, last + 19 * day),
        ),
    ]
    with Session(eng) as s:
        for label, fn in cases:
            fn(s)
            s.rollback()
            ms = []
            for _ in range(10):
                seen.clear()
                t0 = time.perf_counter()
                fn(s)
                ms.append((time.perf_counter() - t0) * 1000)
                s.rollback()
            print(
                f"  queries: {label:<66} median={statistics.median(ms):8.1f} ms  "
                f"max={max(ms):8.1f}  SQL statements={len(seen)}"
            )
            if plans:
                raw = eng.raw_connection()
                try:
                    cur = raw.cursor()
                    for statement, params in seen:
                        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                        print("    | " + "\n    | ".join(r[0] for r in cur.fetchall()))
                finally:
                    raw.close()
            sys.stdout.flush()
    eng.dispose()


def close_timing(url: str, first: date) -> None:
    """``ledger.periods.close_period`` of the earliest month (every later posting lies after
    it) in a transaction rolled back each time: the ledger's part of a month close (the
    checks, the closing balances kept), without ``on_month_closed`` (the seals and the
    Merkle root: the generated entries are unsealed, and sealing them all would be timed
    instead). 5 runs after 1 to warm up; SQL statements counted."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.orm import Session

    from ledger.periods import close_period

    eng = create_engine(url)
    seen = [0]

    @event.listens_for(eng, "before_cursor_execute")
    def _count(*_a: Any) -> None:
        seen[0] += 1

    ms = []
    with Session(eng) as s:
        for i in range(6):
            seen[0] = 0
            t0 = time.perf_counter()
            close_period(s, f"{first:%Y-%m}", by="bench", force=True, reason="bench")
            if i:
                ms.append((time.perf_counter() - t0) * 1000)
            s.rollback()
    print(
        f"  close_period {first:%Y-%m} (the earliest month; ledger part, rolled back) "
        f"median={statistics.median(ms):8.1f} ms  max={max(ms):8.1f}  SQL statements={seen[0]}"
    )
    sys.stdout.flush()
    eng.dispose()


def in_process(
    url: str, token: str, paths: list[tuple[str, str]], db: str, *, n: int, profile: bool
) -> None:
    """Per request, in-process (Flask test client): this process's CPU, the PostgreSQL
    backends' CPU, SQL statements; with ``profile``, cProfile's top functions."""
    import cProfile
    import pstats

    from common import cpu_delta, postgres_cpu
    from sqlalchemy import event

    from app import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-books"})
    count = [0]
    event.listen(
        app.extensions["rdf_db"].engine,
        "before_cursor_execute",
        lambda *_a: count.__setitem__(0, count[0] + 1),
    )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    for label, path in paths:
        for _ in range(3):
            assert client.get(path, headers=headers).status_code == 200, path
        count[0] = 0
        pg0 = postgres_cpu(db)
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            client.get(path, headers=headers)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        pgc = cpu_delta(pg0, postgres_cpu(db))
        print(
            f"  in-process {label:<44} wall {1000 * wall / n:7.1f} ms  python CPU "
            f"{1000 * cpu / n:6.1f} ms  PostgreSQL CPU {1000 * pgc / n:6.1f} ms  "
            f"SQL statements {count[0] / n:4.1f}"
        )
        if profile:
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(n):
                client.get(path, headers=headers)
            prof.disable()
            st = pstats.Stats(prof)
            st.sort_stats("cumulative").print_stats(18)
        sys.stdout.flush()
    app.extensions["rdf_db"].dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="rdf_bench_books")
    ap.add_argument("--stages", default="100000,10000000")
    ap.add_argument("--max-minutes", type=float, default=15.0)
    ap.add_argument("--fallback", type=int, default=1_000_000)
    ap.add_argument("--trigger-sample", type=int, default=100_000)
    ap.add_argument(
        "--trigger-chunk", type=int, default=2500, help="postings per transaction with triggers on"
    )
    ap.add_argument("--chunk", type=int, default=1_000_000, help="postings per transaction")
    ap.add_argument("--keep", action="store_true", help="keep the database at the end")
    ap.add_argument("--reuse", action="store_true", help="reuse a database built before")
    ap.add_argument("--no-plans", action="store_true", help="no EXPLAIN ANALYZE output")
    ap.add_argument(
        "--trigger-ab",
        type=int,
        default=4000,
        help="entries per arm of the month-totals trigger cost (0: skip)",
    )
    ap.add_argument(
        "--profile", action="store_true", help="cProfile of each statement request, in-process"
    )
    args = ap.parse_args()
    header("reads of the books with a big journal")
    import json

    import setup_fund

    from ledger.model import stripe_for

    info_path = Path(f"/tmp/{args.db}.json")
    if not args.reuse:
        ns = argparse.Namespace(
            db=args.db, pharmacies=20, medicines=2, patients=10, lots="per-pharmacy"
        )
        info = setup_fund.build(ns)
        info_path.write_text(json.dumps(info, indent=1))
        print(f"fund built in {info['built_in_s']} s")
    info = json.loads(info_path.read_text())
    stripes = {p: stripe_for(p, lot_key=0, nonneg=False) for p in info["pharmacies"]}
    # The quiet pharmacy gets no bulk postings: its months hold the same postings at every
    # stage, so its statements show what the journal's size alone costs (1200-P01's months
    # grow with the journal: ~100 times more lines at 10 M than at 100 k).
    quiet = sorted(stripes)[-1]
    busy = {p: s for p, s in stripes.items() if p != quiet}
    today = date.today()
    first = month_start(today, 11)
    days = (today - first).days + 1
    last_full = month_start(today, 1)
    last_full_end = month_start(today, 0) - timedelta(days=1)
    first_end = month_start(today, 10) - timedelta(days=1)
    token = info["tokens"]["finance"]
    reads = [
        ("GET /healthz (the web layer's floor)", "/healthz"),
        ("balance 1200-P01 (a pharmacy's account)", "/api/v1/accounts/1200-P01/balance"),
        ("balance 4000 (revenue, every pharmacy)", "/api/v1/accounts/4000/balance"),
        ("balance 1200 (header, 20 sub-accounts)", "/api/v1/accounts/1200/balance"),
        ("trial balance", "/api/v1/reports/trial-balance"),
        (
            f"statement 1200-P01 {last_full:%Y-%m} (latest month)",
            f"/api/v1/accounts/1200-P01/statement?from={last_full}&to={last_full_end}",
        ),
        (
            f"statement 1200-P01 {first:%Y-%m} (earliest month)",
            f"/api/v1/accounts/1200-P01/statement?from={first}&to={first_end}",
        ),
        (
            f"statement 1200-P01 {last_full:%Y-%m}, limit=1000",
            f"/api/v1/accounts/1200-P01/statement?from={last_full}&to={last_full_end}&limit=1000",
        ),
        (
            f"statement 1200-{quiet} {last_full:%Y-%m} (quiet pharmacy)",
            f"/api/v1/accounts/1200-{quiet}/statement?from={last_full}&to={last_full_end}",
        ),
        (
            f"statement 1200-{quiet} {first:%Y-%m} (quiet pharmacy)",
            f"/api/v1/accounts/1200-{quiet}/statement?from={first}&to={first_end}",
        ),
        (
            f"pharmacy statement {quiet} {last_full:%Y-%m} JSON (quiet)",
            f"/api/v1/statements/pharmacies/{quiet}?period={last_full:%Y-%m}&format=json",
        ),
        (
            f"pharmacy statement P01 {last_full:%Y-%m} JSON",
            f"/api/v1/statements/pharmacies/P01?period={last_full:%Y-%m}&format=json",
        ),
        (
            f"pharmacy statement P01 {first:%Y-%m} JSON",
            f"/api/v1/statements/pharmacies/P01?period={first:%Y-%m}&format=json",
        ),
        (
            f"balance 1200-P01 as of {first + timedelta(days=13)}",
            f"/api/v1/accounts/1200-P01/balance?as_of={first + timedelta(days=13)}",
        ),
        (
            f"trial balance as of {last_full_end}",
            f"/api/v1/reports/trial-balance?as_of={last_full_end}",
        ),
        (
            f"trial balance as of {last_full + timedelta(days=14)} (mid-month)",
            f"/api/v1/reports/trial-balance?as_of={last_full + timedelta(days=14)}",
        ),
    ]
    statements = [r for r in reads if "statement" in r[0]]
    conn = psycopg.connect(f"{PG}/{args.db}", autocommit=True)
    stages = [int(x) for x in args.stages.split(",")]
    rate_bulk: float | None = None
    for target in stages:
        have = count_postings(conn)
        need = target - have
        if need > 0 and rate_bulk is not None and need / rate_bulk > args.max_minutes * 60:
            print(
                f"stage {target:,}: generating {need:,} postings at {rate_bulk:,.0f}/s would "
                f"take {need / rate_bulk / 60:.0f} min > {args.max_minutes} min: "
                f"stopping at {args.fallback:,} postings instead"
            )
            target = args.fallback
            need = target - have
        t_stage = time.perf_counter()
        trig = min(max(0, need), max(0, args.trigger_sample - have))
        ab = args.trigger_ab * 2 * POSTINGS_PER_ENTRY if trig > 0 else 0
        if ab and trig > 2 * ab:
            trig -= ab  # the trigger's A/B below makes up the rest of the sample
        else:
            ab = 0
        if trig > 0:
            # Transactions of --trigger-chunk postings: 100 k postings in one transaction ran
            # for over 5 minutes here, likely because many updates of one kept balance row
            # in one transaction make a chain of row versions each later update walks
            # (quadratic), which the service, one entry per transaction, never does.
            e_all = trig // POSTINGS_PER_ENTRY
            secs = 0.0
            left = e_all
            while left > 0:
                e = min(left, args.trigger_chunk // POSTINGS_PER_ENTRY)
                secs += generate(conn, e, bulk=False, first=first, days=days, stripes=stripes)
                left -= e
            print(
                f"  generated {e_all * 5:,} postings with triggers on (row-by-row kept balances"
                f" and the deferred balance check, {args.trigger_chunk} postings per "
                f"transaction): {secs:.1f}s = {e_all * 5 / secs:,.0f} postings/s"
            )
            need -= e_all * 5
            if ab:
                trigger_cost(conn, args.trigger_ab, 4, first, days, stripes)
                need = target - count_postings(conn)
        done = 0
        bulk_secs = 0.0
        while need - done >= POSTINGS_PER_ENTRY:
            chunk = min(args.chunk, need - done)
            e = chunk // POSTINGS_PER_ENTRY
            secs = generate(conn, e, bulk=True, first=first, days=days, stripes=busy)
            bulk_secs += secs
            done += e * 5
            rate_bulk = done / bulk_secs
            print(f"  bulk: {done:,}/{need:,} postings, {rate_bulk:,.0f} postings/s")
            sys.stdout.flush()
            remaining = (need - done) / rate_bulk
            if (
                remaining > args.max_minutes * 60
                and target > args.fallback
                and have + done < args.fallback
            ):
                print(
                    f"  projected {remaining / 60:.0f} more minutes > {args.max_minutes}: "
                    f"stopping at {args.fallback:,} postings"
                )
                need = args.fallback - have
        if done:
            secs = recompute_balances(conn)
            print(f"  kept balances recomputed from all postings in {secs:.1f}s")
            secs = recompute_month_totals(conn)
            print(f"  kept month totals recomputed from all postings in {secs:.1f}s")
            if has_day_totals(conn):
                secs = recompute_day_totals(conn)
                print(f"  kept day totals recomputed from all postings in {secs:.1f}s")
        t_an = time.perf_counter()
        conn.execute("VACUUM ANALYZE postings")
        conn.execute("VACUUM ANALYZE entries")
        conn.execute("VACUUM ANALYZE balances")
        conn.execute("VACUUM ANALYZE month_totals")
        if has_day_totals(conn):
            conn.execute("VACUUM ANALYZE day_totals")
        print(f"  vacuum analyze {time.perf_counter() - t_an:.1f}s")
        vsecs, checks = verify(conn)
        total = count_postings(conn)
        size = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()[0]  # type: ignore[index]
        nbal = conn.execute("SELECT count(*) FROM balances").fetchone()[0]  # type: ignore[index]
        nmt = conn.execute("SELECT count(*) FROM month_totals").fetchone()[0]  # type: ignore[index]
        ndt = (
            conn.execute("SELECT count(*) FROM day_totals").fetchone()[0]  # type: ignore[index]
            if has_day_totals(conn)
            else "no"
        )
        print(
            f"stage: {total:,} postings ({size}, {nbal} kept balance rows, {nmt} month total "
            f"rows, {ndt} day total rows), filled in "
            f"{time.perf_counter() - t_stage:.0f}s; checks ({vsecs:.0f}s): {checks}"
        )
        sql_timings(conn, first, first_end, last_full, last_full_end)
        query_timings(
            info["database_url"],
            first,
            first_end,
            last_full,
            last_full_end,
            plans=not args.no_plans,
        )
        close_timing(info["database_url"], first)
        server = Server(info["database_url"], 1)
        server.start()
        try:
            timed_gets(server.port, token, reads)
        finally:
            server.stop()
        in_process(info["database_url"], token, statements, args.db, n=20, profile=args.profile)
    conn.close()
    if not args.keep:
        setup_fund.recreate(args.db, create=False)
        info_path.unlink(missing_ok=True)
        print(f"dropped {args.db}")


if __name__ == "__main__":
    main()
