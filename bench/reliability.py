"""The reliability battery, against gunicorn on PostgreSQL: contention on one lot, an
idempotency storm, and a month closing while clients post. Prints what it measured.

    .venv/bin/python bench/setup_fund.py                  # once: the fund and its tokens
    .venv/bin/python bench/reliability.py [--only contention,storm,close] [--seconds 60]
        [--clients 32] [--posts 10000] [--workers 2] [--fund /tmp/rdf_bench_fund.json]

* contention: ``--clients`` clients dispense 1 unit of the first medicine at the first
  pharmacy (one lot) for ``--seconds``; then: 0 responses 5xx, the lot's final units are the
  start less the acknowledged dispensings exactly, no lot negative, the trial balance balances.
* storm: ``--posts`` dispensings, of which half replay one of 1,024 earlier client_refs
  (byte-identical answers expected) and one in ten replays alter the body (409 expected);
  then exactly one dispensing per client_ref in the database.
* close: 16 clients post manual entries dated in last month while finance closes last month;
  then every acknowledged entry is booked either in last month or on the first day of this
  month, and last month's trial balance is the same before and after the posting stops.

Each check prints PASS or FAIL with its figures; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Server, header, psql, run_threads  # noqa: E402

FAILED: list[str] = []


def check(name: str, ok: bool, detail: str) -> None:
    print(f"  {'PASS' if ok else 'FAIL'} {name}: {detail}")
    if not ok:
        FAILED.append(name)


class Client:
    """One keep-alive connection (reopened when the server closes it)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body)
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self.conn.request(method, path, body=data, headers=self.headers)
                r = self.conn.getresponse()
                payload = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, payload
            except (ConnectionError, http.client.HTTPException, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def lot_units(db: str, account: str, medicine: str) -> list[int]:
    out = psql(
        f"SELECT sum(amount) FROM balances WHERE account_code = '{account}' "
        f"AND commodity = '{medicine}' AND lot_key <> 0 GROUP BY lot_key",
        db,
    )
    return [int(x) for x in out.split()]


def negative_lots(db: str) -> int:
    return int(psql("SELECT count(*) FROM balances WHERE nonneg AND amount < 0", db) or 0)


def contention(fund: dict[str, Any], port: int, clients: int, seconds: float) -> None:
    header(f"contention: {clients} clients on one lot for {seconds:.0f} s")
    db, pharmacy, medicine = fund["db"], fund["pharmacies"][0], fund["medicines"][0]
    start_units = sum(lot_units(db, f"1400-{pharmacy}", medicine))
    token = fund["tokens"]["pharmacists"][pharmacy]
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop_at = time.time() + seconds

    def run(i: int) -> None:
        c = Client(port, token)
        n = 0
        while time.time() < stop_at:
            n += 1
            status, _ = c.request(
                "POST",
                "/api/v1/dispensings",
                {
                    "pharmacy": pharmacy,
                    "patient": None,
                    "service_date": fund["service_date"],
                    "client_ref": f"cont-{i}-{n}-{time.time_ns()}",
                    "items": [{"medicine": medicine, "quantity": 1}],
                },
            )
            with lock:
                statuses[status] += 1

    elapsed = run_threads(run, clients)
    end_units = sum(lot_units(db, f"1400-{pharmacy}", medicine))
    ok = statuses[201]
    print(
        f"  {sum(statuses.values())} requests in {elapsed:.1f} s "
        f"({ok / elapsed:.1f} dispensings/s), statuses {dict(statuses)}"
    )
    check("no 5xx", not any(s >= 500 for s in statuses), str(dict(statuses)))
    check(
        "stock = start - acknowledged",
        end_units == start_units - ok,
        f"{start_units} - {ok} = {start_units - ok}, books say {end_units}",
    )
    check("no negative lot", negative_lots(db) == 0, f"{negative_lots(db)} negative")
    unbalanced = psql(
        "SELECT count(*) FROM (SELECT entry_id FROM postings GROUP BY entry_id, "
        "commodity HAVING sum(amount) <> 0) x",
        db,
    )
    check("0 unbalanced entries", unbalanced == "0", f"{unbalanced} unbalanced")


def storm(fund: dict[str, Any], port: int, posts: int, clients: int) -> None:
    header(f"idempotency storm: {posts} posts, half replays of 1,024 keys")
    rng = random.Random(20261123)
    db = fund["db"]
    pharmacy = fund["pharmacies"][1 % len(fund["pharmacies"])]
    token = fund["tokens"]["pharmacists"][pharmacy]
    run_id = f"storm-{int(time.time())}"

    def body(key: int, altered: bool = False) -> dict[str, Any]:
        return {
            "pharmacy": pharmacy,
            "patient": None,
            "service_date": fund["service_date"],
            "client_ref": f"{run_id}-{key}",
            "items": [
                {
                    "medicine": fund["medicines"][key % len(fund["medicines"])],
                    "quantity": 2 if altered else 1,
                }
            ],
        }

    plan: list[tuple[int, bool]] = [(k, False) for k in range(1024)]
    while len(plan) < posts:
        if rng.random() < 0.5:
            plan.append((rng.randrange(1024), rng.random() < 0.1))  # a replay, maybe altered
        else:
            plan.append((1024 + len(plan), False))
    first: dict[int, bytes] = {}
    results: list[tuple[int, bool, int, bytes]] = []
    lock = threading.Lock()
    cursor = iter(range(len(plan)))
    # The first 1,024 go first so that every replay has an original to replay.
    seed_done = threading.Event()

    def run() -> None:
        c = Client(port, token)
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                return
            if i >= 1024:
                seed_done.wait()
            key, altered = plan[i]
            status, payload = c.request("POST", "/api/v1/dispensings", body(key, altered))
            with lock:
                results.append((key, altered, status, payload))
                if key < 1024 and not altered and status == 201 and key not in first:
                    first[key] = payload
                if len(first) == 1024:
                    seed_done.set()

    elapsed = run_threads(lambda _i: run(), clients)
    statuses = Counter(s for _, _, s, _ in results)
    print(f"  {len(results)} posts in {elapsed:.1f} s, statuses {dict(statuses)}")
    replays = [(k, p) for k, a, s, p in results if k < 1024 and not a]
    identical = sum(1 for k, p in replays if p == first.get(k))
    check(
        "replays byte-identical",
        identical == len(replays),
        f"{identical} of {len(replays)} identical to the first answer",
    )
    altered = [s for k, a, s, _ in results if a]
    check(
        "altered bodies 409",
        all(s == 409 for s in altered),
        f"{Counter(altered)} over {len(altered)} altered replays",
    )
    keys = len({k for k, _ in plan})
    rows = psql(
        f"SELECT count(*), count(DISTINCT client_ref) FROM dispensings "
        f"WHERE client_ref LIKE '{run_id}-%'",
        db,
    ).split("|")
    check(
        "one dispensing per key",
        rows == [str(keys), str(keys)],
        f"{keys} keys, dispensings {rows[0]}, distinct refs {rows[1]}",
    )
    check("no 5xx", not any(s >= 500 for s in statuses), str(dict(statuses)))


def close_race(fund: dict[str, Any], port: int, seconds: float) -> None:
    header("period-close race: 16 clients posting while last month closes")
    db = fund["db"]
    today = date.today()
    this_month = today.replace(day=1)
    last_end = this_month - timedelta(days=1)
    period = f"{last_end.year:04d}-{last_end.month:02d}"
    finance = fund["tokens"]["finance"]
    status = psql(f"SELECT status FROM periods WHERE period = '{period}'", db)
    if status == "closed":
        print(f"  {period} is closed already in this fund: run setup_fund.py again")
        FAILED.append("close race (not run)")
        return
    acknowledged: list[dict[str, Any]] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def run(i: int) -> None:
        c = Client(port, finance)
        n = 0
        while not stop.is_set():
            n += 1
            s, payload = c.request(
                "POST",
                "/api/v1/journal-entries",
                {
                    "date": last_end.replace(day=15).isoformat(),
                    "memo": f"race {i}-{n}",
                    "postings": [
                        {"account": "1010", "commodity": "KHR", "amount": "100"},
                        {"account": "3000", "commodity": "KHR", "amount": "-100"},
                    ],
                },
            )
            with lock:
                statuses[s] += 1
                if s == 201:
                    acknowledged.append(json.loads(payload))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    started = time.time()
    time.sleep(seconds / 2)
    closer = Client(port, finance)
    s, payload = closer.request(
        "POST", f"/api/v1/periods/{period}/close", {"force": True, "reason": "bench: close race"}
    )
    closed_at = time.time()
    _, tb_at_close = closer.request("GET", f"/api/v1/reports/trial-balance?as_of={last_end}")
    time.sleep(seconds / 2)
    stop.set()
    for t in threads:
        t.join()
    _, tb_after = closer.request("GET", f"/api/v1/reports/trial-balance?as_of={last_end}")
    print(f"  close answered {s} {closed_at - started:.1f} s in; posts {dict(statuses)}")
    check("month closed", s == 200, payload.decode()[:200])
    dates = Counter(e["accounting_date"] for e in acknowledged)
    good = all(d.startswith(period) or d == this_month.isoformat() for d in dates)
    check("each entry before the close or in the next month", good, str(dict(dates)))
    check(
        "closed month's trial balance unchanged",
        tb_at_close == tb_after,
        "identical" if tb_at_close == tb_after else "CHANGED",
    )
    check("no 5xx", not any(x >= 500 for x in statuses), str(dict(statuses)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fund", default="/tmp/rdf_bench_fund.json")
    ap.add_argument("--only", default="contention,storm,close")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--posts", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    fund = json.loads(Path(args.fund).read_text())
    server = Server(fund["database_url"], args.workers)
    server.start()
    try:
        wanted = set(args.only.split(","))
        if "contention" in wanted:
            contention(fund, server.port, args.clients, args.seconds)
        if "storm" in wanted:
            storm(fund, server.port, args.posts, 16)
        if "close" in wanted:
            close_race(fund, server.port, min(args.seconds, 30))
    finally:
        server.stop()
    print("\nFAILED: " + ", ".join(FAILED) if FAILED else "\nall checks passed")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
