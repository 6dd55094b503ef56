"""The Beancount export streams: its peak memory does not grow with the journal's length.

Entries are inserted in bulk with SQL (the kept-balance trigger still runs), then the same
export function the endpoint and the command use is run under tracemalloc for a journal and
for one eight times as long."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import insert

import reports.exports
from ledger.tables import Entry, Posting
from reports.exports import export_beancount
from tests.support import make_app

START = date(2024, 1, 1)


@pytest.fixture
def sqlite_app(sqlite_database: str) -> Iterator[Flask]:
    app = make_app(sqlite_database)
    yield app
    app.extensions["rdf_db"].dispose()


def add_entries(app: Flask, first_id: int, count: int) -> None:
    made = datetime(2026, 11, 1, tzinfo=UTC)
    entries, postings = [], []
    for i in range(first_id, first_id + count):
        on = START + timedelta(days=i % 900)
        entries.append(
            {
                "id": i,
                "service_date": on,
                "accounting_date": on,
                "memo": f"Grant number {i}",
                "source": "manual",
                "created_at": made,
                "created_by": "bench",
            }
        )
        amount = 1000 + i
        postings += [
            {
                "entry_id": i,
                "account_code": "1010",
                "commodity": "KHR",
                "amount": amount,
                "accounting_date": on,
                "stripe": 0,
            },
            {
                "entry_id": i,
                "account_code": "3000",
                "commodity": "KHR",
                "amount": -amount,
                "accounting_date": on,
                "stripe": 0,
            },
        ]
    with app.extensions["rdf_db"].session() as s:
        s.execute(insert(Entry), entries)
        s.execute(insert(Posting), postings)
        s.commit()


def peak_bytes(app: Flask) -> tuple[int, int]:
    written = 0

    def sink(text: str) -> None:
        nonlocal written
        written += len(text)

    with app.extensions["rdf_db"].session() as s:
        tracemalloc.start()
        try:
            export_beancount(s, sink)
            _now, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return peak, written


def test_export_peak_memory_stays_flat_when_the_journal_grows_eightfold(
    sqlite_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows are fetched CHUNK_ROWS at a time: make both journals span many chunks, so the
    # comparison is of the steady state.
    monkeypatch.setattr(reports.exports, "CHUNK_ROWS", 100)
    add_entries(sqlite_app, 1, 500)
    peak_bytes(sqlite_app)  # warm up: statement caches, imports
    small_peak, small_size = peak_bytes(sqlite_app)
    add_entries(sqlite_app, 501, 3500)
    big_peak, big_size = peak_bytes(sqlite_app)
    # Measured: ~170 KB and ~220 KB for 120 KB and 940 KB of text (and ~140 KB for 3.8 MB):
    # a few hundred KB of noise from caches, nothing proportional to the journal.
    assert big_peak < 2 * small_peak, (small_peak, big_peak)
    assert big_peak < big_size / 3, (big_peak, big_size)
