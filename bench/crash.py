"""Crash trials of the reliability battery: ``kill -9`` of gunicorn during a batch, and
PostgreSQL stopped with ``-m immediate`` mid-load. Prints one line per trial, the checks,
and a summary.

    .venv/bin/python bench/crash.py [--seeds 100] [--first-seed 0] [--size 1000]
        [--pg-stops 20] [--only kill,pg] [--workers 2] [--keep-cluster]

Where it runs: a second cluster of the same PostgreSQL installation, ``15/crash`` on
127.0.0.1:5433 (``--cluster``, ``--port``), made if missing with

    pg_createcluster 15 crash --port 5433 -- --auth=trust

with the settings of ``15/main``'s conf.d copied (port excepted), and started with
``pg_ctlcluster --skip-systemctl-redirect 15 crash start``. Only that cluster is ever
stopped: the script refuses the ``main`` cluster and port 5432, which others use. It is
dropped at the end (``pg_dropcluster --stop 15 crash``) unless ``--keep-cluster``. Needs
root (or the postgres user) for ``pg_ctlcluster``. The fund: ``bench/setup_fund.py``
with ``BENCH_PG=postgresql://postgres@127.0.0.1:5433`` (6 pharmacies, 200 patients),
tokens in /tmp/rdf_crash_fund.json; an auditor is added for ``/audit/verify``.

* kill (``--seeds`` trials): per seed, a batch of ``--size`` records (each with a
  client_ref; odd seeds also send an ``Idempotency-Key`` for the batch) goes to
  ``POST /api/v1/dispensings/batch``; at a random moment within the batch's expected
  duration (the rate observed so far), the gunicorn master and its workers get SIGKILL.
  Then a new gunicorn, and the same batch is sent again until every record answers 201.
* pg (``--pg-stops`` stops): 5 clients post single dispensings (client_ref, or only an
  ``Idempotency-Key``) and batches (client_refs and a batch ``Idempotency-Key``); every
  2-6 s the cluster is stopped with ``-m immediate`` and started again 0.5-2 s later;
  every request that got no answer or a 5xx is sent again, unchanged, until answered.

Checks after every trial (each prints PASS/FAIL with its figures): one dispensing per
client_ref / key, the answers name those dispensings, stock = start - dispensed units
exactly, no partial entry (every entry balanced per commodity; none without postings;
every dispensing has its entry, its lines, lots summing to its lines and stock postings
matching its lines; no dispensing entry without its dispensing), no idempotency claim
left half-done, kept balances = sum of postings, 0 negative lots, GET /audit/verify ok
(as an auditor). Exit status 1 if any check failed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VERSION = "15"


def _parse_cluster() -> tuple[str, int]:
    cluster, port = "crash", 5433
    for i, a in enumerate(sys.argv):
        if a == "--cluster" and i + 1 < len(sys.argv):
            cluster = sys.argv[i + 1]
        if a == "--port" and i + 1 < len(sys.argv):
            port = int(sys.argv[i + 1])
    return cluster, port


CLUSTER, PORT = _parse_cluster()
if CLUSTER == "main" or PORT == 5432:
    raise SystemExit("crash.py stops its cluster: never 15/main or port 5432 (others use it)")
# common.py, setup_fund.py and psql read BENCH_PG: this script's database is its own cluster
os.environ["BENCH_PG"] = f"postgresql://postgres@127.0.0.1:{PORT}"
sys.path.insert(0, str(ROOT / "bench"))

from common import Server, children, header, pg_env, psql  # noqa: E402

FUND_FILE = Path("/tmp/rdf_crash_fund.json")
LOG_DIR = Path("/tmp/rdf_crash")
RESULTS: Counter[tuple[str, bool]] = Counter()
FAILED: list[str] = []


# --------------------------------------------------------------------------- the cluster


def run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def cluster_status() -> str | None:
    """ "online", "down", or None when the cluster does not exist."""
    for line in run(["pg_lsclusters", "-h"]).stdout.splitlines():
        w = line.split()
        if len(w) >= 4 and w[0] == VERSION and w[1] == CLUSTER:
            return w[3]
    return None


def ensure_cluster() -> None:
    if cluster_status() is None:
        print(f"creating cluster {VERSION}/{CLUSTER} on port {PORT}")
        run(["pg_createcluster", VERSION, CLUSTER, "--port", str(PORT), "--", "--auth=trust"])
        # the main cluster's local settings (fsync, autovacuum, listen address), port excepted
        conf = Path(f"/etc/postgresql/{VERSION}/{CLUSTER}/conf.d/90-crash.conf")
        lines = [f"# copied from /etc/postgresql/{VERSION}/main/conf.d by bench/crash.py"]
        for f in sorted(Path(f"/etc/postgresql/{VERSION}/main/conf.d").glob("*.conf")):
            lines += [
                ln
                for ln in f.read_text().splitlines()
                if ln.strip() and not ln.lstrip().startswith(("#", "port"))
            ]
        conf.write_text("\n".join(lines) + "\n")
    if cluster_status() != "online":
        pg_start()


def pg_ctl(action: str, *extra: str) -> float:
    t0 = time.monotonic()
    run(["pg_ctlcluster", "--skip-systemctl-redirect", VERSION, CLUSTER, action, *extra])
    return time.monotonic() - t0


def pg_start() -> float:
    return pg_ctl("start")


def pg_stop_immediate() -> float:
    return pg_ctl("stop", "-m", "immediate")


def drop_cluster() -> None:
    run(["pg_dropcluster", "--stop", VERSION, CLUSTER])
    print(f"dropped cluster {VERSION}/{CLUSTER}")


SETTINGS = (
    "server_version",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_sync_method",
    "shared_buffers",
    "autovacuum",
)


def settings_line(port: int) -> str:
    env = {**os.environ, **pg_env(f"postgresql://postgres@127.0.0.1:{port}")}
    sql = "; ".join(f"SHOW {s}" for s in SETTINGS)
    out = subprocess.run(
        ["psql", "-d", "postgres", "-Atc", sql], env=env, capture_output=True, text=True
    ).stdout.split("\n")
    return " ".join(f"{k}={v}" for k, v in zip(SETTINGS, out, strict=False))


# --------------------------------------------------------------------------- the fund


def make_fund() -> dict[str, Any]:
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "setup_fund.py"),
            "--pharmacies",
            "6",
            "--patients",
            "200",
            "--out",
            str(FUND_FILE),
        ],
        check=True,
        cwd=ROOT,
    )
    fund: dict[str, Any] = json.loads(FUND_FILE.read_text())
    sys.path.insert(0, str(ROOT))
    from api.auth import create_user
    from ledger.db import Database

    db = Database(fund["database_url"])
    with db.session() as s:
        _u, fund["tokens"]["auditor"] = create_user(s, "crash-auditor", "auditor")
        s.commit()
    db.dispose()
    FUND_FILE.write_text(json.dumps(fund, indent=1))
    return fund


# --------------------------------------------------------------------------- HTTP


def post(
    port: int,
    token: str,
    path: str,
    body: Any,
    headers: dict[str, str] | None = None,
    timeout: float = 900,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def get(port: int, token: str, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def kill9(server: Server) -> None:
    """SIGKILL to the gunicorn master and every worker at once."""
    assert server.proc is not None
    pids = [server.proc.pid, *children(server.proc.pid)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.proc.wait()
    for pid in pids[1:]:  # workers: gone (or zombies of init) before the restart
        for _ in range(100):
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError):
                break
            if state == "Z":
                break
            time.sleep(0.05)


# --------------------------------------------------------------------------- the books


def q(sql: str, db: str) -> str:
    return psql(sql, db)


def stock(db: str) -> dict[tuple[str, str], int]:
    """Units of every medicine in every pharmacy's stock account (sum over lots)."""
    out = q(
        "SELECT account_code, commodity, sum(amount) FROM balances "
        "WHERE account_code LIKE '1400-%' AND lot_key <> 0 AND commodity LIKE 'M%' "
        "GROUP BY 1, 2",
        db,
    )
    res: dict[tuple[str, str], int] = {}
    for line in out.splitlines():
        acc, com, amt = line.split("|")
        res[(acc.removeprefix("1400-"), com)] = int(amt)
    return res


