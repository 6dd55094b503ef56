"""Test fixtures: every database test runs on SQLite, and again on PostgreSQL when
``RDF_TEST_POSTGRES_URL`` is set. Each run makes its own databases and drops them.

Speed: the schema is migrated once per run and backend into a template (a SQLite file, a
PostgreSQL template database); each test gets a fresh copy of it.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from commands import upgrade
from tests.support import bearer, make_app

PG_URL = os.environ.get("RDF_TEST_POSTGRES_URL")
REQUIRE_PG = os.environ.get("RDF_TEST_REQUIRE_POSTGRES") == "1"
RUN_ID = uuid.uuid4().hex[:10]

BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


def require_postgres() -> None:
    """Skip where PostgreSQL is not configured; fail where CI requires it. The one place a
    database test may skip (and under CI, ``pytest_configure`` refuses to start without it)."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required here (RDF_TEST_REQUIRE_POSTGRES=1)")
        pytest.skip("PostgreSQL not configured (set RDF_TEST_POSTGRES_URL)")


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_PG and not PG_URL:
        raise pytest.UsageError("RDF_TEST_REQUIRE_POSTGRES=1 but RDF_TEST_POSTGRES_URL is unset")


#: Tests that skipped in this run (collected on the controller, workers included).
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI nothing may skip, whatever asked for the skip (a marker, a plugin, a
    library's ``importorskip``): a skipped test there is a failed run."""
    if REQUIRE_PG and _skipped:
        print(
            f"\n{len(_skipped)} test(s) skipped where nothing may skip "
            f"(RDF_TEST_REQUIRE_POSTGRES=1): " + ", ".join(_skipped[:20])
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _admin_engine() -> Any:
    assert PG_URL
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def _pg_url(name: str, *, fast: bool = False) -> str:
    """The URL of database ``name``; ``fast`` = without waiting for the WAL flush at each
    commit (test databases are thrown away; durability is not what they test)."""
    assert PG_URL
    url = make_url(PG_URL).set(database=name)
    if fast:
        url = url.update_query_dict({"options": "-c synchronous_commit=off"})
    return url.render_as_string(hide_password=False)


#: SQLite test databases live in memory-backed storage when the machine has it.
SHM = Path("/dev/shm")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tmpl") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


class _PgCopies:
    """Fresh copies of the template database, made (and dropped after use) by a background
    thread while tests run: a copy costs ~0.5 s of I/O that the tests' CPU work hides."""

    def __init__(self, template: str, ready: int = 2) -> None:
        self.template = template
        self.ready: queue.Queue[str] = queue.Queue(maxsize=ready)
        self.used: queue.Queue[str] = queue.Queue()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="pg-copies", daemon=True)
        self.thread.start()

    def _drop(self, c: Any, name: str) -> None:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def _run(self) -> None:
        eng = _admin_engine()
        try:
            with eng.connect() as c:
                while not self.stop.is_set():
                    while not self.used.empty():
                        self._drop(c, self.used.get_nowait())
                    if self.ready.full():
                        time.sleep(0.01)
                        continue
                    name = f"rdf_t_{RUN_ID}_{uuid.uuid4().hex[:8]}"
                    c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
                    self.ready.put(name)
                while not self.used.empty():
                    self._drop(c, self.used.get_nowait())
                while not self.ready.empty():
                    self._drop(c, self.ready.get_nowait())
        except BaseException as exc:  # noqa: BLE001 - reported to the test that waits
            self.error = exc
        finally:
            eng.dispose()

    def take(self) -> str:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.error is not None:
                raise RuntimeError(f"cannot copy the test database: {self.error}")
            try:
                return self.ready.get(timeout=0.5)
            except queue.Empty:
                continue
        raise RuntimeError("no copy of the test database within 180 s")

    def give_back(self, name: str) -> None:
        self.used.put(name)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=120)


@pytest.fixture(scope="session")
def pg_template(worker_id: str) -> Iterator[str]:
    require_postgres()
    name = f"rdf_t_{RUN_ID}_{worker_id}_tmpl"
    eng = _admin_engine()
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    upgrade(_pg_url(name))
    yield name
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


@pytest.fixture(scope="session")
def pg_copies(pg_template: str) -> Iterator[_PgCopies]:
    copies = _PgCopies(pg_template)
    yield copies
    copies.close()


@pytest.fixture
def pg_database(pg_copies: _PgCopies) -> Iterator[str]:
    name = pg_copies.take()
    yield _pg_url(name, fast=True)
    pg_copies.give_back(name)


