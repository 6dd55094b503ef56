"""The background sealer (``RDF_SEAL_MODE=background``, the production default).

What it promises: a write only wakes the sealer (no SQL, no wait on the request); an entry
is sealed within about one interval of its commit without any further request; the
sealer runs at most once per interval whatever the number of writes; verify, a month
close, a document and ``Sealer.flush`` still seal synchronously, so nothing committed
before them is unsealed; a failing or blocked sealer never fails a write; the thread is a
daemon that stops when asked (and when its database is replaced), holds no connection
while idle, and is started again in a forked child.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import event, select, text

import ledger.sealing
from ledger.sealing import Sealer
from ledger.tables import Entry, EntrySeal
from tests.audit.conftest import post_capital, tamper
from tests.support import bearer

#: How long a test waits for the background thread before failing (a shared, noisy
#: machine: far above the intervals used here).
PATIENCE_S = 20.0


def wait_until(cond: Callable[[], bool], timeout: float = PATIENCE_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def seal_of(app: Flask, entry_id: str | int) -> str | None:
    with app.extensions["rdf_db"].session() as s:
        seal: str | None = s.scalar(select(Entry.seal).where(Entry.id == int(entry_id)))
        return seal


@pytest.fixture
def install(app: Flask) -> Iterator[Callable[[int], Sealer]]:
    """Put a background sealer with a given interval (ms) on the app; stopped afterwards
    and the app's own hook put back."""
    previous = app.extensions["rdf_after_commit"]
    made: list[Sealer] = []

    def put(interval_ms: int) -> Sealer:
        sealer = Sealer(
            app.extensions["rdf_db"].sessionmaker, mode="background", interval_ms=interval_ms
        )
        made.append(sealer)
        app.extensions["rdf_after_commit"] = sealer
        return sealer

    yield put
    for sealer in made:
        t0 = time.monotonic()
        sealer.stop()
        assert not sealer.running
        assert time.monotonic() - t0 < 5, "stop() waited out the interval"
    app.extensions["rdf_after_commit"] = previous


def test_a_write_only_wakes_the_sealer_and_its_entry_is_sealed_within_the_interval(
    app: Flask, client: FlaskClient, tokens: dict[str, str], install: Callable[[int], Sealer]
) -> None:
    sealer = install(100)
    on_this_thread: list[str] = []
    me = threading.get_ident()

    def count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if threading.get_ident() == me:
            on_this_thread.append(statement)

    engine = app.extensions["rdf_db"].engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        sealer()  # what run_write calls after its commit
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert on_this_thread == []  # the hook itself runs no SQL
    assert sealer.running
    assert wait_until(lambda: sealer.runs >= 1)  # the thread ran (nothing to seal yet)
    entry_id = post_capital(client, tokens["finance"], 1234, "donor", date(2026, 11, 3))
    assert wait_until(lambda: seal_of(app, entry_id) is not None)  # no request needed
    assert wait_until(lambda: sealer.sealed == 1)
    verify = client.get("/api/v1/audit/verify", headers=bearer(tokens["auditor"])).get_json()
    assert verify["ok"] is True and verify["entries_checked"] == 1 and verify["unsealed"] == 0


def test_the_sealer_runs_at_most_once_per_interval_however_many_writes(
    app: Flask, client: FlaskClient, tokens: dict[str, str], install: Callable[[int], Sealer]
) -> None:
    interval_s = 0.5
    sealer = install(int(interval_s * 1000))
    t0 = time.monotonic()
    ids = [
        post_capital(client, tokens["finance"], 10 + i, f"w{i}", date(2026, 11, 3))
        for i in range(12)
    ]
    assert wait_until(lambda: all(seal_of(app, i) is not None for i in ids))
    assert wait_until(lambda: sealer.sealed == len(ids))
    elapsed = time.monotonic() - t0
    # one run at the first write, then at most one per interval
    assert sealer.runs <= 1 + elapsed / interval_s + 1
    with app.extensions["rdf_db"].session() as s:
        seqs = [
            r[0]
            for r in s.execute(
                text(
                    "SELECT s.seal_seq FROM entries e"
                    " LEFT JOIN entry_seals s ON s.entry_id = e.id ORDER BY e.id"
                )
            )
        ]
    assert seqs == list(range(1, len(ids) + 1))