def check(name: str, ok: bool, detail: str, verbose: bool = True) -> bool:
    RESULTS[(name, ok)] += 1
    if not ok:
        FAILED.append(name)
    if verbose or not ok:
        print(f"    {'PASS' if ok else 'FAIL'} {name}: {detail}")
    return ok


BOOK_CHECKS: dict[str, str] = {
    "every entry balanced per commodity": "SELECT count(*) FROM (SELECT entry_id FROM postings GROUP BY entry_id, commodity "
    "HAVING sum(amount) <> 0) x",
    "no entry without postings": "SELECT count(*) FROM entries e WHERE NOT EXISTS "
    "(SELECT 1 FROM postings p WHERE p.entry_id = e.id)",
    "every dispensing has its entry": "SELECT count(*) FROM dispensings d WHERE d.entry_id IS NULL OR NOT EXISTS "
    "(SELECT 1 FROM entries e WHERE e.id = d.entry_id "
    "AND e.source = 'dispensing:' || d.id)",
    "no dispensing entry without its dispensing": "SELECT count(*) FROM entries e WHERE e.source LIKE 'dispensing:%' AND NOT EXISTS "
    "(SELECT 1 FROM dispensings d WHERE d.entry_id = e.id)",
    "every dispensing has lines": "SELECT count(*) FROM dispensings d WHERE NOT EXISTS "
    "(SELECT 1 FROM dispensing_lines l WHERE l.dispensing_id = d.id)",
    "lots sum to their line": "SELECT count(*) FROM dispensing_lines l WHERE l.quantity IS DISTINCT FROM "
    "(SELECT sum(x.quantity) FROM dispensing_lots x WHERE x.line_id = l.id)",
    "stock postings match the lines": "SELECT count(*) FROM (SELECT d.id, l.medicine, sum(l.quantity) AS q "
    " FROM dispensings d JOIN dispensing_lines l ON l.dispensing_id = d.id GROUP BY 1, 2) a "
    "FULL JOIN (SELECT d.id, p.commodity AS medicine, -sum(p.amount) AS q "
    " FROM dispensings d JOIN postings p ON p.entry_id = d.entry_id "
    " AND p.account_code = '1400-' || d.pharmacy AND p.commodity <> d.currency "
    " GROUP BY 1, 2) b USING (id, medicine) WHERE a.q IS DISTINCT FROM b.q",
    "no idempotency claim left half-done": "SELECT count(*) FROM idempotency_keys WHERE status_code = 0",
    "kept balances = sum of postings": "SELECT count(*) FROM (SELECT account_code, commodity, coalesce(lot_id, 0) AS lot_key, "
    " sum(amount) AS s FROM postings GROUP BY 1, 2, 3) p FULL JOIN "
    "(SELECT account_code, commodity, lot_key, sum(amount) AS s FROM balances "
    " GROUP BY 1, 2, 3) b USING (account_code, commodity, lot_key) "
    "WHERE coalesce(p.s, 0) <> coalesce(b.s, 0)",
    "0 negative lots": "SELECT count(*) FROM (SELECT account_code, commodity, lot_key FROM balances "
    "WHERE lot_key <> 0 GROUP BY 1, 2, 3 HAVING bool_or(nonneg) AND sum(amount) < 0) x",
}


