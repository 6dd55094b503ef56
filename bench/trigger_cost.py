"""What PostgreSQL spends on the posting triggers, per entry and per posting: the row
triggers of revisions 0001/0008 against the statement triggers of revision 0010.

    .venv/bin/python bench/trigger_cost.py [--db rdf_bench_triggers] [--rounds 9]
        [--batch-entries 100] [--batch-statements 10] [--single 250] [--keep]

Run from the repository root. Makes its own database (dropped at the end unless
``--keep``), migrates it to heads, adds 20 pharmacies with a stocked lot of 3 medicines
each, then writes entries shaped like a dispensing (10 postings: the units and the value of
one medicine line out of a pharmacy's inventory lot into 5000, co-payment 1200-Pnn,
subsidy 1300-HEF and 5300, price 4000, fee 5100 / 2100-Pnn), straight in SQL (not the
service's write path: this isolates what the database does), in two workloads:

* ``batch``: ``--batch-statements`` transactions, each one INSERT of ``--batch-entries``
  entries of one pharmacy and one INSERT of their postings (10 per entry), then COMMIT;
* ``single``: ``--single`` transactions of one entry: one INSERT of the entry, one of its
  10 postings, COMMIT (as one dispensing does).

Arms, alternating round by round, the order rotating (each switch is a migration, outside
the timing):

* ``row triggers (0008)``: downgraded to revision 0008 (``postings_apply``,
  ``postings_month_totals`` per row, ``postings_balanced`` deferred per row, and the
  guards of balances and month totals as 0001/0008 made them);
* ``statement triggers (0010)``: upgraded to heads;
* ``no triggers (floor)``: heads with ``ALTER TABLE postings DISABLE TRIGGER USER`` (the
  foreign-key checks stay): what the inserts cost without any trigger; the trigger cost of
  an arm is its time minus this floor.

Kept balance and month total rows all exist before timing (as in the service, which makes
a missing balance row before it locks), and are vacuumed before each timed workload (what
autovacuum would do; without it, dead versions of these hot rows pile up under the ON
CONFLICT probes and the UPDATEs). Commits do not wait for the disk
(``synchronous_commit = off``): the figure is CPU, not the WAL flush. Prints, per arm and
workload, the median over the rounds and (in brackets) the minimum, the least disturbed
run on a shared machine: wall ms of the postings INSERT plus the COMMIT (where the deferred
check runs) per entry, the CPU of the PostgreSQL backend per entry (/proc, 10 ms ticks,
hence many entries), and the trigger cost over the floor per entry and per posting; then
the trigger times EXPLAIN ANALYZE reports for one statement of each workload per arm. At the end it
verifies that every kept balance and month total still equals the sum of its postings
(the floor arm's postings are folded in afterwards) and that every entry balances.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from common import PG, header, proc_cpu_seconds, sql_chart_and_lots  # noqa: E402

PHARMACIES = [f"P{i:02d}" for i in range(1, 21)]
MEDICINES = ["MET500", "AML5", "ENA10"]
POSTINGS_PER_ENTRY = 10
STOCK = 10**12  # units and riel of each lot at each pharmacy: never runs out

ROW, STATEMENT, FLOOR = "row triggers (0008)", "statement triggers (0010)", "no triggers (floor)"
ARMS = [ROW, STATEMENT, FLOOR]

INSERT_ENTRIES = """
    INSERT INTO entries (service_date, accounting_date, memo, source, partition, created_at,
                         created_by)
    SELECT %(d)s, %(d)s, 'bench trigger cost', 'bench:trigger', %(p)s, now(), 'bench'
      FROM generate_series(1, %(n)s)
    RETURNING id
"""
INSERT_POSTINGS = """
    INSERT INTO postings (entry_id, account_code, commodity, lot_id, amount, accounting_date,
                          stripe)
    SELECT * FROM unnest(%(e)s::bigint[], %(a)s::text[], %(c)s::text[], %(l)s::bigint[],
                         %(m)s::bigint[], %(d)s::date[], %(s)s::smallint[])
