"""Deep schemathesis run: every operation of /api/v1/openapi.json, in process (WSGI),
as finance and as a pharmacist, many examples each, valid and invalid data.

    .venv/bin/python bench/fuzz_deep.py [--examples 100] [--negative 30] [--budget 1800]
        [--database-url URL]   (default: a fresh SQLite file with the demo fund)

Prints the operations covered, requests sent, statuses seen, and every distinct failure
(a 5xx, or an answer that does not match its documented schema); exits 1 if any.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="valid examples per operation")
    parser.add_argument("--negative", type=int, default=30, help="invalid examples per operation")
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds before stopping")
    parser.add_argument("--seed", type=int, default=None, help="fixed seed (default: random)")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    import demo
    from ledger.cli import upgrade
    from tests.audit.conftest import create_pharmacy, create_user_token
    from tests.audit.fuzzing import run_fuzz
    from tests.conftest import make_app

    url = args.database_url
    if url is None:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'fuzz.sqlite3'}"
    upgrade(url)
    app = make_app(url)
    with app.extensions["rdf_db"].session() as s:
        if not demo.has_data(s):
            demo.seed(s)
            s.commit()
    finance = create_user_token(app, "fuzz-deep-finance", "finance")
    create_pharmacy(app, app.test_client(), finance, "PFUZZ")
    tokens = {
        "finance": finance,
        "pharmacist": create_user_token(app, "fuzz-deep-pharmacist", "pharmacist", "PFUZZ"),
    }
    report = run_fuzz(
        app,
        tokens,
        max_examples=args.examples,
        negative_examples=args.negative,
        budget_s=args.budget,
        seed=args.seed,
    )
    print(f"operations: {report.operations}")
    print(f"requests:   {report.requests} in {report.seconds:.1f} s")
    print(f"statuses:   {sorted(report.statuses.items())}")
    if report.skipped:
        print(f"not reached within the budget: {len(report.skipped)} (caller, operation, mode)")
    print(f"failures:   {len(report.failures)}")
    for line in report.failures:
        print(f"  - {line}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
