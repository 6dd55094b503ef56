"""Adherence of one educator's 200 patients over a year, with years of dispensings.

    .venv/bin/python bench/adherence.py [--backend sqlite|postgres|both] [--patients 20000]
        [--years 2] [--repeat 20] [--keep] [--db rdf_bench_care] [--path /tmp/...]

1. Makes a database (a SQLite file, or a PostgreSQL database) with the migrations, then
   fills it with bench data straight in SQL (never the service's write path): 20
   pharmacies, two medicines (MET500 "diabetes", AML5 "hypertension"), ``--patients``
   patients each in one of ``patients / 200`` peer educators' care (200 each), and for every
   patient a dispensing about every 30 days (27-33) for ``--years`` years up to today, one or
   two lines (diabetes always, hypertension for half the patients), 30 days each, with a
   return on 1 line in 100. Postings are not generated: the adherence read never touches
   the journal (a one-line dispensing posts 9 postings, a two-line one 13; the
   ``postings-equivalent`` figure says what journal these dispensings stand for).
2. Times ``care.service.adherence`` for educator E00001 over the 365 days up to today
   (``--repeat`` runs after 2 to warm up: median, p95, max), the number of SQL statements
   it issues, and the same through HTTP (``GET /api/v1/care/adherence`` on the Flask test
   client: parsing, authorisation, serialisation included). On PostgreSQL, the line
   query's ``EXPLAIN (ANALYZE, BUFFERS)``.

Target (issue 20): within 200 ms at 10 M postings.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import PG, machine_line  # noqa: E402

PER_EDUCATOR = 200
PHARMACIES = 20
CHUNK = 50_000


def commit_line() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def rows(patients: int, years: int, seed: int = 20) -> Iterator[tuple[str, Any]]:
    """("d", dispensing) / ("l", line) / ("r", return line) rows in the order a fund records
    them (day by day, patients interleaved: a patient's dispensings are spread over the
    table, as in production), ids assigned in that order."""
    rng = random.Random(seed)
    today = date.today()
    first = today - timedelta(days=365 * years)
    now = datetime.now(UTC)
    by_day: dict[date, list[int]] = {}
    for p in range(patients):
        on = first + timedelta(days=rng.randint(0, 30))
        while on <= today:
            by_day.setdefault(on, []).append(p)
            on += timedelta(days=rng.randint(27, 33))
    d_id = line_id = 0
    for on in sorted(by_day):
        day = by_day[on]
        rng.shuffle(day)  # an educator's patients are not neighbours in the table
        for p in day:
            member = f"B{p:07d}"
            d_id += 1
            yield (
                "d",
                (d_id, f"P{p % PHARMACIES:02d}", member, on, on, "KHR", "consignment", 1)
                + ("percent", 3000, 0, 3000, 300, now, "bench"),
            )
            for no, med in enumerate(("MET500", "AML5") if p % 2 == 0 else ("MET500",)):
                line_id += 1
                yield "l", (line_id, d_id, no, med, 60, "50", 3000, 0, 3000, 2100, 30)
                if rng.random() < 0.01:
                    yield "r", (line_id, 20)


D_COLS = "id, pharmacy, patient, service_date, accounting_date, currency, model, contract_id, fee_kind, total_price, total_subsidy, total_copayment, fee, created_at, created_by"
L_COLS = "id, dispensing_id, line_no, medicine, quantity, unit_price, price, subsidy, copayment, cost, days_supply"


def reference_rows(patients: int) -> dict[str, tuple[str, list[tuple[Any, ...]]]]:
    now = datetime.now(UTC)
    educators = (patients + PER_EDUCATOR - 1) // PER_EDUCATOR
    since = date.today() - timedelta(days=3650)
    return {
        "commodities": (
            "code, kind, exponent, name",
            [("MET500", "medicine", 0, "Metformin"), ("AML5", "medicine", 0, "Amlodipine")],
        ),
        "medicines": (
            "code, name, strength, form, unit, therapeutic_class, default_days_supply, created_at",
            [
                ("MET500", "Metformin", "500 mg", "tablet", "tablet", "diabetes", 30, now),
                ("AML5", "Amlodipine", "5 mg", "tablet", "tablet", "hypertension", 30, now),
            ],
        ),
        "pharmacies": (
            "code, name, province, district, created_at",
            [(f"P{i:02d}", f"Pharmacy {i}", "Takeo", "Bati", now) for i in range(PHARMACIES)],
        ),
        "patients": ("member_code, created_at", [(f"B{p:07d}", now) for p in range(patients)]),
        "peer_educators": (
            "code, name, network, district, created_at",
            [(f"E{e + 1:05d}", None, "Bench", "Bati", now) for e in range(educators)],
        ),
        "educator_assignments": (
            "patient, educator, valid_from, valid_to, created_at, created_by",
            [
                (f"B{p:07d}", f"E{p // PER_EDUCATOR + 1:05d}", since, None, now, "bench")
                for p in range(patients)
            ],
        ),
    }


def fill_sqlite(path: str, patients: int, years: int) -> dict[str, int]:
    c = sqlite3.connect(path)
    c.execute("PRAGMA foreign_keys=OFF")
    for table, (cols, data) in reference_rows(patients).items():
        marks = ",".join("?" * len(cols.split(",")))
        c.executemany(
            f"INSERT INTO {table} ({cols}) VALUES ({marks})",
            [tuple(_sql(v) for v in r) for r in data],
        )
    counts = {"d": 0, "l": 0, "r": 0}
    buf: dict[str, list[tuple[Any, ...]]] = {"d": [], "l": [], "r": []}

    def flush() -> None:
        c.executemany(f"INSERT INTO dispensings ({D_COLS}) VALUES ({','.join('?' * 15)})", buf["d"])
        c.executemany(
            f"INSERT INTO dispensing_lines ({L_COLS}) VALUES ({','.join('?' * 11)})", buf["l"]
        )
        c.executemany(
            "INSERT INTO return_lines (return_id, line_id, quantity, price, subsidy, copayment, cost) VALUES (1, ?, ?, 0, 0, 0, 0)",
            buf["r"],
        )
        for k in buf:
            buf[k].clear()

    for kind, row in rows(patients, years):
        buf[kind].append(tuple(_sql(v) for v in row))
        counts[kind] += 1
        if len(buf["l"]) >= CHUNK:
            flush()
    flush()
    c.commit()
    c.execute("ANALYZE")
    c.close()
    return counts


def _sql(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    return v


def fill_postgres(url: str, patients: int, years: int) -> dict[str, int]:
    import psycopg

    counts = {"d": 0, "l": 0, "r": 0}
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")  # bench data: no FK checks
        with conn.cursor() as cur:
            for table, (cols, data) in reference_rows(patients).items():
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
                    for r in data:
                        cp.write_row(r)
            with (
                cur.copy(f"COPY dispensings ({D_COLS}) FROM STDIN") as cd,
            ):
                for kind, row in rows(patients, years):
                    if kind == "d":
                        cd.write_row(row)
                        counts["d"] += 1
            with cur.copy(f"COPY dispensing_lines ({L_COLS}) FROM STDIN") as cl:
                for kind, row in rows(patients, years):
                    if kind == "l":
                        cl.write_row(row)
                        counts["l"] += 1
            with cur.copy(
                "COPY return_lines (return_id, line_id, quantity, price, subsidy, copayment, cost) FROM STDIN"
            ) as cr:
                for kind, row in rows(patients, years):
                    if kind == "r":
                        cr.write_row((1, row[0], row[1], 0, 0, 0, 0))
                        counts["r"] += 1
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return counts


def measure(url: str, repeat: int, explain: bool) -> None:
    from sqlalchemy import event

    from api.auth import create_user
    from app import create_app
    from care.service import Scope, adherence

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RDF_SEAL_MODE": "inline"})
    db = app.extensions["rdf_db"]
    end = date.today()
    start = end - timedelta(days=364)
    statements: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _count(_c: Any, _cur: Any, stmt: str, *_a: Any) -> None:
        statements.append(stmt)

    times = []
    for i in range(repeat + 2):
        with db.session() as s:
            statements.clear()
            t0 = time.perf_counter()
            out = adherence(s, start, end, Scope(educator="E00001"))
            dt = time.perf_counter() - t0
        if i >= 2:
            times.append(dt * 1000)
    patients = len({r["patient"] for r in out})
    print(
        f"adherence (in process) E00001 {start}..{end}: rows={len(out)} patients={patients} "
        f"statements={len(statements)} median={statistics.median(times):.1f} ms "
        f"p95={sorted(times)[int(len(times) * 0.95) - 1]:.1f} ms max={max(times):.1f} ms"
    )
    with db.session() as s:
        _u, token = create_user(s, f"bench-{os.getpid()}-{time.time_ns()}", "finance")
        s.commit()
    client = app.test_client()
    path = f"/api/v1/care/adherence?educator=E00001&from={start}&to={end}"
    http = []
    for i in range(repeat + 2):
        t0 = time.perf_counter()
        r = client.get(path, headers={"Authorization": f"Bearer {token}"})
        dt = time.perf_counter() - t0
        assert r.status_code == 200, r.get_json()
        if i >= 2:
            http.append(dt * 1000)
    print(
        f"GET {path}: median={statistics.median(http):.1f} ms "
        f"p95={sorted(http)[int(len(http) * 0.95) - 1]:.1f} ms max={max(http):.1f} ms"
    )
    if explain and url.startswith("postgresql"):
        from sqlalchemy import text

        from care.service import _LINES, patients_of_educator
        from care.tables import dispensings

        with db.session() as s:
            who = patients_of_educator(s, "E00001", end)
            stmt = _LINES.where(
                dispensings.c.patient.in_(who),
                dispensings.c.service_date >= start - timedelta(days=365),
                dispensings.c.service_date <= end,
            )
            compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
            plan = s.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars().all()
        print("plan of the line query:")
        for line in plan:
            print("   ", line)
    db.dispose()


def run(backend: str, args: argparse.Namespace) -> None:
    from commands import upgrade

    t0 = time.perf_counter()
    if backend == "sqlite":
        path = args.path or os.path.join(tempfile.mkdtemp(prefix="rdf-care-"), "bench.sqlite3")
        if os.path.exists(path):
            os.remove(path)
        url = f"sqlite:///{path}"
        upgrade(url)
        counts = fill_sqlite(path, args.patients, args.years)
    else:
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{args.db}"')
        url = f"postgresql+psycopg://{PG.split('://', 1)[1]}/{args.db}"
        upgrade(url)
        counts = fill_postgres(f"{PG}/{args.db}", args.patients, args.years)
    built = time.perf_counter() - t0
    two = counts["l"] - counts["d"]
    postings = 9 * counts["d"] + 4 * two
    print(
        f"[{backend}] built in {built:.0f} s: patients={args.patients} dispensings={counts['d']} "
        f"lines={counts['l']} returns={counts['r']} postings-equivalent={postings}"
    )
    measure(url, args.repeat, explain=not args.no_plans)
    if not args.keep:
        if backend == "sqlite":
            os.remove(path)
        else:
            import psycopg

            with psycopg.connect(f"{PG}/postgres", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--years", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--db", default="rdf_bench_care")
    ap.add_argument("--path", default=None, help="SQLite file (default: a temporary one)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-plans", action="store_true")
    args = ap.parse_args()
    print(machine_line())
    print(f"commit: {commit_line()}")
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
        run(backend, args)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"loadavg(after)={load}")


if __name__ == "__main__":
    main()
