"""POST /dispensings under load, next to pgbench's TPC-B rate measured in the same run.

    .venv/bin/python bench/setup_fund.py                  # once: the fund and its tokens
    .venv/bin/python bench/dispense_load.py [--workers 2,3,4] [--clients 16] [--seconds 30]
        [--pgbench-seconds 30] [--client python|wrk] [--fund /tmp/rdf_bench_fund.json]

For each worker count it starts ``gunicorn -w N 'app:create_app()'`` on 127.0.0.1 (a free
port, DATABASE_URL of the bench fund, RDF_SECRET_KEY set), drives ``POST /dispensings``
with ``--clients`` concurrent clients for ``--seconds`` (each request: a random pharmacy
of the fund with its pharmacist's token, a random patient — half are HEF members — 1 to 3
random medicines, 1 to 30 units each, a fresh ``client_ref``), then prints throughput,
p50/p95/p99 latency, status counts, the ratio to pgbench, each worker's RSS after the load
(ps), and where the two cores' time went (load generator, gunicorn workers, PostgreSQL,
everything else on the machine) read from /proc.

The python client is threads with ``http.client`` keep-alive connections (gunicorn's sync
workers close after each answer, so the connection is reopened): it runs on the same two
cores and its own CPU is reported. ``--client wrk`` uses wrk (apt) with a Lua script,
which costs far less CPU; the figures of both are printed when asked for.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    Server,
    cpu_delta,
    header,
    percentile,
    pgbench_tps,
    postgres_cpu,
    proc_cpu_seconds,
    rss_mb,
    run_threads,
)


def total_busy_seconds() -> float:
    """CPU time spent by the whole machine (all cores, not idle/iowait), in seconds."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = parts[:8]
    from common import CLK_TCK

    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def make_body(fund: dict[str, Any], rng: random.Random) -> tuple[str, dict[str, Any]]:
    pharmacy = rng.choice(fund["pharmacies"])
    meds = rng.sample(fund["medicines"], rng.randint(1, 3))
    return pharmacy, {
        "pharmacy": pharmacy,
        "patient": rng.choice(fund["patients"]),
        "service_date": fund["service_date"],
        "client_ref": uuid.uuid4().hex,
        "items": [{"medicine": m, "quantity": rng.randint(1, 30)} for m in meds],
    }


def python_load(fund: dict[str, Any], port: int, clients: int, seconds: float) -> dict[str, Any]:
    stop_at = time.perf_counter() + seconds
    results: list[tuple[float, int]] = []
    errors: list[str] = []
    lock = threading.Lock()
    tokens = fund["tokens"]["pharmacists"]

    def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[tuple[float, int]] = []
        while time.perf_counter() < stop_at:
            pharmacy, body = make_body(fund, rng)
            data = json.dumps(body)
            t0 = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    "/api/v1/dispensings",
                    data,
                    {
                        "Content-Type": "application/json",
                        "Authorization": f"Bearer {tokens[pharmacy]}",
                    },
                )
                r = conn.getresponse()
                payload = r.read()
                status = r.status
                if r.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status, payload = 0, repr(exc).encode()
            mine.append((time.perf_counter() - t0, status))
            if status != 201 and len(errors) < 5:
                with lock:
                    errors.append(f"{status} {payload[:300]!r}")
        with lock:
            results.extend(mine)

    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    wall = run_threads(client, clients)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    lat = sorted(x[0] * 1000 for x in results)
    return {
        "wall": wall,
        "count": len(results),
        "latencies_ms": lat,
        "status": Counter(x[1] for x in results),
        "errors": errors,
        "client_cpu": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
    }


