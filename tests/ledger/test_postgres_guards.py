"""PostgreSQL only: concurrent posting with duplicate idempotency keys, and the database's
own refusal of what must never be (edits of history, unbalanced entries, forged balances)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from api.auth import create_user
from ledger.tables import Balance, Entry, Posting
from tests.ledger.conftest import body, pair
from tests.support import bearer

THREADS = 20
ENTRIES_PER_THREAD = 5


def _finance(app: Flask) -> dict[str, str]:
    with app.extensions["rdf_db"].session() as s:
        _u, token = create_user(s, "pg-finance", "finance")
        s.commit()
    return bearer(token)


def test_twenty_threads_with_each_key_sent_twice_at_once_post_each_entry_exactly_once(
    pg_app: Flask,
) -> None:
    headers = _finance(pg_app)

    # Two threads per key: threads 2k and 2k+1 send the same keys and bodies at once.
    def plan(pair_no: int, i: int) -> tuple[str, dict[str, Any]]:
        amount = 1000 + pair_no * 100 + i  # every entry a different amount
        if i % 3 == 0:
            postings = pair("5100", "1010", "KHR", str(amount))
        elif i % 3 == 1:
            postings = pair("1010", "3000", "KHR", str(amount))
        else:
            postings = pair("1020", "4000", "USD", f"{amount // 100}.{amount % 100:02d}")
        return f"pair-{pair_no}-{i}", body("2026-10-14", f"concurrent {pair_no}/{i}", postings)

    barrier = threading.Barrier(THREADS)
    results: dict[int, list[tuple[str, int, bytes]]] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            client = pg_app.test_client()
            out = []
            barrier.wait(timeout=30)
            for i in range(ENTRIES_PER_THREAD):
                key, payload = plan(n // 2, i)
                r = client.post(
                    "/api/v1/journal-entries",
                    json=payload,
                    headers={**headers, "Idempotency-Key": key},
                )
                out.append((key, r.status_code, r.get_data()))
            results[n] = out
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == THREADS

    by_key: dict[str, set[bytes]] = {}
    statuses: Counter[int] = Counter()
    for out in results.values():
        for key, status, data in out:
            statuses[status] += 1
            by_key.setdefault(key, set()).add(data)
    assert statuses == {201: THREADS * ENTRIES_PER_THREAD}, statuses
    # both senders of a key got the same answer, byte for byte
    assert all(len(answers) == 1 for answers in by_key.values())

    expected: Counter[tuple[str, str]] = Counter()
    for pair_no in range(THREADS // 2):
        for i in range(ENTRIES_PER_THREAD):
            _key, payload = plan(pair_no, i)
            for p in payload["postings"]:
                minor = int(p["amount"].replace(".", ""))
                expected[(p["account"], p["commodity"])] += minor
    with pg_app.extensions["rdf_db"].session() as s:
        entries = s.scalar(select(func.count()).select_from(Entry))
        assert entries == (THREADS // 2) * ENTRIES_PER_THREAD
        kept = {
            (a, c): int(v)
            for a, c, v in s.execute(
                select(Balance.account_code, Balance.commodity, func.sum(Balance.amount)).group_by(
                    Balance.account_code, Balance.commodity
                )
            )
        }
        summed = {
            (a, c): int(v)
            for a, c, v in s.execute(
                select(Posting.account_code, Posting.commodity, func.sum(Posting.amount)).group_by(
                    Posting.account_code, Posting.commodity
                )
            )
        }
    assert {k: v for k, v in kept.items() if v} == dict(expected) == summed


@pytest.fixture
def one_entry(pg_app: Flask) -> tuple[str, int]:
    headers = _finance(pg_app)
    r = pg_app.test_client().post("/api/v1/journal-entries", json=body(), headers=headers)
    assert r.status_code == 201
    url: str = pg_app.config["DATABASE_URL"]
    return url, int(r.get_json()["id"])


def _refused(url: str, *statements: str) -> str:
    eng = create_engine(url)
    try:
        with pytest.raises(DBAPIError) as exc, eng.begin() as conn:
            for sql in statements:
                conn.execute(text(sql))
        return str(exc.value.orig)
    finally:
        eng.dispose()


def _books(url: str) -> Any:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            return (
                conn.execute(text("SELECT * FROM postings ORDER BY id")).all(),
                conn.execute(text("SELECT id, memo FROM entries ORDER BY id")).all(),
                conn.execute(text("SELECT * FROM balances ORDER BY id")).all(),
            )
    finally:
        eng.dispose()


def test_a_direct_update_of_a_posting_is_refused(one_entry: tuple[str, int]) -> None:
    url, entry_id = one_entry
    before = _books(url)
    msg = _refused(url, f"UPDATE postings SET amount = amount + 1 WHERE entry_id = {entry_id}")
    assert "append-only" in msg
    _refused(url, f"DELETE FROM postings WHERE entry_id = {entry_id}")
    _refused(url, "TRUNCATE postings CASCADE")
    assert _books(url) == before


def test_a_delete_or_edit_of_an_entry_is_refused(one_entry: tuple[str, int]) -> None:
    url, entry_id = one_entry
    before = _books(url)
    _refused(url, f"DELETE FROM entries WHERE id = {entry_id}")
    _refused(url, f"UPDATE entries SET memo = 'rewritten' WHERE id = {entry_id}")
    _refused(url, f"UPDATE entries SET accounting_date = '2026-01-01' WHERE id = {entry_id}")
    assert _books(url) == before


def test_an_unbalanced_entry_inserted_by_raw_sql_is_refused_at_commit(
    one_entry: tuple[str, int],
) -> None:
    url, _entry_id = one_entry
    before = _books(url)
    now = datetime(2026, 11, 23, tzinfo=UTC).isoformat()
    msg = _refused(
        url,
        "INSERT INTO entries (id, service_date, accounting_date, memo, created_at, created_by)"
        f" VALUES (987654, '2026-10-14', '2026-10-14', 'forged', '{now}', 'intruder')",
        "INSERT INTO postings (entry_id, account_code, commodity, amount, accounting_date,"
        " stripe) VALUES (987654, '1010', 'KHR', 500, '2026-10-14', 0)",
        "INSERT INTO postings (entry_id, account_code, commodity, amount, accounting_date,"
        " stripe) VALUES (987654, '3000', 'KHR', -499, '2026-10-14', 0)",
    )
    assert "does not balance" in msg
    # balanced in sum but not per commodity is refused too
    _refused(
        url,
        "INSERT INTO entries (id, service_date, accounting_date, memo, created_at, created_by)"
        f" VALUES (987655, '2026-10-14', '2026-10-14', 'forged', '{now}', 'intruder')",
        "INSERT INTO postings (entry_id, account_code, commodity, amount, accounting_date,"
        " stripe) VALUES (987655, '1010', 'KHR', 500, '2026-10-14', 0)",
        "INSERT INTO postings (entry_id, account_code, commodity, amount, accounting_date,"
        " stripe) VALUES (987655, '3000', 'USD', -500, '2026-10-14', 0)",
    )
    assert _books(url) == before


def test_a_raw_insert_or_update_of_a_kept_balance_is_refused(one_entry: tuple[str, int]) -> None:
    url, _entry_id = one_entry
    before = _books(url)
    _refused(
        url,
        "INSERT INTO balances (account_code, commodity, lot_key, stripe, amount, nonneg)"
        " VALUES ('4000', 'KHR', 0, 7, 500, false)",
    )
    _refused(url, "UPDATE balances SET amount = amount + 1")
    _refused(url, "DELETE FROM balances")
    assert _books(url) == before