def test_flush_verify_close_and_documents_seal_what_the_sealer_has_not_reached(
    app: Flask, client: FlaskClient, tokens: dict[str, str], install: Callable[[int], Sealer]
) -> None:
    sealer = install(600_000)  # after its first run the thread waits ten minutes
    first = post_capital(client, tokens["finance"], 100, "oct 1", date(2026, 10, 1))
    assert wait_until(lambda: sealer.sealed == 1) and seal_of(app, first) is not None
    fin, aud = bearer(tokens["finance"]), bearer(tokens["auditor"])

    # flush: synchronous, on the caller's thread
    second = post_capital(client, tokens["finance"], 200, "oct 2", date(2026, 10, 2))
    assert seal_of(app, second) is None  # the thread is waiting out its interval
    assert sealer.flush() == 1
    assert seal_of(app, second) is not None

    # verify
    third = post_capital(client, tokens["finance"], 300, "oct 3", date(2026, 10, 3))
    body = client.get("/api/v1/audit/verify", headers=aud).get_json()
    assert body["ok"] is True and body["unsealed"] == 0 and body["entries_checked"] == 3
    assert body["last_seal"] == seal_of(app, third)

    # a document
    fourth = post_capital(client, tokens["finance"], 400, "oct 4", date(2026, 10, 4))
    assert seal_of(app, fourth) is None
    r = client.get("/api/v1/reports/trial-balance.pdf?as_of=2026-10-31", headers=fin)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    pdf = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
    seal = seal_of(app, fourth)
    assert seal is not None and seal in pdf.replace("\n", "")

    # a month close
    fifth = post_capital(client, tokens["finance"], 500, "oct 5", date(2026, 10, 5))
    assert seal_of(app, fifth) is None
    r = client.post("/api/v1/periods/2026-10/close", json={}, headers=fin)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["last_seal"] == seal_of(app, fifth) is not None

    # the seal command
    sixth = post_capital(client, tokens["finance"], 600, "nov 1", date(2026, 11, 1))
    assert seal_of(app, sixth) is None
    out = app.test_cli_runner().invoke(args=["seal"])
    assert out.exit_code == 0 and "sealed 1 entries" in out.output
    assert sealer.sealed == 1  # everything after the first entry was sealed synchronously