WRK_LUA = r"""
local fund = {}
local counter = 0
statuses = {}
local pharmacies = {%(pharmacies)s}
local tokens = {%(tokens)s}
local medicines = {%(medicines)s}
local patients_n = %(patients_n)d
local service_date = "%(service_date)s"
local tid = 0
init = function(args) math.randomseed(id * 7919 + os.time()) end
request = function()
  counter = counter + 1
  local i = math.random(#pharmacies)
  local p = pharmacies[i]
  local n = math.random(3)
  local items = {}
  local used = {}
  while #items < n do
    local m = medicines[math.random(#medicines)]
    if not used[m] then
      used[m] = true
      items[#items + 1] = string.format('{"medicine":"%%s","quantity":%%d}', m, math.random(30))
    end
  end
  local body = string.format(
    '{"pharmacy":"%%s","patient":"M-%%05d","service_date":"%%s","client_ref":"w%%d-%%d-%%d","items":[%%s]}',
    p, math.random(patients_n) - 1, service_date, id, counter, math.random(1000000000),
    table.concat(items, ","))
  return wrk.format("POST", "/api/v1/dispensings",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[i]}, body)
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
local threads = {}
setup = function(thread) tid = tid + 1; thread:set("id", tid); table.insert(threads, thread) end
done = function(summary, latency, requests)
  local agg = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do agg[k] = (agg[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(agg) do parts[#parts + 1] = string.format('"%%d":%%d', k, v) end
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"p50":%%d,"p95":%%d,"p99":%%d,"max":%%d,' ..
    '"errors_connect":%%d,"errors_read":%%d,"errors_timeout":%%d,"status":{%%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, summary.errors.connect, summary.errors.read,
    summary.errors.timeout, table.concat(parts, ",")))
end
"""


def wrk_load(fund: dict[str, Any], port: int, clients: int, seconds: float) -> dict[str, Any]:
    q = lambda xs: ",".join(f'"{x}"' for x in xs)  # noqa: E731
    lua = WRK_LUA % {
        "pharmacies": q(fund["pharmacies"]),
        "tokens": q(fund["tokens"]["pharmacists"][p] for p in fund["pharmacies"]),
        "medicines": q(fund["medicines"]),
        "patients_n": len(fund["patients"]),
        "service_date": fund["service_date"],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    # statuses is a global per thread state: expose it to done() through thread:get
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(clients),
            "-d",
            f"{int(seconds)}s",
            "--timeout",
            "30s",
            "-s",
            f.name,
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    m = re.search(r"^WRKJSON (.*)$", proc.stdout, re.M)
    if not m:
        raise SystemExit(f"wrk failed: {proc.stdout}\n{proc.stderr}")
    d = json.loads(m.group(1))
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall": d["duration_us"] / 1e6,
        "count": d["requests"],
        "wrk": d,
        "status": Counter({int(k): v for k, v in d["status"].items()}),
        "errors": []
        if d["errors_connect"] + d["errors_read"] + d["errors_timeout"] == 0
        else [f"socket errors: {d}"],
        "client_cpu": ru.ru_utime + ru.ru_stime,
        "wall_total": wall,
    }


def wrk_healthz(port: int, clients: int, seconds: float) -> float:
    """``GET /healthz`` with wrk on the same server: the app's own floor, requests/s."""
    proc = subprocess.run(
        ["wrk", "-t", "2", "-c", str(clients), "-d", f"{int(seconds)}s"]
        + [f"http://127.0.0.1:{port}/healthz"],
        capture_output=True,
        text=True,
    )
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", proc.stdout, re.M)
    if not m or "Non-2xx" in proc.stdout:
        raise SystemExit(f"wrk /healthz failed: {proc.stdout}\n{proc.stderr}")
    return float(m.group(1))


def run_once(
    fund: dict[str, Any],
    workers: int,
    clients: int,
    seconds: float,
    kind: str,
    healthz: bool = False,
    warmup: float = 0,
) -> dict[str, Any]:
    server = Server(fund["database_url"], workers)
    server.start()
    try:
        if warmup:  # the same load, not measured: each worker's caches filled first
            (python_load if kind == "python" else wrk_load)(fund, server.port, clients, warmup)
        wpids = server.worker_pids()
        db = fund["db"]
        w0 = sum(proc_cpu_seconds(p) for p in wpids)
        p0 = postgres_cpu(db)
        b0 = total_busy_seconds()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res = (python_load if kind == "python" else wrk_load)(fund, server.port, clients, seconds)
        if kind == "wrk":
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            res["client_cpu"] = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        b1 = total_busy_seconds()
        res["workers_cpu"] = sum(proc_cpu_seconds(p) for p in wpids) - w0
        res["postgres_cpu"] = cpu_delta(p0, postgres_cpu(db))
        res["busy_cpu"] = b1 - b0
        res["rss_mb"] = [round(rss_mb(p), 1) for p in wpids]
        if healthz:
            res["healthz"] = wrk_healthz(server.port, clients, seconds)
    finally:
        server.stop()
    return res


