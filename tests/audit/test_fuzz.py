"""schemathesis, bounded: every operation of the OpenAPI document, as finance and as a
pharmacist (on the operations the policy admits it to), with valid and invalid data: no
5xx, and every answer with a documented status matches its documented schema.

Bounded for the suite (a few examples per operation, about a minute on a shared 2-core
machine); ``bench/fuzz_deep.py`` runs the same with many more.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.audit.conftest import create_pharmacy, create_user_token
from tests.conftest import make_app

# Until requirements.txt pins schemathesis, a fresh venv lacks it: skip, loudly.
pytest.importorskip("schemathesis", reason="schemathesis is not installed (pin it)")
from tests.audit.fuzzing import run_fuzz  # noqa: E402

#: Failures found in other packages' operations and reported to their owners, as
#: "<METHOD> <path> <5xx|schema>" (any caller). Remove an entry when it is fixed: the test
#: then holds the operation to the rule like every other.
KNOWN_FAILURES: dict[str, str] = {
    # contracts: an <int:contract_id> beyond 64 bits reaches SQLite -> OverflowError, 500
    "GET /api/v1/pharmacies/{code}/contracts/{contract_id} 5xx": "contracts",
    "POST /api/v1/pharmacies/{code}/contracts/{contract_id}/suspend 5xx": "contracts",
    "POST /api/v1/pharmacies/{code}/contracts/{contract_id}/resume 5xx": "contracts",
    "POST /api/v1/pharmacies/{code}/contracts/{contract_id}/end 5xx": "contracts",
    # created_at read back from SQLite without its time zone: not an RFC 3339 date-time
    "GET /api/v1/medicines schema": "stock",
    "GET /api/v1/suppliers schema": "stock",
    "GET /api/v1/pharmacies schema": "contracts",
}


@pytest.fixture
def fuzz_app(sqlite_template: Path, tmp_path: Path) -> Iterator[Flask]:
    """A SQLite copy of the migrated schema (chart of accounts, no other data)."""
    path = tmp_path / "fuzz.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = make_app(f"sqlite:///{path}")
    yield app
    app.extensions["rdf_db"].dispose()


def test_fuzzing_every_operation_finds_no_server_error_and_no_schema_violation(
    fuzz_app: Flask,
) -> None:
    finance = create_user_token(fuzz_app, "fuzz-finance", "finance")
    create_pharmacy(fuzz_app, fuzz_app.test_client(), finance, "PFUZZ")
    tokens = {
        "finance": finance,
        "pharmacist": create_user_token(fuzz_app, "fuzz-pharmacist", "pharmacist", "PFUZZ"),
    }
    report = run_fuzz(fuzz_app, tokens, max_examples=3, negative_examples=1, budget_s=240)
    print(
        f"fuzz: {report.operations} operations, {report.requests} requests, "
        f"{report.seconds:.1f} s, statuses {sorted(report.statuses.items())}"
    )
    known = [f for f in report.failures if any(f" {k} " in f for k in KNOWN_FAILURES)]
    for line in known:
        print(f"known (reported): {line}")
    assert report.operations > 40 and report.requests > 2 * report.operations
    assert report.skipped == [], f"{len(report.skipped)} not reached within the budget"
    unexpected = [f for f in report.failures if f not in known]
    assert unexpected == [], "\n".join(unexpected)