@pytest.fixture
def sqlite_database(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    if SHM.is_dir():
        folder = Path(tempfile.mkdtemp(prefix=f"rdf-t-{RUN_ID}-", dir=SHM))
    else:
        folder = tmp_path
    path = folder / "rdf.sqlite3"
    shutil.copyfile(sqlite_template, path)
    yield f"sqlite:///{path}"
    if folder != tmp_path:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def seeded_templates() -> Iterator[dict[tuple[str, str], tuple[str, Any]]]:
    """Templates seeded once per run and backend (``seeded_copy``): (backend, key) → (the
    SQLite file or PostgreSQL database, what the seeding returned); dropped at the end."""
    made: dict[tuple[str, str], tuple[str, Any]] = {}
    yield made
    names = [where for (backend, _k), (where, _d) in made.items() if backend == "postgres"]
    if names:
        eng = _admin_engine()
        with eng.connect() as c:
            for name in names:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


@contextmanager
def seeded_copy(
    request: pytest.FixtureRequest, url: str, key: str, seed: Callable[[str], Any]
) -> Iterator[tuple[str, Any]]:
    """A fresh database on the backend of ``url``, already holding what ``seed(url)`` writes
    (and what it returned): ``seed`` runs once per run and backend, on a copy of the migrated
    template, and each test gets a copy of that (seeding costs far more than copying)."""
    made: dict[tuple[str, str], tuple[str, Any]] = request.getfixturevalue("seeded_templates")
    backend = "postgres" if url.startswith("postgresql") else "sqlite"
    if (backend, key) not in made:
        if backend == "postgres":
            base: str = request.getfixturevalue("pg_template")
            name = f"{base}_{key}"
            eng = _admin_engine()
            with eng.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{base}"'))
            eng.dispose()
            made[(backend, key)] = (name, seed(_pg_url(name)))
        else:
            path = request.getfixturevalue("sqlite_template").parent / f"{key}.sqlite3"
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
            made[(backend, key)] = (str(path), seed(f"sqlite:///{path}"))
    where, data = made[(backend, key)]
    if backend == "postgres":
        copies: _PgCopies = request.getfixturevalue("pg_copies")
        name = f"rdf_t_{RUN_ID}_{uuid.uuid4().hex[:8]}"
        eng = _admin_engine()
        with eng.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{where}"'))
        eng.dispose()
        try:
            yield _pg_url(name, fast=True), data
        finally:
            copies.give_back(name)  # dropped by the copies' thread
    else:
        folder = Path(
            tempfile.mkdtemp(prefix=f"rdf-t-{RUN_ID}-", dir=SHM if SHM.is_dir() else None)
        )
        copy = folder / "rdf.sqlite3"
        shutil.copyfile(where, copy)
        try:
            yield f"sqlite:///{copy}", data
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_database")
        return url
    url = request.getfixturevalue("sqlite_database")
    return url


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """A fresh PostgreSQL database; the test is skipped where PostgreSQL is not configured
    (never under CI, which sets RDF_TEST_REQUIRE_POSTGRES and fails instead)."""
    require_postgres()
    url: str = request.getfixturevalue("pg_database")
    return url


#: One application per test process, pointed at each test's own database (building the
#: app — OpenAPI spec, blueprints — costs far more than a test's own requests).
_shared_app: dict[str, Flask] = {}


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    from app import attach_database

    application = _shared_app.get("app")
    if application is None:
        application = _shared_app["app"] = make_app(database_url)
    else:
        attach_database(application, database_url)
    yield application
    application.extensions["rdf_db"].dispose()


@pytest.fixture
def pg_app(postgres_url: str) -> Iterator[Flask]:
    application = make_app(postgres_url)
    yield application
    application.extensions["rdf_db"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    """One user and token per role that needs no pharmacy."""
    from api.auth import create_user

    out = {}
    with app.extensions["rdf_db"].session() as s:
        for role in ("admin", "finance", "auditor"):
            _u, token = create_user(s, f"test-{role}", role)
            out[role] = token
        s.commit()
    return out


@pytest.fixture
def finance(tokens: dict[str, str]) -> dict[str, str]:
    """The finance officer's headers."""
    return bearer(tokens["finance"])


@pytest.fixture
def auditor(tokens: dict[str, str]) -> dict[str, str]:
    """The auditor's headers."""
    return bearer(tokens["auditor"])


@pytest.fixture
def fin(finance: dict[str, str]) -> dict[str, str]:
    """``finance`` under the short name of the fx and invoices tests."""
    return finance


@pytest.fixture
def aud(auditor: dict[str, str]) -> dict[str, str]:
    """``auditor`` under the short name of the fx and invoices tests."""
    return auditor
