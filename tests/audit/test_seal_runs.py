"""Seals do not depend on how the sealer groups its work: a run of hundreds of entries gives
byte for byte the seals of one entry per run, and both the seals of the serialisation
defined in ledger/seal_chain.py (``json.dumps`` of the entry's document, kept here as it was
written before the sealer learnt to write the same text directly). A run that finds an
entry sealed behind its back keeps nothing."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, event, insert, select, text

from ledger.bulk import entry_ids, take_ids
from ledger.seal_chain import (
    GENESIS,
    SEAL_DOMAIN,
    SealEntry,
    SealPosting,
    canonical_bytes,
    canonical_bytes_of,
    entry_seal,
)
from ledger.sealing import ChainBroken, _stream_entries, seal_pending, verify
from ledger.tables import Entry, EntrySeal, Posting
from tests.audit.conftest import tamper

# --------------------------------------------------------------------------- the definition


def reference_canonical_bytes(entry: SealEntry) -> bytes:
    """The canonical bytes as ledger/seal_chain.py computed them with ``json.dumps`` (verbatim)."""

    def check_int(value: object, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} must be an int, not {type(value).__name__}")
        return value

    def posting_key(p: SealPosting) -> tuple[str, str, bool, str, int]:
        return (p.account, p.commodity, p.lot is not None, p.lot or "", p.amount)

    check_int(entry.entry_id, "entry_id")
    if entry.reverses is not None:
        check_int(entry.reverses, "reverses")
    postings = []
    for p in sorted(entry.postings, key=posting_key):
        postings.append(
            {
                "account": p.account,
                "amount": check_int(p.amount, "amount"),
                "commodity": p.commodity,
                "lot": p.lot,
            }
        )
    doc = {
        "accounting_date": entry.accounting_date.isoformat(),
        "entry_id": entry.entry_id,
        "memo": entry.memo,
        "postings": postings,
        "reverses": entry.reverses,
        "service_date": entry.service_date.isoformat(),
        "source": entry.source,
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def reference_seal(previous: str, entry: SealEntry) -> str:
    h = hashlib.sha256()
    h.update(SEAL_DOMAIN)
    h.update(previous.encode("ascii"))
    h.update(b"\x00")
    h.update(reference_canonical_bytes(entry))
    return h.hexdigest()


def outcome(f: Any, *args: Any) -> tuple[str, Any]:
    """What ``f(*args)`` gives: its value, or the type of what it raised."""
    try:
        return "value", f(*args)
    except Exception as exc:  # noqa: BLE001 - compared, not handled
        return "raises", type(exc)


GOLDEN_1 = SealEntry(
    42,
    date(2026, 11, 2),
    date(2026, 11, 3),
    'Dispensing "42" at P01 \u2014 \u1790\u17d2\u1793\u17b6\u17c6\n\t\\ \x01\x7f\u2028 \U0001f600',
    "dispensing:42",
    None,
    (
        SealPosting("4000", "KHR", None, -(10**15)),
        SealPosting("1400-P01", "MET500", "MET500:L-1", -3),
        SealPosting("5000", "MET500", "MET500:L-1", 3),
        SealPosting("1010", "KHR", None, 10**15),
        SealPosting("1010", "KHR", "", 0),
        SealPosting("1010", "KHR", None, -1),
    ),
)
GOLDEN_2 = SealEntry(43, date(2026, 1, 31), date(2026, 2, 1), "", None, 42, ())


def test_known_seals_are_unchanged() -> None:
    # computed with the json.dumps serialisation (commit 1797b17) and never to change
    s1 = entry_seal(GENESIS, GOLDEN_1)
    assert s1 == "25aa7d3a1082725dab4f364d4fee8c3882117024340bb2a3c67a859d76bd79a7"
    assert entry_seal(s1, GOLDEN_2) == (
        "06d1cc423a1b6c480fd0d08f2976243e60400ca9c159b92b1559bebba6955291"
    )
    for e in (GOLDEN_1, GOLDEN_2):
        assert canonical_bytes(e) == reference_canonical_bytes(e)
    assert reference_seal(GENESIS, GOLDEN_1) == s1


texts = st.text(st.characters(codec="utf-8"), max_size=30)  # every code point but surrogates
codes = st.one_of(st.sampled_from(["1010", "KHR", "MET500", "1400-P01", ""]), texts)
amounts = st.integers(min_value=-(10**15), max_value=10**15)
postings = st.builds(SealPosting, codes, codes, st.one_of(st.none(), codes), amounts)
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31))
entries = st.builds(
    SealEntry,
    st.integers(min_value=1, max_value=2**63 - 1),
    dates,
    dates,
    texts,
    st.one_of(st.none(), texts),
    st.one_of(st.none(), st.integers(min_value=1, max_value=2**63 - 1)),
    st.lists(postings, max_size=12).map(tuple),
)


@settings(max_examples=400, deadline=None)
@given(entries)
def test_canonical_bytes_are_those_of_the_json_definition(entry: SealEntry) -> None:
    assert canonical_bytes(entry) == reference_canonical_bytes(entry)
    rows = [(p.account, p.commodity, p.lot, p.amount) for p in reversed(entry.postings)]
    assert canonical_bytes_of(
        entry.entry_id,
        entry.service_date,
        entry.accounting_date,
        entry.memo,
        entry.source,
        entry.reverses,
        rows,
    ) == reference_canonical_bytes(entry)
    assert entry_seal(GENESIS, entry) == reference_seal(GENESIS, entry)


class Code(str):
    pass


class Amount(int):
    def __repr__(self) -> str:
        return "Amount()"


ODD_VALUES: list[tuple[str, Any]] = [
    ("memo", Code("a str subclass \u00e9")),
    ("memo", None),
    ("memo", 12),
    ("memo", b"bytes"),
    ("memo", "lone surrogate \ud800"),
    ("source", 7),
    ("source", 1.5),
    ("reverses", True),
    ("reverses", Amount(9)),
    ("entry_id", 2.0),
    ("entry_id", Amount(5)),
    ("service_date", "2026-11-02"),
    ("accounting_date", None),
]

ODD_POSTINGS: list[SealPosting] = [
    SealPosting(Code("1010"), "KHR", None, 5),
    SealPosting("1010", "KHR", 3, 5),  # type: ignore[arg-type]
    SealPosting("1010", "KHR", True, 5),  # type: ignore[arg-type]
    SealPosting("1010", None, None, 5),  # type: ignore[arg-type]
    SealPosting(1010, "KHR", None, 5),  # type: ignore[arg-type]
    SealPosting("1010", "KHR", None, Amount(5)),
    SealPosting("1010", "KHR", None, True),
    SealPosting("1010", "KHR", None, 5.0),  # type: ignore[arg-type]
    SealPosting("1010", "KHR", None, "5"),  # type: ignore[arg-type]
    SealPosting("1010", "KHR", b"lot", 5),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("field", "value"), ODD_VALUES)
def test_values_of_other_types_give_what_json_dumps_gives(field: str, value: Any) -> None:
    import dataclasses

    entry = dataclasses.replace(GOLDEN_1, **{field: value})
    assert outcome(canonical_bytes, entry) == outcome(reference_canonical_bytes, entry)


@pytest.mark.parametrize("odd", ODD_POSTINGS, ids=repr)
def test_postings_of_other_types_give_what_json_dumps_gives(odd: SealPosting) -> None:
    import dataclasses

    entry = dataclasses.replace(GOLDEN_2, postings=(odd, SealPosting("1010", "KHR", None, -5)))
    assert outcome(canonical_bytes, entry) == outcome(reference_canonical_bytes, entry)


# --------------------------------------------------------------------------- in the database

MEMOS = [
    "Dispensing {i} at P01",
    'quotes " and \\ backslash {i}',
    "line\nbreak\ttab {i} \x01\x1f\x7f",
    "\u1790\u17d2\u1793\u17b6\u17c6 {i} \u2014 \U0001f48a \u2028",
    "",
]


def write_entries(app: Flask, n: int, seed: int = 11) -> list[int]:
    """``n`` committed, unsealed entries of varied content (memos, sources, reversals,
    lots, 1 to 12 postings), written straight to the tables: no request, so no sealer."""
    rng = random.Random(seed)
    engine = app.extensions["rdf_db"].engine
    ids: list[int] = []
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO commodities (code, kind, exponent, name)"
                " VALUES ('MET500', 'medicine', 0, 'Metformin 500')"
            )
        )
        for k in range(3):
            c.execute(
                text(
                    "INSERT INTO lots (commodity, lot_code, expiry_on, received_on)"
                    " VALUES ('MET500', :code, '2030-01-31', '2026-10-01')"
                ),
                {"code": f"L-{k}"},
            )
        lots = list(c.scalars(text("SELECT id FROM lots ORDER BY id")))
        for i in range(n):
            day = date(2026, 10, 1) + timedelta(days=rng.randrange(60))
            memo = rng.choice(MEMOS).format(i=i)
            values: dict[str, Any] = {
                "service_date": day - timedelta(days=rng.randrange(3)),
                "accounting_date": day,
                "memo": memo,
                "source": rng.choice([None, f"dispensing:{i}", f"receipt:R-{i}"]),
                "reverses_id": rng.choice(ids) if ids and rng.random() < 0.1 else None,
                "partition": rng.choice([None, "P01"]),
                "created_at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
                "created_by": "test",
            }
            made = c.execute(insert(Entry.__table__).values(**values))  # type: ignore[arg-type]
            entry_id = int(made.inserted_primary_key[0])
            rows = []
            for _ in range(rng.randint(1, 6)):
                if rng.random() < 0.4:  # units and value into stock, from a lot
                    lot = rng.choice(lots)
                    q = rng.randint(1, 10**6)
                    rows += [
                        ("1400-CENTRAL", "MET500", lot, q),
                        ("9000", "MET500", lot, -q),
                        ("1400-CENTRAL", "KHR", lot, q * 7),
                        ("3000", "KHR", None, -q * 7),
                    ]
                else:
                    a = rng.randint(1, 10**15)
                    rows += [("1010", "KHR", None, a), ("3000", "KHR", None, -a)]
            rng.shuffle(rows)
            c.execute(
                insert(Posting.__table__),  # type: ignore[arg-type]
                [
                    {
                        "entry_id": entry_id,
                        "account_code": acc,
                        "commodity": com,
                        "lot_id": lot,
                        "amount": amt,
                        "accounting_date": day,
                        "stripe": 0,
                    }
                    for acc, com, lot, amt in rows
                ],
            )
            ids.append(entry_id)
    return ids


def chain(app: Flask) -> list[tuple[int, int | None, str | None]]:
    with app.extensions["rdf_db"].session() as s:
        return [
            (int(r[0]), r[1], r[2])
            for r in s.execute(
                select(Entry.id, EntrySeal.seal_seq, EntrySeal.seal)
                .outerjoin(EntrySeal, EntrySeal.entry_id == Entry.id)
                .order_by(Entry.id)
            )
        ]


def unseal_all(app: Flask) -> None:
    """Every seal wiped and the checkpoint back at GENESIS, guards bypassed."""
    engine = app.extensions["rdf_db"].engine
    if engine.dialect.name == "sqlite":
        with engine.begin() as c:
            for trigger in (
                "seal_checkpoints_no_delete",
                "seal_checkpoints_forward",
                "entry_seals_no_delete",
            ):
                c.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
    tamper(
        app,
        "DELETE FROM entry_seals",
        "UPDATE seal_checkpoints SET seal_count = 0, last_seal = :g, unsealed_from = 0",
        g=GENESIS,
    )


def checkpoint(app: Flask) -> tuple[int, str]:
    with app.extensions["rdf_db"].session() as s:
        row = s.execute(text("SELECT seal_count, last_seal FROM seal_checkpoints")).one()
    return int(row[0]), str(row[1])


def test_one_run_of_hundreds_seals_as_one_entry_per_run(app: Flask) -> None:
    n = 300
    ids = write_entries(app, n)
    factory = app.extensions["rdf_db"].sessionmaker
    assert seal_pending(factory, batch=1) == n  # n runs of one entry
    one_by_one = chain(app)
    assert [seq for _, seq, _ in one_by_one] == list(range(1, n + 1))
    assert [i for i, _, _ in one_by_one] == ids

    unseal_all(app)
    assert seal_pending(factory, batch=1000) == n  # one run
    assert chain(app) == one_by_one

    unseal_all(app)
    assert seal_pending(factory, batch=37) == n  # runs of 37, the last one short
    assert chain(app) == one_by_one

    # and every seal is the one of the json.dumps definition, chained from GENESIS
    with app.extensions["rdf_db"].session() as s:
        rows = list(_stream_entries(s, EntrySeal.seal_seq.is_not(None), EntrySeal.seal_seq))
    previous = GENESIS
    for row, (entry_id, seq, seal) in zip(rows, one_by_one, strict=True):
        assert (row.entry.entry_id, row.seal_seq) == (entry_id, seq)
        previous = reference_seal(previous, row.entry)
        assert seal == previous
    report = verify(factory)
    assert (report.ok, report.entries_checked, report.unsealed) == (True, n, 0)
    assert (report.checkpoint_count, report.checkpoint_seal) == (n, previous)


def test_an_entry_carrying_a_seal_without_a_place_in_the_chain_stops_the_run(
    app: Flask,
) -> None:
    ids = write_entries(app, 5)
    factory = app.extensions["rdf_db"].sessionmaker
    tamper(
        app,
        "INSERT INTO entry_seals (seal_seq, entry_id, seal) VALUES (1000, :e, :z)",
        z="f" * 64,
        e=ids[2],
    )
    with pytest.raises(ChainBroken):
        seal_pending(factory, blocking=True)
    # nothing of the run was kept: no seal given (but the planted one), no checkpoint moved
    assert [(i, seq) for i, seq, _ in chain(app)] == [
        (i, 1000 if i == ids[2] else None) for i in ids
    ]
    assert checkpoint(app) == (0, GENESIS)


def test_an_entry_sealed_behind_the_sealers_back_meanwhile_keeps_nothing_of_the_run(
    pg_app: Flask,
) -> None:
    ids = write_entries(pg_app, 20)
    factory = pg_app.extensions["rdf_db"].sessionmaker
    engine = pg_app.extensions["rdf_db"].engine
    sealed_behind: list[int] = []

    def before(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        # after the sealer read the entries, before it writes their seals: someone that
        # does not take the sealer's lock seals one of them (and commits)
        if statement.startswith("INSERT INTO entry_seals") and not sealed_behind:
            sealed_behind.append(ids[7])
            tamper(
                pg_app,
                "INSERT INTO entry_seals (seal_seq, entry_id, seal) VALUES (999, :e, :z)",
                z="e" * 64,
                e=ids[7],
            )

    event.listen(engine, "before_cursor_execute", before)
    try:
        with pytest.raises(ChainBroken):
            seal_pending(factory, blocking=True)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert sealed_behind == [ids[7]]
    assert [(i, seq) for i, seq, _ in chain(pg_app)] == [
        (i, 999 if i == ids[7] else None) for i in ids
    ]
    assert checkpoint(pg_app) == (0, GENESIS)


def _capital(c: Connection, memo: str, stripe: int = 0) -> int:
    """A small balanced entry written on connection ``c`` (committed with it); its id.
    ``stripe``: the kept rows it updates (an open transaction holds its rows' locks: an
    entry kept in flight must not share them with the entries committed around it)."""
    day = date(2026, 11, 2)
    made = c.execute(
        insert(Entry.__table__).values(  # type: ignore[arg-type]
            service_date=day,
            accounting_date=day,
            memo=memo,
            created_at=datetime(2026, 11, 2, 12, tzinfo=UTC),
            created_by="test",
        )
    )
    entry_id = int(made.inserted_primary_key[0])  # type: ignore[index]
    c.execute(
        insert(Posting.__table__),  # type: ignore[arg-type]
        [
            {"entry_id": entry_id, "account_code": acc, "commodity": "KHR", "amount": a}
            | {"accounting_date": day, "stripe": stripe}
            for acc, a in (("1010", 500), ("3000", -500))
        ],
    )
    return entry_id


def test_an_entry_in_flight_below_later_sealed_ones_is_sealed_when_it_commits(
    pg_app: Flask,
) -> None:
    """The sealer looks for unsealed entries from a hint on, not over the whole journal; the
    hint must never pass an entry whose transaction is still open (its id drawn, its row
    not visible yet) while later entries commit and are sealed around it."""
    engine = pg_app.extensions["rdf_db"].engine
    factory = pg_app.extensions["rdf_db"].sessionmaker
    with engine.begin() as c:
        first = [_capital(c, f"before {i}") for i in range(3)]
    assert seal_pending(factory, blocking=True) == 3
    slow = engine.connect()
    try:
        tx = slow.begin()
        late = _capital(slow, "in flight", stripe=1)  # not committed yet
        for round_ in range(3):  # runs that seal later entries while it stays open
            with engine.begin() as c:
                later = [_capital(c, f"after {round_}.{i}") for i in range(2)]
            assert min(later) > late
            assert seal_pending(factory, blocking=True) == 2
            with factory() as s:
                hint = s.scalar(text("SELECT unsealed_from FROM seal_checkpoints"))
            assert hint is not None and hint <= late
        tx.commit()
    finally:
        slow.close()
    assert seal_pending(factory, blocking=True) == 1  # found, though later ones are sealed
    report = verify(factory)
    assert (report.ok, report.entries_checked, report.unsealed) == (True, 3 + 1 + 6, 0)
    with factory() as s:
        assert s.scalar(select(EntrySeal.seal_seq).where(EntrySeal.entry_id == late)) == 10
        hint = s.scalar(text("SELECT unsealed_from FROM seal_checkpoints"))
    # with nothing in flight the hint moves past every entry: the next search is empty
    assert hint is not None and hint > max(first) and hint > late


def test_the_hint_moves_past_sealed_entries_so_a_run_reads_only_new_ones(app: Flask) -> None:
    """With nothing in flight, a run leaves ``unsealed_from`` past the last entry it sealed."""
    engine = app.extensions["rdf_db"].engine
    factory = app.extensions["rdf_db"].sessionmaker
    with engine.begin() as c:
        ids = [_capital(c, f"e{i}") for i in range(5)]
    assert seal_pending(factory, batch=2) == 5  # runs of 2, 2, 1
    with factory() as s:
        hint = s.scalar(text("SELECT unsealed_from FROM seal_checkpoints"))
    assert hint == max(ids) + 1


def test_entry_ids_drawn_ahead_of_the_insert_hold_the_sealers_hint_back(pg_app: Flask) -> None:
    """The write paths draw an entry's id before they insert it (``ledger.bulk.entry_ids``:
    postings and dispensings point at it). Drawn while other entries commit and are sealed,
    the id must not fall below the sealer's hint, or the entry stays unsealed until a
    verify looks over the whole journal (documents then print an older seal). A pool of
    ids taken ahead cannot hold that promise: ``take_ids`` refuses the entries table."""
    engine = pg_app.extensions["rdf_db"].engine
    factory = pg_app.extensions["rdf_db"].sessionmaker
    with engine.begin() as c:
        _capital(c, "before")
    assert seal_pending(factory, blocking=True) == 1
    with factory() as slow:
        (drawn,) = entry_ids(slow, 1)  # the transaction is open, nothing inserted yet
        for round_ in range(2):
            with engine.begin() as c:
                later = _capital(c, f"after {round_}")
            assert later > drawn
            assert seal_pending(factory, blocking=True) == 1
            with factory() as s:
                hint = s.scalar(text("SELECT unsealed_from FROM seal_checkpoints"))
            assert hint is not None and hint <= drawn
        day = date(2026, 11, 2)
        slow.execute(
            insert(Entry.__table__).values(  # type: ignore[arg-type]
                id=drawn,
                service_date=day,
                accounting_date=day,
                memo="drawn ahead",
                created_at=datetime(2026, 11, 2, 12, tzinfo=UTC),
                created_by="test",
            )
        )
        slow.execute(
            insert(Posting.__table__),  # type: ignore[arg-type]
            [
                {"entry_id": drawn, "account_code": acc, "commodity": "KHR", "amount": a}
                | {"accounting_date": day, "stripe": 1}
                for acc, a in (("1010", 500), ("3000", -500))
            ],
        )
        slow.commit()
    assert seal_pending(factory, blocking=True) == 1  # found by a run from the hint
    with factory() as s:
        assert s.scalar(select(EntrySeal.seal_seq).where(EntrySeal.entry_id == drawn)) == 4
    with factory() as s, pytest.raises(ValueError, match="entry_ids"):
        take_ids(s, Entry.__table__, 1)  # type: ignore[arg-type]