def test_a_failing_sealer_never_fails_a_write_and_catches_up(
    app: Flask,
    client: FlaskClient,
    tokens: dict[str, str],
    install: Callable[[int], Sealer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = ledger.sealing._seal_pending
    failures: list[int] = []

    def flaky(*a: Any, **k: Any) -> tuple[int, bool]:
        if not failures:
            failures.append(1)
            raise RuntimeError("database gone for a moment")
        return real(*a, **k)

    monkeypatch.setattr(ledger.sealing, "_seal_pending", flaky)
    sealer = install(20)
    entry_id = post_capital(client, tokens["finance"], 100, "still posted", date(2026, 11, 2))
    # the failed run is retried (after a back-off) without another write
    assert wait_until(lambda: seal_of(app, entry_id) is not None)
    assert failures == [1] and sealer.running


def test_a_broken_chain_stops_the_sealer_but_not_the_writes(
    app: Flask, client: FlaskClient, tokens: dict[str, str], install: Callable[[int], Sealer]
) -> None:
    sealer = install(20)
    ids = [
        post_capital(client, tokens["finance"], 10 + i, f"w{i}", date(2026, 11, 3))
        for i in range(3)
    ]
    assert wait_until(lambda: sealer.sealed == 3)
    tamper(
        app,
        "DELETE FROM postings WHERE entry_id = :e",
        "DELETE FROM entries WHERE id = :e",
        e=int(ids[-1]),
    )
    late = post_capital(client, tokens["finance"], 777, "after the attack", date(2026, 11, 4))
    assert late  # the write succeeded (201) though the sealer cannot chain it
    time.sleep(0.3)  # many intervals: the thread met the broken chain
    assert sealer.running and sealer.sealed == 3  # nothing chained over the gap
    assert seal_of(app, late) is None
    body = client.get("/api/v1/audit/verify", headers=bearer(tokens["auditor"])).get_json()
    assert body["ok"] is False and "truncated" in str(body["reason"])
    assert body["unsealed"] == 1


def test_the_thread_is_a_daemon_holding_no_connection_while_idle_and_stops(
    app: Flask, client: FlaskClient, tokens: dict[str, str], install: Callable[[int], Sealer]
) -> None:
    engine = app.extensions["rdf_db"].engine
    held: dict[str, int] = {}

    def checkout(*_a: Any) -> None:
        name = threading.current_thread().name
        held[name] = held.get(name, 0) + 1

    def checkin(*_a: Any) -> None:
        name = threading.current_thread().name
        held[name] = held.get(name, 0) - 1

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        sealer = install(20)
        entry_id = post_capital(client, tokens["finance"], 100, "x", date(2026, 11, 2))
        assert wait_until(lambda: seal_of(app, entry_id) is not None)
        thread = sealer._thread
        assert thread is not None and thread.daemon
        assert wait_until(lambda: held.get(thread.name, 0) == 0)
        time.sleep(0.1)  # idle for several intervals
        assert held[thread.name] == 0  # it used connections, and gave each one back
        sealer.stop()
        assert not thread.is_alive()
        other = post_capital(client, tokens["finance"], 200, "y", date(2026, 11, 2))
        sealer()  # a stopped sealer is not started again by a later write
        assert not sealer.running and seal_of(app, other) is None
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)


def test_attaching_another_database_stops_the_sealer_of_the_old_one(
    app: Flask, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import attach_database

    monkeypatch.setitem(app.config, "RDF_SEAL_MODE", "background")
    monkeypatch.setitem(app.config, "RDF_SEAL_INTERVAL_MS", 50)
    replaced = [app.extensions["rdf_db"]]
    replaced.append(attach_database(app, database_url))
    first: Sealer = app.extensions["rdf_after_commit"]
    assert (first.mode, first.interval) == ("background", 0.05)
    first()
    assert first.running
    replaced.append(attach_database(app, database_url))
    second: Sealer = app.extensions["rdf_after_commit"]
    assert not first.running
    second()
    assert second.running
    monkeypatch.setitem(app.config, "RDF_SEAL_MODE", "inline")
    attach_database(app, database_url)  # the app fixture disposes this one
    assert not second.running
    assert app.extensions["rdf_after_commit"].mode == "inline"
    for db in replaced:
        db.dispose()


def test_the_mode_comes_from_the_config_else_the_environment_else_testing_or_not(
    app: Flask, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import attach_database

    monkeypatch.delenv("RDF_SEAL_MODE", raising=False)
    monkeypatch.delenv("RDF_SEAL_INTERVAL_MS", raising=False)
    replaced = [app.extensions["rdf_db"]]
    seen = []
    for testing, env, config in (
        (True, None, None),
        (False, None, None),
        (True, "background", None),
        (False, "inline", None),
        (True, "inline", "background"),
    ):
        monkeypatch.setitem(app.config, "TESTING", testing)
        if env:
            monkeypatch.setenv("RDF_SEAL_MODE", env)
        if config:
            monkeypatch.setitem(app.config, "RDF_SEAL_MODE", config)
        replaced.append(attach_database(app, database_url))
        sealer = app.extensions["rdf_after_commit"]
        seen.append((sealer.mode, sealer.interval))
    assert seen == [
        ("inline", 0.2),
        ("background", 0.2),
        ("background", 0.2),
        ("inline", 0.2),
        ("background", 0.2),
    ]
    monkeypatch.setenv("RDF_SEAL_INTERVAL_MS", "50")
    replaced.append(attach_database(app, database_url))
    assert app.extensions["rdf_after_commit"].interval == 0.05
    kept = app.extensions["rdf_after_commit"]
    monkeypatch.setitem(app.config, "RDF_SEAL_MODE", "sometimes")
    with pytest.raises(ValueError):
        attach_database(app, database_url)
    assert app.extensions["rdf_after_commit"] is kept  # refused before anything changed
    assert app.extensions["rdf_db"] is replaced[-1]
    monkeypatch.setitem(app.config, "RDF_SEAL_MODE", "inline")
    attach_database(app, database_url)  # the app fixture disposes this one
    for db in replaced:
        db.dispose()


def test_a_forked_worker_starts_its_own_sealer_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn forks workers: the parent's thread does not exist in a child, whose first
    write must start one of its own (no database here: a fake run reports its pid)."""
    read_end, write_end = os.pipe()
    ran_in = threading.Event()

    def fake(*_a: Any, **_k: Any) -> tuple[int, bool]:
        os.write(write_end, f"{os.getpid()}\n".encode())
        ran_in.set()
        return 0, False

    monkeypatch.setattr(ledger.sealing, "_seal_pending", fake)
    no_database: Any = lambda: None  # noqa: E731 - never called: the run is faked
    sealer = Sealer(no_database, mode="background", interval_ms=10)
    try:
        sealer()
        assert ran_in.wait(PATIENCE_S) and sealer.running
        child = os.fork()
        if child == 0:  # the child: only os._exit, never back into pytest
            code = 1
            try:
                if not sealer.running:  # the parent's thread is not here
                    runs = sealer.runs
                    sealer()
                    deadline = time.monotonic() + PATIENCE_S
                    while time.monotonic() < deadline and sealer.runs == runs:
                        time.sleep(0.01)
                    code = 0 if sealer.running and sealer.runs > runs else 2
            finally:
                os._exit(code)
        deadline = time.monotonic() + PATIENCE_S + 5
        status = None
        while time.monotonic() < deadline:
            pid, status = os.waitpid(child, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
        else:
            os.kill(child, 9)
            os.waitpid(child, 0)
            pytest.fail("the forked child did not finish")
        assert status is not None and os.waitstatus_to_exitcode(status) == 0
        sealer.stop()
        os.close(write_end)
        write_end = -1
        with os.fdopen(read_end) as f:
            read_end = -1
            pids = {int(line) for line in f.read().split()}
        assert pids == {os.getpid(), child}  # a run in the parent, and one in the child
    finally:
        sealer.stop()
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)


def test_concurrent_writers_are_chained_gaplessly_by_the_background_sealers_on_postgres(
    pg_app: Flask, tokens_pg: dict[str, str]
) -> None:
    """Four writer threads, and two background sealers (two workers' worth) sharing the
    advisory lock: every entry ends up sealed once, in one gapless chain, with no verify
    or flush to help."""
    factory = pg_app.extensions["rdf_db"].sessionmaker
    sealers = [Sealer(factory, mode="background", interval_ms=30) for _ in range(2)]
    errors: list[object] = []
    ids: list[str] = []

    def writer(n: int) -> None:
        c = pg_app.test_client()
        for i in range(8):
            pg_app.extensions["rdf_after_commit"] = sealers[(n + i) % 2]
            try:
                ids.append(
                    post_capital(
                        c, tokens_pg["finance"], 1 + n * 100 + i, f"w{n}-{i}", date(2026, 11, 2)
                    )
                )
            except AssertionError as exc:  # collected: a thread's assert is not a failure
                errors.append(exc)

    try:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and len(ids) == 32
        assert wait_until(lambda: all(seal_of(pg_app, i) is not None for i in ids))
        assert wait_until(lambda: sum(s.sealed for s in sealers) == 32)  # each once
    finally:
        for s in sealers:
            s.stop()
    with pg_app.extensions["rdf_db"].session() as s:
        seqs = sorted(
            s.scalars(select(EntrySeal.seal_seq).join(Entry, Entry.id == EntrySeal.entry_id))
        )
    assert seqs == list(range(1, 33))
    c = pg_app.test_client()
    body = c.get("/api/v1/audit/verify", headers=bearer(tokens_pg["auditor"])).get_json()
    assert body["ok"] is True and body["entries_checked"] == 32 and body["unsealed"] == 0
