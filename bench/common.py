"""Shared by the bench scripts: machine facts, the pgbench limit, a gunicorn under test,
CPU accounting of processes, and latency percentiles."""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


def pg_env(url: str = PG) -> dict[str, str]:
    """libpq environment (psql, pgbench) for a ``postgresql://user@host:port`` URL."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    return {
        "PGHOST": u.hostname or "127.0.0.1",
        "PGUSER": u.username or "postgres",
        "PGPORT": str(u.port or 5432),
        "PGOPTIONS": "-c client_min_messages=warning",
    }


PG_ENV = pg_env()
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def machine_line() -> str:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (
        f'machine: nproc={os.cpu_count()} arch={platform.machine()} cpu="{cpu_model()}" '
        f"loadavg(before)={load} python={platform.python_version()}"
    )


def psql(sql: str, db: str = "postgres") -> str:
    env = {**os.environ, **PG_ENV}
    return subprocess.run(
        ["psql", "-d", db, "-Atqc", sql], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def database_line() -> str:
    v = psql("SHOW server_version")
    fsync = psql("SHOW fsync")
    sc = psql("SHOW synchronous_commit")
    sb = psql("SHOW shared_buffers")
    return f"database: PostgreSQL {v} fsync={fsync} synchronous_commit={sc} shared_buffers={sb}"


def pgbench_tps(clients: int = 16, seconds: int = 30, db: str = "rdf_bench_pgbench") -> float:
    """TPC-B-like tps of this machine now (``pgbench -i -s 10`` then ``-c N -j 2 -T s``)."""
    env = {**os.environ, **PG_ENV}
    psql(f"DROP DATABASE IF EXISTS {db}")
    psql(f"CREATE DATABASE {db}")
    try:
        subprocess.run(
            ["pgbench", "-i", "-s", "10", "-q", db], env=env, check=True, capture_output=True
        )
        out = subprocess.run(
            ["pgbench", "-n", "-c", str(clients), "-j", "2", "-T", str(seconds), db],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        psql(f"DROP DATABASE IF EXISTS {db}")
    m = re.search(r"^tps = ([0-9.]+)", out, re.M)
    return float(m.group(1)) if m else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds."""
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / CLK_TCK


def postgres_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def postgres_cpu(db: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL process serving ``db`` plus the shared helpers (WAL
    writer, checkpointer, background writer…), not the backends of other databases."""
    out: dict[int, float] = {}
    for pid in postgres_pids():
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except FileNotFoundError:
            continue
        # backends read "postgres: 15/main: user db host(port) state"; helpers have no user
        words = title.split()
        is_backend = len(words) >= 4 and words[0] == "postgres:" and "(" in title
        if is_backend and f" {db} " not in f"{title} ":
            continue
        out[pid] = proc_cpu_seconds(pid)
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two ``postgres_cpu`` snapshots (processes born since count whole)."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def rss_mb(pid: int) -> float:
    out = subprocess.run(
        ["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True
    ).stdout.strip()
    return int(out) / 1024 if out else float("nan")


@dataclass
class Server:
    """``gunicorn 'app:create_app()'`` on 127.0.0.1 and a free port, for the bench DB."""

    database_url: str
    workers: int
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path = Path("/tmp/rdf_bench_gunicorn.log")
    #: append to ``log`` instead of starting it afresh (a server restarted in one run)
    append: bool = False

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "RDF_SECRET_KEY": "bench-secret-" + str(os.getpid()),
        }
        gunicorn = shutil.which("gunicorn", path=str(ROOT / ".venv" / "bin")) or "gunicorn"
        self.proc = subprocess.Popen(
            [
                gunicorn,
                "-w",
                str(self.workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--backlog",
                "256",
                "--timeout",
                "900",
                "app:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("ab" if self.append else "wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                if len(self.worker_pids()) >= self.workers:
                    # every worker imports the app lazily on its first request: warm them
                    for _ in range(self.workers * 4):
                        urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz")
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"gunicorn did not start; see {self.log}")

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid) if self.proc else []

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_threads(target: Callable[[int], None], n: int) -> float:
    """Run ``target(i)`` for i in 0..n-1 on n threads at once; the wall seconds they took."""
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[i]


def header(title: str) -> None:
    print(f"== {title}")
    print("date: " + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    print(machine_line())
    print(database_line())
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    sys.stdout.flush()


def sql_chart_and_lots(
    conn: psycopg.Connection[Any], pharmacies: Sequence[str], medicines: Sequence[str], day: date
) -> dict[tuple[str, str], int]:
    """For benches on a scratch database migrated to heads, in SQL (psycopg connection):
    the medicines as commodities, 1300-HEF and each pharmacy's 1200-/1400-/2100- accounts,
    and one lot per (pharmacy, medicine) received on ``day``; the lots' ids."""
    lots: dict[tuple[str, str], int] = {}
    with conn.transaction():
        for m in medicines:
            conn.execute(
                "INSERT INTO commodities (code, kind, exponent, name)"
                " VALUES (%s, 'medicine', 0, %s)",
                (m, m),
            )
        rows: list[tuple[str, str, str, str, str, bool, str | None]] = [
            ("1300-HEF", "1300", "HEF payer", "asset", "money", False, None)
        ]
        for p in pharmacies:
            rows += [
                (f"1200-{p}", "1200", f"Due from {p}", "asset", "money", False, p),
                (f"1400-{p}", "1400", f"Inventory {p}", "asset", "money+units", True, p),
                (f"2100-{p}", "2100", f"Due to {p}", "liability", "money", False, p),
            ]
        for code, parent, name, typ, carries, inv, ph in rows:
            conn.execute(
                "INSERT INTO accounts (code, parent, name, type, carries, is_header,"
                " is_inventory, pharmacy, created_at)"
                " VALUES (%s, %s, %s, %s, %s, false, %s, %s, now())",
                (code, parent, name, typ, carries, inv, ph),
            )
        for p in pharmacies:
            for m in medicines:
                lot = conn.execute(
                    "INSERT INTO lots (commodity, lot_code, expiry_on,"
                    " received_on) VALUES (%s, %s, '2030-12-31', %s)"
                    " RETURNING id",
                    (m, f"L-{p}-{m}", day),
                ).fetchone()
                assert lot is not None
                lots[(p, m)] = int(lot[0])
    return lots
