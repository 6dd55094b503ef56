"""CPU of one sealing run by the number of entries it seals: the thread CPU of one
``ledger.sealing.seal_pending`` call, after posting that many dispensings with the app's
background sealer stopped (so they wait for it and nothing else seals them).

    .venv/bin/python bench/seal_run_cost.py [--fund /tmp/rdf_bench_fund.json]
        [--sizes 1,5,20,50] [--rounds 5]

Run from the repository root. In-process (Flask test client), on the fund of
bench/setup_fund.py; the dispensings it posts stay in that fund. Sizes alternate order
round by round; prints, per size, the median CPU ms of a run, per entry, and every run.
Each run must seal exactly the entries just posted: do not run it while something else
writes to the same fund.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import header  # noqa: E402
from dispense_load import make_body  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fund", default="/tmp/rdf_bench_fund.json")
    ap.add_argument("--sizes", default="1,5,20,50", help="entries per sealing run")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    fund = json.loads(Path(args.fund).read_text())
    sizes = [int(k) for k in args.sizes.split(",")]
    header("CPU of one sealing run by entries sealed")
    import ledger.sealing as sealing
    from app import create_app

    app = create_app({"DATABASE_URL": fund["database_url"], "SECRET_KEY": "bench-seal-run",
                      "RDF_SEAL_MODE": "background"})
    app.extensions["rdf_after_commit"].stop()  # a stopped sealer: nothing seals but this script
    client = app.test_client()
    rng = random.Random(5)
    toks = fund["tokens"]["pharmacists"]

    def post(k: int) -> None:
        for _ in range(k):
            p, body = make_body(fund, rng)
            r = client.post("/api/v1/dispensings", json=body,
                            headers={"Authorization": f"Bearer {toks[p]}"})
            assert r.status_code == 201, r.get_data(True)

    factory = app.extensions["rdf_db"].sessionmaker
    for _ in range(2):  # warm
        post(2)
        sealing.seal_pending(factory)
    got: dict[int, list[float]] = {k: [] for k in sizes}
    for rep in range(args.rounds):
        for k in (sizes if rep % 2 == 0 else sizes[::-1]):
            post(k)
            t0 = time.thread_time()
            n = sealing.seal_pending(factory)
            dt = time.thread_time() - t0
            assert n == k, (n, k)
            got[k].append(dt * 1000)
    for k in sizes:
        m = statistics.median(got[k])
        print(f"run sealing {k:>2} entries: median {m:5.1f} ms CPU ({m / k:5.2f} ms per entry)  "
              f"runs: {' '.join(f'{v:.1f}' for v in got[k])}")


if __name__ == "__main__":
    main()
