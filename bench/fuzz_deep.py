"""Deep schemathesis run: every operation of /api/v1/openapi.json, in process (WSGI),
as finance, a pharmacist and an auditor (each on the operations its role may call: the
auditor alone reaches GET /audit/events), many examples each, valid and invalid data.

    .venv/bin/python bench/fuzz_deep.py [--examples 100] [--negative 30] [--budget 3600]
        [--pg [--keep]] [--database-url URL] [--seed N]
        [--callers finance,pharmacist,auditor] [--match REGEX]

Database: ``--pg`` makes ``rdf_bench_fuzz`` on ``BENCH_PG`` (default
postgresql://postgres@127.0.0.1:5432), migrates it, loads the demo fund, and drops it at
the end (``--keep`` leaves it); ``--database-url`` uses a database as given; default: a
fresh SQLite file with the demo fund.

Prints the machine and database, then per operation and caller the examples sent (valid /
invalid) and the statuses seen, the operations covered, requests sent, and every distinct
failure by kind (a 5xx, or an answer that does not match its documented schema), with the
exact request of every 5xx; exits 1 if any failure.

hypothesis stops early when an operation's input space is exhausted (an operation with no
parameters and no body has one distinct valid example), so "examples" is what was sent,
not what was asked for; the table shows both.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import PG, header  # noqa: E402

FUZZ_DB = "rdf_bench_fuzz"

#: (operation label, caller, mode) of the operation being fuzzed now
_current: list[str] = ["-", "-", "-"]
#: requests and statuses per (operation, caller, mode)
_sent: Counter[tuple[str, str, str]] = Counter()
_statuses: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)
#: every 5xx: the exact request
_server_errors: list[str] = []


class Recorder:
    """WSGI middleware: counts what reaches the app per fuzzed operation and keeps the
    exact request (method, path, query, body) of every answer >= 500."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        label, who, mode = _current

        def recording_start(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            code = int(status.split()[0])
            _sent[(label, who, mode)] += 1
            _statuses[(label, who)][code] += 1
            if code >= 500:
                query = environ.get("QUERY_STRING", "")
                # WSGI hands the path over as latin-1 of its bytes: show the UTF-8 text
                path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
                _server_errors.append(
                    f"{code} as {who} ({label}, {mode}): {environ['REQUEST_METHOD']} "
                    f"{path}{'?' + query if query else ''} "
                    f"content-type={environ.get('CONTENT_TYPE', '')!r} body={body[:2000]!r}"
                )
            return (
                start_response(status, headers, exc_info)
                if exc_info
                else start_response(status, headers)
            )

        return self.app(environ, recording_start)


def make_database(url_base: str) -> str:
    import psycopg

    with psycopg.connect(f"{url_base}/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (FUZZ_DB,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{FUZZ_DB}"')
        conn.execute(f'CREATE DATABASE "{FUZZ_DB}"')
    return url_base.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{FUZZ_DB}"


def drop_database(url_base: str) -> None:
    import psycopg

    with psycopg.connect(f"{url_base}/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (FUZZ_DB,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{FUZZ_DB}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="valid examples per operation")
    parser.add_argument("--negative", type=int, default=30, help="invalid examples per operation")
    parser.add_argument("--budget", type=float, default=3600.0, help="seconds before stopping")
    parser.add_argument("--seed", type=int, default=None, help="fixed seed (default: random)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--pg",
        action="store_true",
        help=f"make {FUZZ_DB} on BENCH_PG ({PG}) and drop it at the end",
    )
    parser.add_argument("--keep", action="store_true", help="with --pg: keep the database")
    parser.add_argument(
        "--callers",
        default="finance,pharmacist,auditor",
        help="roles to fuzz as (each on the operations its role may call)",
    )
    parser.add_argument(
        "--match", default=None, help="only operations whose 'METHOD /path' matches this regex"
    )
    args = parser.parse_args()

    from schemathesis import APIOperation
    from schemathesis.generation import GenerationMode

    import demo
    import testkit.fuzzing as fuzzing
    from commands import upgrade
    from testkit.fund import create_pharmacy, create_user_token, make_app

    if args.pg:
        header(f"schemathesis deep run on PostgreSQL ({FUZZ_DB})")
        url = make_database(PG)
    else:
        url = args.database_url
        if url is None:
            url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'fuzz.sqlite3'}"
        print(f"== schemathesis deep run on {url.split('://')[0]}")
        print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    print(
        f"examples asked per operation and caller: {args.examples} valid, "
        f"{args.negative} invalid; seed {args.seed}; budget {args.budget:.0f} s"
    )
    sys.stdout.flush()
    upgrade(url)
    app = make_app(url)
    try:
        with app.extensions["rdf_db"].session() as s:
            if not demo.has_data(s):
                demo.seed(s)
                s.commit()
        finance = create_user_token(app, "fuzz-deep-finance", "finance")
        create_pharmacy(app, app.test_client(), finance, "PFUZZ")
        every = {
            "finance": finance,
            "pharmacist": create_user_token(app, "fuzz-deep-pharmacist", "pharmacist", "PFUZZ"),
            "auditor": create_user_token(app, "fuzz-deep-auditor", "auditor"),
        }
        tokens = {who: every[who] for who in args.callers.split(",")}
        app.wsgi_app = Recorder(app.wsgi_app)  # type: ignore[method-assign]
        original = fuzzing._fuzz_operation

        def tracked(
            op: APIOperation[Any, Any, Any, Any],
            label: str,
            who: str,
            token: str,
            mode: GenerationMode,
            max_examples: int,
            seed: int | None,
            report: fuzzing.FuzzReport,
            seen: set[str],
        ) -> None:
            if args.match is not None and not re.search(args.match, label):
                return
            _current[:] = [label, who, mode.value]
            started = time.monotonic()
            original(op, label, who, token, mode, max_examples, seed, report, seen)
            if mode.value == "negative":
                done = sum(n for (lb, w, _m), n in _sent.items() if lb == label and w == who)
                print(
                    f"  {who:10s} {label}: {done} requests, "
                    f"{time.monotonic() - started:.1f} s (last mode)",
                    flush=True,
                )

        fuzzing._fuzz_operation = tracked
        report = fuzzing.run_fuzz(
            app,
            tokens,
            max_examples=args.examples,
            negative_examples=args.negative,
            budget_s=args.budget,
            seed=args.seed,
        )
    finally:
        app.extensions["rdf_db"].dispose()
        if args.pg and not args.keep:
            drop_database(PG)

    print("\nper operation and caller: valid / invalid examples sent, statuses")
    ops = sorted({(lb, w) for (lb, w, _m) in _sent if lb != "-"})  # "-": the spec load
    short: list[str] = []
    for label, who in ops:
        pos, neg = _sent[(label, who, "positive")], _sent[(label, who, "negative")]
        st = " ".join(f"{k}:{v}" for k, v in sorted(_statuses[(label, who)].items()))
        print(f"  {who:10s} {label:60s} {pos:4d} / {neg:3d}  {st}")
        if pos < args.examples:
            short.append(f"{who} {label} ({pos})")
    print(
        f"\noperations: {report.operations} in the document; "
        f"{len({lb for lb, _w in ops})} fuzzed; {len(ops)} (operation, caller) pairs"
    )
    print(f"requests:   {report.requests} in {report.seconds:.1f} s")
    print(f"statuses:   {sorted(report.statuses.items())}")
    print(
        f"pairs with fewer than {args.examples} valid examples (input space exhausted "
        f"or the budget): {len(short)}"
    )
    for line in short:
        print(f"  - {line}")
    if report.skipped:
        print(f"not reached within the budget: {len(report.skipped)} (caller, operation, mode)")
        for line in report.skipped:
            print(f"  - {line}")
    kinds = Counter(line.split(" [", 1)[0].rsplit(" ", 1)[1] for line in report.failures)
    print(f"failures:   {len(report.failures)} {dict(kinds)}")
    for line in report.failures:
        print(f"  - {line}")
    print(f"server errors (5xx answers): {len(_server_errors)}")
    for line in _server_errors[:50]:
        print(f"  - {line}")
    if args.pg:
        print("database: " + ("kept" if args.keep else "dropped") + f" {FUZZ_DB}")
    return 1 if report.failures or _server_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