def book_checks(fund: dict[str, Any], port: int, verbose: bool) -> None:
    db = fund["db"]
    bad = {name: int(q(sql, db) or 0) for name, sql in BOOK_CHECKS.items()}
    for name, n in bad.items():
        check(name, n == 0, f"{n} offending rows", verbose)
    status, body = get(port, fund["tokens"]["auditor"], "/api/v1/audit/verify")
    v = json.loads(body) if status == 200 else {}
    check(
        "/audit/verify ok",
        status == 200 and v.get("ok") is True,
        f"{status} entries_checked={v.get('entries_checked')} unsealed={v.get('unsealed')} "
        f"reason={v.get('reason')}",
        verbose,
    )


def refs_check(db: str, prefix: str, expected: dict[str, str | None], verbose: bool) -> None:
    """Every client_ref of ``expected`` (ref -> id the client was answered) is one dispensing,
    with that id; no other dispensing carries the prefix."""
    rows = q(
        f"SELECT client_ref, count(*), min(id) FROM dispensings "
        f"WHERE client_ref LIKE '{prefix}%' GROUP BY 1",
        db,
    )
    found = {
        r.split("|")[0]: (int(r.split("|")[1]), r.split("|")[2]) for r in rows.splitlines() if r
    }
    dup = sum(1 for n, _ in found.values() if n > 1)
    missing = sum(1 for ref in expected if ref not in found)
    extra = sum(1 for ref in found if ref not in expected)
    wrong = sum(1 for ref, i in expected.items() if ref in found and found[ref][1] != i)
    check(
        "one dispensing per client_ref",
        dup == 0 and missing == 0 and extra == 0,
        f"{len(expected)} refs, {len(found)} in the books, {dup} duplicated, {missing} "
        f"missing, {extra} unknown",
        verbose,
    )
    check(
        "answers name the booked dispensing",
        wrong == 0,
        f"{wrong} answers with another id than the books",
        verbose,
    )


