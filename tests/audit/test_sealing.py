"""The sealer: entries are sealed in a gapless chain (right after their commit when it
seals inline; the background sealer, production's default, is tested in
test_background_sealer.py), and a month close stores the month's Merkle root and the seal
of its last entry."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from ledger.seal_chain import GENESIS, entry_seal
from ledger.sealing import Sealer, _stream_entries, month_root, seal_pending
from ledger.tables import Entry, EntrySeal
from tests.audit.conftest import post_capital, tamper
from tests.support import bearer


def test_an_entry_is_sealed_as_soon_as_its_write_commits_when_sealing_inline(
    app: Flask, client: FlaskClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    inline = Sealer(app.extensions["rdf_db"].sessionmaker, mode="inline")
    monkeypatch.setitem(app.extensions, "rdf_after_commit", inline)
    entry_id = post_capital(client, tokens["finance"], 1234, "donor", date(2026, 11, 3))
    r = client.get(f"/api/v1/journal-entries/{entry_id}", headers=bearer(tokens["auditor"]))
    assert r.get_json()["seal"] is not None


def test_seals_chain_from_genesis_over_the_canonical_entries(app: Flask, books: list[int]) -> None:
    with app.extensions["rdf_db"].session() as s:
        rows = list(_stream_entries(s, Entry.seal_seq.is_not(None), Entry.seal_seq))
    previous = GENESIS
    for seq, row in enumerate(rows, start=1):
        assert row.seal_seq == seq
        assert row.seal == entry_seal(previous, row.entry)
        previous = row.seal
    assert [r.entry.entry_id for r in rows] == books


def test_the_seal_command_seals_entries_left_behind(app: Flask, books: list[int]) -> None:
    # An entry written behind the service's back (e.g. a crash between commit and seal).
    engine = app.extensions["rdf_db"].engine
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO entries (service_date, accounting_date, memo, created_at, created_by)"
                " VALUES ('2026-11-01', '2026-11-01', 'late', '2026-11-01T00:00:00', 'x')"
            )
        )
    out = app.test_cli_runner().invoke(args=["seal"])
    assert out.exit_code == 0 and "sealed 1 entries" in out.output
    assert seal_pending(app.extensions["rdf_db"].sessionmaker) == 0


def test_closing_a_month_stores_its_merkle_root_and_the_seal_of_its_last_entry(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    october = [
        post_capital(client, tokens["finance"], 100 * i, f"oct {i}", date(2026, 10, i))
        for i in range(1, 4)
    ]
    post_capital(client, tokens["finance"], 999, "nov", date(2026, 11, 2))
    r = client.post("/api/v1/periods/2026-10/close", json={}, headers=bearer(tokens["finance"]))
    assert r.status_code == 200, r.get_json()
    closed = r.get_json()
    with app.extensions["rdf_db"].session() as s:
        last = s.scalar(select(Entry.seal).where(Entry.id == int(october[-1])))
        assert closed["merkle_root"] == month_root(s, "2026-10")
    assert closed["last_seal"] == last
    assert len(closed["merkle_root"]) == 64
    verify = client.get("/api/v1/audit/verify", headers=bearer(tokens["auditor"])).get_json()
    assert verify["ok"] is True and verify["entries_checked"] == 4


def test_a_rewritten_merkle_root_of_a_closed_month_is_reported(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    post_capital(client, tokens["finance"], 100, "oct", date(2026, 10, 5))
    r = client.post("/api/v1/periods/2026-10/close", json={}, headers=bearer(tokens["finance"]))
    assert r.status_code == 200, r.get_json()
    tamper(app, "UPDATE periods SET merkle_root = :z WHERE period = '2026-10'", z="0" * 64)
    verify = client.get("/api/v1/audit/verify", headers=bearer(tokens["auditor"])).get_json()
    assert verify["ok"] is False and "2026-10" in verify["reason"]


def test_concurrent_writers_get_one_gapless_chain_on_postgres(
    pg_app: Flask, tokens_pg: dict[str, str]
) -> None:
    errors: list[object] = []

    def writer(n: int) -> None:
        c = pg_app.test_client()
        for i in range(8):
            try:
                post_capital(
                    c, tokens_pg["finance"], 1 + n * 100 + i, f"w{n}-{i}", date(2026, 11, 2)
                )
            except AssertionError as exc:  # collected: a thread's assert is not a failure
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    c = pg_app.test_client()
    body = c.get("/api/v1/audit/verify", headers=bearer(tokens_pg["auditor"])).get_json()
    assert body["ok"] is True and body["entries_checked"] == 32 and body["unsealed"] == 0
    with pg_app.extensions["rdf_db"].session() as s:
        seqs = sorted(
            s.scalars(select(EntrySeal.seal_seq).join(Entry, Entry.id == EntrySeal.entry_id))
        )
    assert seqs == list(range(1, 33))