"""


def sa_url(db: str) -> str:
    return PG.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{db}"


def stripe_of(pharmacy: str) -> int:
    from ledger.model import stripe_for

    return stripe_for(pharmacy, lot_key=0, nonneg=False)


class Fund:
    """Accounts, lots and stock of the bench database, and entries shaped like a
    dispensing."""

    def __init__(self, conn: psycopg.Connection[Any], day: date) -> None:
        self.conn = conn
        self.day = day
        self.lots: dict[tuple[str, str], int] = {}
        self.rng = random.Random(7)
        self.insert_s = self.commit_s = 0.0

    def build(self) -> None:
        c = self.conn
        self.lots.update(sql_chart_and_lots(c, PHARMACIES, MEDICINES, self.day))
        # stock: one receipt per lot, through the triggers of whatever revision is current
        with c.transaction():
            for (p, m), lot in self.lots.items():
                eid = self._entries(p, 1)[0]
                self._postings(
                    [
                        (eid, f"1400-{p}", m, lot, STOCK, 0),
                        (eid, "9000", m, lot, -STOCK, 0),
                        (eid, f"1400-{p}", "KHR", lot, STOCK, 0),
                        (eid, "3000", "KHR", None, -STOCK, 0),
                    ]
                )

    def _entries(self, pharmacy: str, n: int) -> list[int]:
        rows = self.conn.execute(INSERT_ENTRIES, {"d": self.day, "p": pharmacy, "n": n})
        return [int(r[0]) for r in rows.fetchall()]

    def _postings(self, rows: list[tuple[int, str, str, int | None, int, int]]) -> None:
        cols = list(zip(*rows, strict=True))
        self.conn.execute(
            INSERT_POSTINGS,
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
        m = self.rng.choice(MEDICINES)
        lot = self.lots[(p, m)]
        q = self.rng.randint(10, 90)
        cost, price = 35 * q, 50 * q
        fee = price // 10
        subsidy = price // 2
        fund_part = subsidy // 5
        s = stripe_of(p)
        return [
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

    def write(self, pharmacy: str, n: int) -> None:
        """One transaction of ``n`` entries of ``pharmacy``; adds the wall seconds of its
        postings INSERT and of its COMMIT to ``self.insert_s`` and ``self.commit_s``."""
        with self.conn.transaction():
            ids = self._entries(pharmacy, n)
            rows = [r for eid in ids for r in self.dispensing(eid, pharmacy)]
            t0 = time.perf_counter()
            self._postings(rows)
            t1 = time.perf_counter()
        t2 = time.perf_counter()
        self.insert_s += t1 - t0
        self.commit_s += t2 - t1


def set_arm(url: str, conn: psycopg.Connection[Any], arm: str) -> None:
    from alembic import command

    from commands import alembic_config, upgrade

    conn.execute("ALTER TABLE postings ENABLE TRIGGER USER")
    if arm == ROW:
        command.downgrade(alembic_config(url), "0008")
    else:
        upgrade(url)
        if arm == FLOOR:
            conn.execute("ALTER TABLE postings DISABLE TRIGGER USER")


def revision(conn: psycopg.Connection[Any]) -> str:
    return ",".join(sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version")))


def explain(fund: Fund, pharmacy: str, n: int) -> str:
    """The trigger times EXPLAIN ANALYZE gives for one postings INSERT of ``n`` entries (the
    immediate triggers only; the deferred check runs at commit, not here); rolled back."""
    c = fund.conn
    out = []
    with c.transaction(force_rollback=True):
        ids = fund._entries(pharmacy, n)
        rows = [r for eid in ids for r in fund.dispensing(eid, pharmacy)]
        cols = list(zip(*rows, strict=True))
        plan = c.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + INSERT_POSTINGS,
            {
                "e": list(cols[0]),
                "a": list(cols[1]),
                "c": list(cols[2]),
                "l": list(cols[3]),
                "m": list(cols[4]),
                "d": [fund.day] * len(rows),
                "s": list(cols[5]),
            },
        ).fetchone()
        assert plan is not None
        doc = plan[0] if not isinstance(plan[0], str) else json.loads(plan[0])
        top = doc[0]
        out.append(f"insert {top['Execution Time']:.3f} ms")
        fk_ms, fk_calls = 0.0, 0
        for t in top.get("Triggers", []):
            if t["Trigger Name"].startswith("RI_ConstraintTrigger"):
                fk_ms += t["Time"]
                fk_calls += t["Calls"]
            else:
                out.append(f"{t['Trigger Name']} {t['Time']:.3f} ms/{t['Calls']} calls")
        out.insert(1, f"foreign-key checks {fk_ms:.3f} ms/{fk_calls} calls")
    return "; ".join(out)


def verify(conn: psycopg.Connection[Any]) -> dict[str, int]:
    month = "date_trunc('month', accounting_date::timestamp)::date"
    out: dict[str, int] = {}
    row = conn.execute("""
        SELECT count(*) FROM balances b
        FULL JOIN (SELECT account_code, commodity, COALESCE(lot_id, 0) lk, stripe, SUM(amount) s
                     FROM postings GROUP BY 1, 2, 3, 4) p
          ON (p.account_code, p.commodity, p.lk, p.stripe)
             = (b.account_code, b.commodity, b.lot_key, b.stripe)
        WHERE COALESCE(b.amount, 0) <> COALESCE(p.s, 0)""").fetchone()
    out["balances_differing_from_postings"] = int(row[0]) if row else -1
    row = conn.execute(f"""
        SELECT count(*) FROM month_totals m
        FULL JOIN (SELECT account_code, commodity, COALESCE(lot_id, 0) lk, stripe, {month} mo,
                          SUM(amount) s, SUM(GREATEST(amount, 0)) d, SUM(GREATEST(-amount, 0)) c
                     FROM postings GROUP BY 1, 2, 3, 4, 5) p
          ON (p.account_code, p.commodity, p.lk, p.stripe, p.mo)
             = (m.account_code, m.commodity, m.lot_key, m.stripe, m.month)
        WHERE m.account_code IS NULL OR p.account_code IS NULL OR m.amount <> p.s
           OR m.debit <> p.d OR m.credit <> p.c""").fetchone()
    out["month_totals_differing_from_postings"] = int(row[0]) if row else -1
    row = conn.execute("""
        SELECT count(*) FROM (SELECT entry_id FROM postings GROUP BY entry_id, commodity
                              HAVING SUM(amount) <> 0) x""").fetchone()
    out["unbalanced_entries"] = int(row[0]) if row else -1
    return out


def refold(conn: psycopg.Connection[Any]) -> None:
    """Kept balances and month totals recomputed from the postings (the floor arm wrote
    postings with the triggers off)."""
    month = "date_trunc('month', accounting_date::timestamp)::date"
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("""
            INSERT INTO balances (account_code, commodity, lot_key, stripe, amount, nonneg)
            SELECT p.account_code, p.commodity, COALESCE(p.lot_id, 0), p.stripe, SUM(p.amount),
                   bool_or(COALESCE(p.lot_id, 0) <> 0 AND a.is_inventory)
              FROM postings p JOIN accounts a ON a.code = p.account_code
             GROUP BY p.account_code, p.commodity, COALESCE(p.lot_id, 0), p.stripe
            ON CONFLICT (account_code, commodity, lot_key, stripe)
            DO UPDATE SET amount = EXCLUDED.amount""")
        conn.execute(f"""
            INSERT INTO month_totals (account_code, commodity, lot_key, stripe, month, amount,
                                      debit, credit)
            SELECT account_code, commodity, COALESCE(lot_id, 0), stripe, {month}, SUM(amount),
                   SUM(GREATEST(amount, 0)), SUM(GREATEST(-amount, 0))
              FROM postings GROUP BY 1, 2, 3, 4, 5
            ON CONFLICT (account_code, commodity, month, lot_key, stripe)
            DO UPDATE SET amount = EXCLUDED.amount, debit = EXCLUDED.debit,
                          credit = EXCLUDED.credit""")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="rdf_bench_triggers")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--batch-entries", type=int, default=100, help="entries per statement")
    ap.add_argument(
        "--batch-statements", type=int, default=10, help="batch transactions per arm and round"
    )
    ap.add_argument(
        "--single", type=int, default=250, help="one-entry transactions per arm and round"
    )
    ap.add_argument("--keep", action="store_true", help="keep the database")
    args = ap.parse_args()
    header("PostgreSQL time of the posting triggers per entry: row (0008) vs statement (0010)")

    from setup_fund import recreate

    from commands import upgrade

    recreate(args.db)
    url = sa_url(args.db)
    upgrade(url)
    try:
        with psycopg.connect(f"{PG}/{args.db}", autocommit=True) as conn:
            run(conn, url, args)
    finally:
        if not args.keep:
            recreate(args.db, create=False)


def run(conn: psycopg.Connection[Any], url: str, args: argparse.Namespace) -> None:
    conn.execute("SET synchronous_commit = off")
    pid = conn.info.backend_pid
    av = conn.execute("SHOW autovacuum").fetchone()
    print(
        f"autovacuum={av[0] if av else '?'} (the script VACUUMs balances and month totals "
        "before each timed workload)"
    )
    fund = Fund(conn, date.today())
    fund.build()
    k = 0

    def batch() -> int:
        nonlocal k
        for _ in range(args.batch_statements):
            k += 1
            fund.write(PHARMACIES[k % len(PHARMACIES)], args.batch_entries)
        return int(args.batch_statements * args.batch_entries)

    def single() -> int:
        nonlocal k
        for _ in range(args.single):
            k += 1
            fund.write(PHARMACIES[k % len(PHARMACIES)], 1)
        return int(args.single)

    loads: dict[str, Callable[[], int]] = {"batch": batch, "single": single}
    # warm: every kept balance and month total row exists, plans are cached
    for arm in ARMS:
        set_arm(url, conn, arm)
        for p in PHARMACIES:
            fund.write(p, 3)
            fund.write(p, 1)
    # wall s of INSERTs, wall s of COMMITs, backend CPU s, entries
    got: dict[tuple[str, str], list[list[float]]] = {(a, w): [] for a in ARMS for w in loads}
    for rnd in range(args.rounds):
        order = ARMS[rnd % len(ARMS) :] + ARMS[: rnd % len(ARMS)]
        for arm in order:
            set_arm(url, conn, arm)
            print(f"round {rnd + 1} arm {arm}: revision {revision(conn)}")
            sys.stdout.flush()
            for w, load in loads.items():
                # what autovacuum would have done by now (it may be off on the server): the
                # kept rows' dead versions would otherwise pile up under the ON CONFLICT probes
                conn.execute(
                    "VACUUM balances, month_totals" + (", entry_checks" if arm != ROW else "")
                )
                fund.insert_s = fund.commit_s = 0.0
                c0 = proc_cpu_seconds(pid)
                n = load()
                cpu = proc_cpu_seconds(pid) - c0
                got[(arm, w)].append([fund.insert_s, fund.commit_s, cpu, float(n)])

    print()
    print(
        "per entry (10 postings), over the rounds: median (min); wall = client-side wall of "
        "the postings INSERT + the COMMIT; CPU = PostgreSQL backend CPU of the whole "
        "transaction (entries INSERT too); trigger cost = the arm minus the floor"
    )
    for w in loads:
        print(
            f"workload {w}: "
            + (
                f"{args.batch_statements} transactions x "
                f"{args.batch_entries} entries in one postings INSERT"
                if w == "batch"
                else f"{args.single} transactions of 1 entry"
            )
        )
        stats: dict[str, tuple[float, float, float, float]] = {}
        for arm in [FLOOR, ROW, STATEMENT]:
            runs = got[(arm, w)]
            wall = [1000 * (r[0] + r[1]) / r[3] for r in runs]
            cpu_ms = [1000 * r[2] / r[3] for r in runs]
            stats[arm] = (
                statistics.median(wall),
                min(wall),
                statistics.median(cpu_ms),
                min(cpu_ms),
            )
            ins = statistics.median(1000 * r[0] / r[3] for r in runs)
            com = statistics.median(1000 * r[1] / r[3] for r in runs)
            wm, wn, cm, cn = stats[arm]
            print(
                f"  {arm:<27} wall {wm:.3f} ({wn:.3f}) ms = INSERT {ins:.3f} + COMMIT "
                f"{com:.3f}; CPU {cm:.3f} ({cn:.3f}) ms  "
                f"[CPU runs: {' '.join(f'{v:.3f}' for v in cpu_ms)}]"
            )
        fw, fwn, fc, fcn = stats[FLOOR]
        for arm in [ROW, STATEMENT]:
            wm, wn, cm, cn = stats[arm]
            print(
                f"  triggers, {arm:<27}: wall {wm - fw:.3f} ({wn - fwn:.3f}) ms per entry, "
                f"{1000 * (wm - fw) / POSTINGS_PER_ENTRY:.1f} "
                f"({1000 * (wn - fwn) / POSTINGS_PER_ENTRY:.1f}) us per posting; "
                f"CPU {cm - fc:.3f} ({cn - fcn:.3f}) ms per entry"
            )
    print()
    print("EXPLAIN ANALYZE of one postings INSERT (immediate triggers; rolled back):")
    for arm in [ROW, STATEMENT]:
        set_arm(url, conn, arm)
        for n in (args.batch_entries, 1):
            explain(fund, PHARMACIES[0], n)  # warm
            print(f"  {arm:<27} {n:>4} entries: {explain(fund, PHARMACIES[0], n)}")
    set_arm(url, conn, STATEMENT)
    refold(conn)
    checks = verify(conn)
    print(f"verify: {checks}")
    if any(checks.values()):
        raise SystemExit("the books do not add up")


if __name__ == "__main__":
    main()