def report(workers: int, kind: str, clients: int, res: dict[str, Any], tps: float | None) -> float:
    n, wall = res["count"], res["wall"]
    rate: float = n / wall
    if "latencies_ms" in res:
        lat = res["latencies_ms"]
        p50, p95, p99, mx = (
            percentile(lat, 50),
            percentile(lat, 95),
            percentile(lat, 99),
            lat[-1] if lat else float("nan"),
        )
    else:
        w = res["wrk"]
        p50, p95, p99, mx = w["p50"] / 1000, w["p95"] / 1000, w["p99"] / 1000, w["max"] / 1000
    ok = res["status"].get(201, 0)
    print(
        f"workers={workers} client={kind} clients={clients} duration={wall:.1f}s "
        f"requests={n} throughput={rate:.1f}/s (201 only: {ok / wall:.1f}/s)"
    )
    print(f"  latency ms: p50={p50:.1f} p95={p95:.1f} p99={p99:.1f} max={mx:.1f}")
    print(
        f"  status: {dict(sorted(res['status'].items()))}"
        + ("  ALL 201" if ok == n else "  NOT ALL 201")
    )
    for e in res["errors"][:3]:
        print(f"  e.g. {e}")
    if tps:
        print(f"  ratio to pgbench TPC-B (16 clients, same run, {tps:.0f} tps): {rate / tps:.3f}")
    cores = 2 * wall
    other = res["busy_cpu"] - res["client_cpu"] - res["workers_cpu"] - res["postgres_cpu"]
    print(
        f"  CPU seconds over {wall:.1f}s x 2 cores = {cores:.0f}: load generator "
        f"{res['client_cpu']:.1f} ({res['client_cpu'] / cores:.0%}), gunicorn workers "
        f"{res['workers_cpu']:.1f} ({res['workers_cpu'] / cores:.0%}), PostgreSQL (this DB) "
        f"{res['postgres_cpu']:.1f} ({res['postgres_cpu'] / cores:.0%}), rest of the machine "
        f"{other:.1f} ({other / cores:.0%})"
    )
    if n:
        print(
            f"  per request: workers {1000 * res['workers_cpu'] / n:.2f} ms CPU, PostgreSQL "
            f"{1000 * res['postgres_cpu'] / n:.2f} ms CPU, load generator "
            f"{1000 * res['client_cpu'] / n:.2f} ms CPU"
        )
    print(f"  worker RSS after the load (MB): {res['rss_mb']}  max={max(res['rss_mb'])}")
    if "healthz" in res:
        print(
            f"  GET /healthz on the same workers, wrk, {clients} connections, right after: "
            f"{res['healthz']:.1f}/s; ratio of POST /dispensings to it: "
            f"{rate / res['healthz']:.3f} (target >= 0.3)"
        )
    sys.stdout.flush()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fund", default="/tmp/rdf_bench_fund.json")
    ap.add_argument("--workers", default="2,3,4")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--pgbench-seconds", type=int, default=30)
    ap.add_argument("--client", default="python", help="python, wrk or python,wrk")
    ap.add_argument(
        "--healthz", action="store_true", help="then GET /healthz with wrk on the same workers"
    )
    ap.add_argument(
        "--warmup",
        type=float,
        default=0,
        help="seconds of the same load before the measured run (caches of each worker filled)",
    )
    args = ap.parse_args()
    fund = json.loads(Path(args.fund).read_text())
    header("POST /dispensings under load")
    print(
        f"fund: {fund['db']} lots={fund['lots']} pharmacies={len(fund['pharmacies'])} "
        f"medicines={len(fund['medicines'])} patients={len(fund['patients'])}"
    )
    tps = None
    if args.pgbench_seconds:
        tps = pgbench_tps(16, args.pgbench_seconds)
        print(f"pgbench TPC-B-like, -s 10 -c 16 -j 2 -T {args.pgbench_seconds}: {tps:.1f} tps")
    best: tuple[float, int, str] | None = None
    for kind in args.client.split(","):
        for w in (int(x) for x in args.workers.split(",")):
            res = run_once(fund, w, args.clients, args.seconds, kind, args.healthz, args.warmup)
            rate = report(w, kind, args.clients, res, tps)
            if best is None or rate > best[0]:
                best = (rate, w, kind)
    if best:
        print(
            f"best: {best[0]:.1f}/s with {best[1]} workers ({best[2]} client)"
            + (f", ratio to pgbench {best[0] / tps:.3f}" if tps else "")
            + "; targets: >= 400/s, p99 <= 100 ms, RSS <= 150 MB"
        )


if __name__ == "__main__":
    main()