def stock_check(
    before: dict[tuple[str, str], int],
    after: dict[tuple[str, str], int],
    dispensed: Counter[tuple[str, str]],
    verbose: bool,
) -> None:
    off = [
        (k, before.get(k, 0) - dispensed[k], after.get(k, 0))
        for k in set(before) | set(after)
        if before.get(k, 0) - dispensed[k] != after.get(k, 0)
    ]
    total = sum(dispensed.values())
    check(
        "stock = start - dispensed",
        not off,
        f"{total} units dispensed over {len(dispensed)} (pharmacy, medicine); "
        f"{len(off)} differ {off[:3]}",
        verbose,
    )


# --------------------------------------------------------------------------- records


def make_record(
    rng: random.Random, fund: dict[str, Any], pharmacy: str, client_ref: str | None
) -> dict[str, Any]:
    meds = rng.sample(fund["medicines"], rng.randint(1, 3))
    return {
        "pharmacy": pharmacy,
        "patient": rng.choice(fund["patients"]) if rng.random() < 0.5 else None,
        "service_date": fund["service_date"],
        "client_ref": client_ref,
        "items": [{"medicine": m, "quantity": rng.randint(1, 5)} for m in meds],
    }


def units(records: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    c: Counter[tuple[str, str]] = Counter()
    for r in records:
        for i in r["items"]:
            c[(r["pharmacy"], i["medicine"])] += i["quantity"]
    return c


def batch_complete(status: int, payload: bytes, size: int) -> bool:
    if status != 200:
        return False
    results = json.loads(payload)["results"]
    return len(results) == size and all(r["status"] == 201 for r in results)


# --------------------------------------------------------------------------- kill -9


def kill_trials(fund: dict[str, Any], args: argparse.Namespace, run_id: str) -> None:
    header(
        f"kill -9 of gunicorn during a {args.size}-record batch: {args.seeds} seeds "
        f"from {args.first_seed}"
    )
    log = LOG_DIR / "gunicorn-kill.log"
    log.write_bytes(b"")
    # the rate of the batch endpoint now: a batch of a few chunks (up to 300 records), timed
    # (also warms the app); the first (cold) request of a worker is not counted
    server = Server(fund["database_url"], args.workers, log=log, append=True)
    server.start()
    pharmacy = fund["pharmacies"][0]
    token = fund["tokens"]["pharmacists"][pharmacy]
    rng = random.Random(f"{run_id}-warm")
    n_warm = min(args.size, 300)
    post(
        server.port,
        token,
        "/api/v1/dispensings/batch",
        {"dispensings": [make_record(rng, fund, pharmacy, f"{run_id}-cold-{i}") for i in range(2)]},
    )
    warm = [make_record(rng, fund, pharmacy, f"{run_id}-warm-{i}") for i in range(n_warm)]
    t0 = time.monotonic()
    status, payload = post(server.port, token, "/api/v1/dispensings/batch", {"dispensings": warm})
    rates = [len(warm) / (time.monotonic() - t0)]
    server.stop()
    print(
        f"  warm-up: {n_warm} records answered {status} at {rates[0]:.1f} dispensings/s; "
        f"gunicorn -w {args.workers}"
    )
    summary: list[dict[str, Any]] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        summary.append(kill_trial(fund, args, run_id, seed, rates, log))
        sys.stdout.flush()
    mid = [t for t in summary if t["mid"]]
    committed = sorted(t["committed"] for t in summary)
    resends = sorted(t["resends"] for t in summary)
    print(
        f"\n  summary (kill -9): {len(summary)} trials of {args.size} records; kills landed "
        f"mid-batch (0 < committed < size, no answer yet): {len(mid)}"
    )
    if summary:
        print(
            f"  records committed before the kill: min {committed[0]} median "
            f"{statistics.median(committed):.0f} max {committed[-1]}; resends to converge: "
            f"min {resends[0]} median {statistics.median(resends):.0f} max {resends[-1]}; "
            f"kill moments {', '.join(format(t['kill_at'], '.1f') for t in summary)} s"
        )


def kill_trial(
    fund: dict[str, Any],
    args: argparse.Namespace,
    run_id: str,
    seed: int,
    rates: list[float],
    log: Path,
) -> dict[str, Any]:
    db = fund["db"]
    rng = random.Random(seed)
    pharmacy = fund["pharmacies"][seed % len(fund["pharmacies"])]
    token = fund["tokens"]["pharmacists"][pharmacy]
    prefix = f"{run_id}-k{seed}-"
    records = [make_record(rng, fund, pharmacy, f"{prefix}{i}") for i in range(args.size)]
    body = {"dispensings": records}
    hdrs = {"Idempotency-Key": f"{run_id}-batch-{seed}"} if seed % 2 else {}
    before = stock(db)
    server = Server(fund["database_url"], args.workers, log=log, append=True)
    server.start()
    expected_s = args.size / statistics.median(rates)
    kill_at = rng.uniform(0.03, 0.97) * expected_s
    first: list[Any] = []
    done_at: list[float] = []

    def send() -> None:
        try:
            first.append(post(server.port, token, "/api/v1/dispensings/batch", body, hdrs))
        except (OSError, http.client.HTTPException) as exc:
            first.append(exc)
        done_at.append(time.monotonic())

    t = threading.Thread(target=send)
    t0 = time.monotonic()
    t.start()
    t.join(timeout=kill_at)
    answered = not t.is_alive()
    kill9(server)
    t.join()
    # the answer may have arrived between the timed-out wait and the kill: then it was
    # answered too (with a batch Idempotency-Key, the resend replays that whole answer)
    answered = answered or bool(
        first and not isinstance(first[0], Exception) and first[0][0] == 200
    )
    time.sleep(0.5)
    committed = int(q(f"SELECT count(*) FROM dispensings WHERE client_ref LIKE '{prefix}%'", db))
    unsealed = int(
        q(
            "SELECT count(*) FROM entries e"
            " WHERE NOT EXISTS (SELECT 1 FROM entry_seals s WHERE s.entry_id = e.id)",
            db,
        )
    )
    # the rate seen, for the next trial's kill window
    if answered and done_at:
        rates.append(args.size / (done_at[0] - t0))
    elif committed > 0:
        rates.append(committed / kill_at)
    # a new server; the same batch until every record is answered 201
    server = Server(fund["database_url"], args.workers, log=log, append=True)
    server.start()
    resends = 0
    statuses: Counter[int] = Counter()
    t1 = time.monotonic()
    final: dict[str, Any] = {}
    while True:
        resends += 1
        try:
            status, payload = post(server.port, token, "/api/v1/dispensings/batch", body, hdrs)
        except (OSError, http.client.HTTPException):
            status, payload = 0, b""
        statuses[status] += 1
        if batch_complete(status, payload, args.size):
            final = json.loads(payload)
            break
        if resends >= 20:
            print(
                f"    seed {seed}: no complete answer after 20 resends: {status} {payload[:300]!r}"
            )
            break
        time.sleep(1)
    converge_s = time.monotonic() - t1
    results = final.get("results", [])
    answered_ids = {r["client_ref"]: r["dispensing"]["id"] for r in results}
    created, replayed = final.get("created", 0), final.get("replayed", 0)
    first_desc = "none" if not first or isinstance(first[0], Exception) else str(first[0][0])
    mid = not answered and 0 < committed < args.size
    print(
        f"  seed {seed:3d} {pharmacy} batch-key={'yes' if hdrs else 'no '} kill at "
        f"{kill_at:6.1f} s of ~{expected_s:.0f} (first answer: {first_desc}); committed at "
        f"kill {committed:4d}, unsealed {unsealed}; resends {resends} {dict(statuses)}, "
        f"converged in {converge_s:.1f} s ({created} created, {replayed} replayed)"
    )
    verbose = args.verbose
    failed_before = len(FAILED)
    check("complete answer", bool(final), f"{len(results)} results", verbose)
    check(
        "replayed = committed at the kill",
        replayed == committed or answered,
        f"replayed {replayed}, committed {committed}",
        verbose,
    )
    refs_check(
        db, prefix, answered_ids if final else {r["client_ref"]: None for r in records}, verbose
    )
    stock_check(before, stock(db), units(records), verbose)
    book_checks(fund, server.port, verbose)
    server.stop()
    n_failed = len(FAILED) - failed_before
    print(f"    checks: {'all PASS' if n_failed == 0 else f'{n_failed} FAIL'}")
    return {
        "seed": seed,
        "mid": mid,
        "committed": committed,
        "resends": resends,
        "kill_at": kill_at,
        "answered": answered,
    }


# --------------------------------------------------------------------------- pg stop


class Load:
    """Clients that send every request until it is answered (no answer or 5xx: again)."""

    def __init__(self, fund: dict[str, Any], port: int, run_id: str, batch_size: int) -> None:
        self.fund, self.port, self.run_id, self.batch_size = fund, port, run_id, batch_size
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.inflight = 0
        self.answers: list[float] = []  # monotonic time of every final answer
        self.statuses: Counter[str] = Counter()  # every attempt's outcome
        self.finals: Counter[str] = Counter()  # the final answer of every request
        self.retried = 0
        #: batch records answered as replays: committed before a stop cut their batch off
        self.replayed = 0
        self.refs: dict[str, str | None] = {}  # client_ref -> dispensing id answered
        self.keys: dict[str, str | None] = {}  # Idempotency-Key (no client_ref) -> id
        self.dispensed: Counter[tuple[str, str]] = Counter()
        self.unexpected: list[str] = []
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        ph = self.fund["pharmacies"]
        plan: list[tuple[str, str, Callable[..., None]]] = [
            ("single-ref", ph[1], self._single_ref),
            ("single-ref", ph[2], self._single_ref),
            ("single-key", ph[3], self._single_key),
            ("batch+key", ph[4], self._batch),
            ("batch", ph[5], self._batch),
        ]
        for i, (kind, pharmacy, fn) in enumerate(plan):
            t = threading.Thread(target=self._loop, args=(i, kind, pharmacy, fn), daemon=True)
            t.start()
            self.threads.append(t)

    def _loop(self, i: int, kind: str, pharmacy: str, fn: Callable[..., None]) -> None:
        rng = random.Random(f"{self.run_id}-{i}")
        n = 0
        while not self.stop.is_set():
            n += 1
            fn(rng, n, i, kind, pharmacy)

    def _send(
        self, pharmacy: str, path: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        token = self.fund["tokens"]["pharmacists"][pharmacy]
        with self.lock:
            self.inflight += 1
        attempts = 0
        while True:
            attempts += 1
            try:
                status, payload = post(self.port, token, path, body, headers, timeout=120)
                outcome = str(status)
            except (OSError, http.client.HTTPException) as exc:
                status, payload, outcome = 0, b"", f"no answer ({type(exc).__name__})"
            with self.lock:
                self.statuses[outcome] += 1
            if 0 < status < 500 and not (
                path.endswith("batch")
                and status == 200
                and any(
                    r["status"] >= 500 or r["status"] == 409 for r in json.loads(payload)["results"]
                )
            ):
                break
            time.sleep(0.3)
        with self.lock:
            self.inflight -= 1
            self.retried += attempts > 1
            self.answers.append(time.monotonic())
            self.finals[str(status)] += 1
        return status, payload

    def _single_ref(self, rng: random.Random, n: int, i: int, kind: str, pharmacy: str) -> None:
        ref = f"{self.run_id}-c{i}-{n}"
        rec = make_record(rng, self.fund, pharmacy, ref)
        status, payload = self._send(pharmacy, "/api/v1/dispensings", rec, {})
        self._booked(kind, status, payload, [rec], {ref: payload}, self.refs)

    def _single_key(self, rng: random.Random, n: int, i: int, kind: str, pharmacy: str) -> None:
        key = f"{self.run_id}-c{i}-{n}"
        rec = make_record(rng, self.fund, pharmacy, None)
        status, payload = self._send(pharmacy, "/api/v1/dispensings", rec, {"Idempotency-Key": key})
        self._booked(kind, status, payload, [rec], {key: payload}, self.keys)

    def _batch(self, rng: random.Random, n: int, i: int, kind: str, pharmacy: str) -> None:
        recs = [
            make_record(rng, self.fund, pharmacy, f"{self.run_id}-c{i}-{n}-{j}")
            for j in range(self.batch_size)
        ]
        hdrs = {"Idempotency-Key": f"{self.run_id}-c{i}-{n}"} if kind == "batch+key" else {}
        status, payload = self._send(
            pharmacy, "/api/v1/dispensings/batch", {"dispensings": recs}, hdrs
        )
        if status != 200:
            self._booked(kind, status, payload, [], {}, self.refs)
            return
        results = json.loads(payload)["results"]
        with self.lock:
            self.replayed += sum(1 for r in results if r.get("replayed"))
        for rec, r in zip(recs, results, strict=True):
            self._booked(
                kind,
                r["status"],
                json.dumps(r["dispensing"]).encode(),
                [rec],
                {rec["client_ref"]: json.dumps(r["dispensing"]).encode()},
                self.refs,
            )

    def _booked(
        self,
        kind: str,
        status: int,
        payload: bytes,
        recs: list[dict[str, Any]],
        answers: dict[str, bytes],
        into: dict[str, str | None],
    ) -> None:
        with self.lock:
            if status != 201:
                self.unexpected.append(f"{kind}: {status} {payload[:300]!r}")
                return
            for k, p in answers.items():
                into[k] = str(json.loads(p)["id"])
            self.dispensed.update(units(recs))


def pg_trials(fund: dict[str, Any], args: argparse.Namespace, run_id: str) -> None:
    header(
        f"PostgreSQL stopped with -m immediate {args.pg_stops} times mid-load "
        f"(cluster {VERSION}/{CLUSTER})"
    )
    db = fund["db"]
    rng = random.Random(f"{run_id}-pg")
    before = stock(db)
    max_before = int(q("SELECT coalesce(max(id), 0) FROM dispensings", db))
    log = LOG_DIR / "gunicorn-pg.log"
    server = Server(fund["database_url"], args.workers, log=log)
    server.start()
    load = Load(fund, server.port, f"{run_id}-pg", args.pg_batch)
    load.start()
    print(
        f"  5 clients (2 single dispensings with client_ref, 1 with only an Idempotency-Key, "
        f"2 batches of {args.pg_batch}: one with a batch Idempotency-Key); gunicorn "
        f"-w {args.workers}"
    )
    last = 0
    landed = 0
    downs: list[float] = []
    for k in range(1, args.pg_stops + 1):
        time.sleep(rng.uniform(2, 6))
        with load.lock:
            inflight, answered = load.inflight, len(load.answers)
        stop_s = pg_stop_immediate()
        t_down = time.monotonic()
        time.sleep(rng.uniform(0.5, 2.0))
        start_s = pg_start()
        t_up = time.monotonic()
        downs.append(t_up - t_down)
        landed += inflight > 0
        # the first answer after the restart
        deadline = time.monotonic() + 60
        first_after = None
        while time.monotonic() < deadline and first_after is None:
            with load.lock:
                after = [a for a in load.answers if a > t_up]
            first_after = min(after) - t_up if after else None
            if first_after is None:
                time.sleep(0.1)
        after_s = "none within 60" if first_after is None else f"{first_after:.2f}"
        print(
            f"  stop {k:2d}: {inflight} requests in flight, {answered - last} answered since "
            f"the last stop; stop took {stop_s:.2f} s, down {t_up - t_down:.1f} s (start incl. "
            f"recovery {start_s:.2f} s); first answer {after_s} s after",
            flush=True,
        )
        last = answered
    time.sleep(3)
    load.stop.set()
    for t in load.threads:
        t.join(timeout=600)
    still = sum(t.is_alive() for t in load.threads)
    print(
        f"  requests answered: {len(load.answers)} ({load.retried} needed more than one "
        f"send); attempts by outcome {dict(load.statuses)}; final answers {dict(load.finals)}"
    )
    print(
        f"  stops with requests in flight: {landed} of {args.pg_stops}; dispensings "
        f"acknowledged: {len(load.refs)} by client_ref, {len(load.keys)} by Idempotency-Key; "
        f"batch records answered as replays (committed before a stop cut their batch off): "
        f"{load.replayed}"
    )
    unhandled = [
        ln for ln in log.read_text(errors="replace").splitlines() if "unhandled error" in ln
    ]
    verbose = True
    check("clients finished", still == 0, f"{still} still sending", verbose)
    check(
        "every request answered 201/200",
        not load.unexpected,
        f"{len(load.unexpected)} otherwise {load.unexpected[:3]}",
        verbose,
    )
    check(
        "no 500 (only 503 while the database is down)",
        "500" not in load.statuses and not unhandled,
        f"500 answers {load.statuses.get('500', 0)}, unhandled errors in the log "
        f"{len(unhandled)} {unhandled[:2]}",
        verbose,
    )
    refs_check(db, f"{run_id}-pg-", load.refs, verbose)
    # dispensings without client_ref: the Idempotency-Key client's pharmacy only
    key_pharmacy = fund["pharmacies"][3]
    n_keyed = int(
        q(
            f"SELECT count(*) FROM dispensings WHERE id > {max_before} AND "
            f"client_ref IS NULL AND pharmacy = '{key_pharmacy}'",
            db,
        )
    )
    ids = set(load.keys.values())
    booked = set(
        q(
            f"SELECT id FROM dispensings WHERE id > {max_before} AND client_ref IS NULL "
            f"AND pharmacy = '{key_pharmacy}'",
            db,
        ).split()
    )
    check(
        "one dispensing per Idempotency-Key",
        n_keyed == len(load.keys) and ids == booked,
        f"{len(load.keys)} keys, {n_keyed} dispensings without client_ref, "
        f"{len(ids ^ booked)} ids differ",
        verbose,
    )
    stock_check(before, stock(db), load.dispensed, verbose)
    book_checks(fund, server.port, verbose)
    server.stop()
    print(
        f"  down time per stop: min {min(downs):.1f} median {statistics.median(downs):.1f} "
        f"max {max(downs):.1f} s"
    )


# --------------------------------------------------------------------------- main


def code_version() -> str:
    """The commit under test (a snapshot made by ``git archive`` carries it in COMMIT), and
    whether the working tree differs from it."""
    if (ROOT / "COMMIT").exists():
        return (ROOT / "COMMIT").read_text().strip()[:10] + " (snapshot)"
    head = run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=False)
    dirty = run(
        ["git", "-C", str(ROOT), "status", "--short", "--untracked-files=no"], check=False
    ).stdout.split("\n")
    return f"{head.stdout.strip()} ({len([d for d in dirty if d])} files modified)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--pg-stops", type=int, default=20)
    ap.add_argument("--pg-batch", type=int, default=25, help="records per batch in --only pg")
    ap.add_argument("--only", default="kill,pg")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cluster", default="crash")
    ap.add_argument("--port", type=int, default=5433)
    ap.add_argument("--keep-cluster", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="every check of every kill trial")
    args = ap.parse_args()
    LOG_DIR.mkdir(exist_ok=True)
    ensure_cluster()
    print(f"cluster {VERSION}/{CLUSTER} (127.0.0.1:{PORT}): {settings_line(PORT)}")
    print(f"cluster {VERSION}/main (127.0.0.1:5432, not touched): {settings_line(5432)}")
    print(f"code: {ROOT} at {code_version()}")
    fund = make_fund()
    run_id = f"crash{int(time.time())}"
    try:
        wanted = set(args.only.split(","))
        if "kill" in wanted and args.seeds > 0:
            kill_trials(fund, args, run_id)
        if "pg" in wanted and args.pg_stops > 0:
            pg_trials(fund, args, run_id)
    finally:
        if not args.keep_cluster:
            drop_cluster()
    print(
        "\nchecks: "
        + ", ".join(
            f"{name} {'PASS' if ok else 'FAIL'} x{n}" for (name, ok), n in sorted(RESULTS.items())
        )
    )
    print(f"FAILED: {', '.join(sorted(set(FAILED)))}" if FAILED else "all checks passed")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
