"""Kept month totals (revision 0008) and the balances as of a date read through them.

* after random entries over 13 months (several stripes, lots, a year's turn), the month
  totals equal the GROUP BY of the postings, key for key;
* a balance as of any date (per lot or not, one commodity or all, a header's sub-accounts,
  several accounts at several dates at once) and the trial balance as of any date equal the
  brute-force sum of the postings up to it; a statement's opening, closing and totals of
  debits and credits over any range equal the postings';
* on PostgreSQL the table refuses direct writes, as the kept balances do;
* a database migrated without 0008, with postings in it, gets the right totals from the
  migration's backfill.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, create_engine, event, func, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from commands import alembic_config
from ledger import clock
from ledger.db import Database
from ledger.model import EntryDraft, PostingDraft
from ledger.posting import post_entry
from ledger.queries import (
    account_balances,
    balance_of,
    balances,
    opening_and_closing,
    range_totals,
    trial_balance,
)
from ledger.tables import Account, Commodity, Lot, MonthTotal, Posting
from tests.conftest import BACKENDS, _admin_engine, _pg_url, require_postgres

FIRST = date(2025, 11, 1)  # 13 months up to the pinned "today" (2026-11-23), over a new year
LAST = date(2026, 11, 23)
DAYS = (LAST - FIRST).days
MONEY = ["1010", "3000", "4000", "5100", "1200-PA", "1200-PB"]
UNITS = ["5000", "5200"]  # money+units, not inventory: lots may go either way


def _db(url: str) -> Database:
    db = Database(url)
    if url.startswith("sqlite"):
        event.listen(db.engine, "connect", lambda c, _r: c.execute("PRAGMA synchronous=OFF"))
    return db


def _setup(db: Database) -> list[int]:
    """Two pharmacy sub-accounts, a medicine and three of its lots; returns the lot ids."""
    with db.session() as s:
        for code in ("1200-PA", "1200-PB"):
            s.add(
                Account(
                    code=code,
                    parent="1200",
                    name=f"Due from {code}",
                    type="asset",
                    carries="money",
                    is_header=False,
                    is_inventory=False,
                    currency=None,
                    pharmacy=code[-2:],
                    created_at=clock.now(),
                )
            )
        s.add(Commodity(code="MEDX", kind="medicine", exponent=0, name="Medicine X"))
        s.flush()
        lots = [
            Lot(commodity="MEDX", lot_code=f"L{i}", expiry_on=date(2030, 1, 1), received_on=FIRST)
            for i in range(3)
        ]
        s.add_all(lots)
        s.commit()
        return [lot.id for lot in lots]


@st.composite
def drafts(draw: st.DrawFn, lot_ids: list[int]) -> EntryDraft:
    postings: list[PostingDraft] = []
    if draw(st.booleans()):
        legs = draw(st.lists(st.integers(-(10**6), 10**6).filter(bool), min_size=1, max_size=3))
        last = -sum(legs)
        if last == 0:
            legs, last = legs[:1], -legs[0]
        for a in [*legs, last]:
            postings.append(PostingDraft(draw(st.sampled_from(MONEY)), "KHR", a))
    if not postings or draw(st.booleans()):
        q = draw(st.integers(1, 500))
        lot = draw(st.sampled_from(lot_ids))
        into, out_of = draw(st.permutations(UNITS))
        postings += [PostingDraft(into, "MEDX", q, lot), PostingDraft(out_of, "MEDX", -q, lot)]
    return EntryDraft(
        service_date=FIRST + timedelta(days=draw(st.integers(0, DAYS))),
        memo="month totals",
        postings=tuple(postings),
        source="test:month-totals",
        partition=draw(st.sampled_from([None, "PA", "PB", "PC", "PD"])),
    )


def _month(d: date) -> date:
    return d.replace(day=1)


def assert_month_totals_equal_postings(s: Session) -> None:
    want: dict[tuple[str, str, date, int, int], tuple[int, int, int]] = {}
    for acc, com, lot, stripe, d, amount in s.execute(
        select(
            Posting.account_code,
            Posting.commodity,
            Posting.lot_id,
            Posting.stripe,
            Posting.accounting_date,
            Posting.amount,
        )
    ):
        k = (acc, com, _month(d), int(lot or 0), int(stripe))
        a, dr, cr = want.get(k, (0, 0, 0))
        want[k] = (a + amount, dr + max(amount, 0), cr + max(-amount, 0))
    have = {
        (m.account_code, m.commodity, m.month, int(m.lot_key), int(m.stripe)): (
            int(m.amount),
            int(m.debit),
            int(m.credit),
        )
        for m in s.scalars(select(MonthTotal))
    }
    # the same keys (a month whose postings sum to 0 keeps its row), the same sums
    assert set(have) == set(want)
    assert have == want


def assert_range_totals(s: Session, start: date, end: date) -> None:
    """A statement's totals and its opening and closing balances equal the postings'."""
    for codes in (["1200-PA"], ["4000"], ["1200-PA", "1200-PB"], ["5000"]):
        for com in ("KHR", "MEDX"):
            amounts = [
                int(a)
                for a in s.scalars(
                    select(Posting.amount).where(
                        Posting.account_code.in_(codes),
                        Posting.commodity == com,
                        Posting.accounting_date >= start,
                        Posting.accounting_date <= end,
                    )
                )
            ]
            want = (sum(a for a in amounts if a > 0), -sum(a for a in amounts if a < 0))
            assert range_totals(s, codes, com, start, end) == want, (codes, com, start, end)
            if start > date.min:
                before = start - timedelta(days=1)
                assert opening_and_closing(s, codes, com, start, end) == (
                    sum(v for _c, _l, v in brute_balances(s, codes, before, False, com)),
                    sum(v for _c, _l, v in brute_balances(s, codes, end, False, com)),
                ), (codes, com, start, end)


def brute_balances(
    s: Session, codes: list[str], as_of: date, by_lot: bool, commodity: str | None = None
) -> list[tuple[str, int | None, int]]:
    sums: Counter[tuple[str, int]] = Counter()
    q = select(Posting.commodity, Posting.lot_id, Posting.amount).where(
        Posting.account_code.in_(codes), Posting.accounting_date <= as_of
    )
    if commodity is not None:
        q = q.where(Posting.commodity == commodity)
    for com, lot, amount in s.execute(q):
        sums[(com, int(lot or 0) if by_lot else 0)] += int(amount)
    return [(c, lk or None, v) for (c, lk), v in sorted(sums.items()) if v]


def brute_trial_balance(s: Session, as_of: date) -> dict[tuple[str, str], int]:
    sums: Counter[tuple[str, str]] = Counter()
    for acc, com, amount in s.execute(
        select(Posting.account_code, Posting.commodity, Posting.amount).where(
            Posting.accounting_date <= as_of
        )
    ):
        sums[(acc, com)] += int(amount)
    return {k: v for k, v in sums.items() if v}


def assert_as_of(s: Session, as_of: date, *, per_commodity: bool = True) -> None:
    for codes in (
        ["1010"],
        ["4000"],
        ["1200-PA"],
        ["1200-PA", "1200-PB"],
        ["5000"],
        ["5000", "5200"],
    ):
        for by_lot in (True, False):
            got = [
                (b.commodity, b.lot_id, b.amount) for b in balances(s, codes, as_of, by_lot=by_lot)
            ]
            assert got == brute_balances(s, codes, as_of, by_lot), (codes, as_of, by_lot)
            for com in ("KHR", "MEDX") if per_commodity else ():
                one = [
                    (b.commodity, b.lot_id, b.amount)
                    for b in balances(s, codes, as_of, by_lot=by_lot, commodity=com)
                ]
                assert one == brute_balances(s, codes, as_of, by_lot, com), (codes, as_of, com)
        assert balance_of(s, codes, "KHR", as_of) == sum(
            v for _c, _l, v in brute_balances(s, codes, as_of, False, "KHR")
        )
    # several accounts at several dates in one read (the pharmacy statement's)
    dates = [as_of, date.fromordinal(max(1, as_of.toordinal() - 17)), as_of]
    accounts = ["1010", "4000", "1200-PA", "1200-PB", "5000", "5200"]
    got_at = {k: v for k, v in account_balances(s, accounts, dates).items() if v}
    assert got_at == {
        (d, a, c): v
        for d in dates
        for a in accounts
        for c, _lot, v in brute_balances(s, [a], d, False)
    }, as_of
    brute = brute_trial_balance(s, as_of)
    tb = {(r.account, r.commodity): r.balance for r in trial_balance(s, as_of)}
    assert tb == brute, as_of
    tb_khr = {(r.account, r.commodity): r.balance for r in trial_balance(s, as_of, "KHR")}
    assert tb_khr == {k: v for k, v in brute.items() if k[1] == "KHR"}


#: as-of dates worth a look: the ends and starts of months, their neighbours, the middle
EDGES = sorted(
    {
        d
        for m in range(14)
        for d in (
            date(2025 + (10 + m) // 12, (10 + m) % 12 + 1, 1) - timedelta(days=1),
            date(2025 + (10 + m) // 12, (10 + m) % 12 + 1, 1),
            date(2025 + (10 + m) // 12, (10 + m) % 12 + 1, 2),
            date(2025 + (10 + m) // 12, (10 + m) % 12 + 1, 15),
            date(2025 + (10 + m) // 12, (10 + m) % 12 + 1, 16),
        )
    }
)


def test_month_totals_and_as_of_balances_after_random_entries(database_url: str) -> None:
    db = _db(database_url)
    try:
        lot_ids = _setup(db)

        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(
            batch=st.lists(drafts(lot_ids), min_size=1, max_size=6),
            some_day=st.dates(FIRST - timedelta(days=40), LAST + timedelta(days=40)),
            near=st.tuples(st.integers(0, 5), st.integers(-1, 1)),
        )
        def run(batch: list[EntryDraft], some_day: date, near: tuple[int, int]) -> None:
            # every example adds to the same books; the checks are over the whole table
            with db.session() as s:
                for draft in batch:
                    post_entry(s, draft, created_by="test")
                s.commit()
            i, shift = near
            with db.session() as s:
                assert_month_totals_equal_postings(s)
                assert_as_of(s, some_day)
                # a day with postings, or next to one
                near_day = batch[i % len(batch)].service_date + timedelta(days=shift)
                assert_as_of(s, near_day)
                assert_range_totals(s, min(some_day, near_day), max(some_day, near_day))
                assert_range_totals(s, near_day.replace(day=1), near_day)

        run()
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(MonthTotal))
            for as_of in [
                FIRST - timedelta(days=1),
                *EDGES,
                LAST,
                date(9999, 12, 31),
                date(1, 1, 1),
            ]:
                assert_as_of(s, as_of, per_commodity=False)
            for start, end in [
                (date(1, 1, 1), date(9999, 12, 31)),
                (date(1, 1, 2), LAST),
                (date(9999, 12, 5), date(9999, 12, 30)),
                (FIRST, LAST),
                (date(2026, 2, 1), date(2026, 2, 28)),
                (date(2026, 1, 31), date(2026, 3, 1)),
                (date(2026, 1, 2), date(2026, 2, 27)),
                (date(2026, 3, 9), date(2026, 3, 9)),
            ]:
                assert_range_totals(s, start, end)
    finally:
        db.dispose()


def test_as_of_every_day_of_two_months(database_url: str) -> None:
    """Every day of two months, on an account with postings on most days and across stripes,
    and balances at both sides of each month's middle."""
    db = _db(database_url)
    try:
        _setup(db)
        with db.session() as s:
            d = date(2026, 8, 1)
            n = 0
            while d <= date(2026, 9, 30):
                if d.day % 7:
                    n += 1
                    post_entry(
                        s,
                        EntryDraft(
                            d,
                            "daily",
                            (
                                PostingDraft("1200-PA", "KHR", 100 * n + d.day),
                                PostingDraft("4000", "KHR", -(100 * n + d.day)),
                            ),
                            partition=["PA", "PB", "PC"][n % 3],
                        ),
                        created_by="test",
                    )
                d += timedelta(days=1)
            s.commit()
        with db.session() as s:
            assert_month_totals_equal_postings(s)
            d = date(2026, 7, 30)
            while d <= date(2026, 10, 2):
                for codes in (["1200-PA"], ["4000"]):
                    got = [(b.commodity, b.lot_id, b.amount) for b in balances(s, codes, d)]
                    assert got == brute_balances(s, codes, d, True), (codes, d)
                    assert balance_of(s, codes, "KHR", d) == sum(
                        v for _c, _l, v in brute_balances(s, codes, d, False, "KHR")
                    )
                assert {
                    (r.account, r.commodity): r.balance for r in trial_balance(s, d)
                } == brute_trial_balance(s, d)
                assert_range_totals(s, d, d + timedelta(days=33))
                assert_range_totals(s, d.replace(day=1), d)
                month_start = d.replace(day=1)
                both = {
                    k: v
                    for k, v in account_balances(
                        s, ["1200-PA", "4000"], [d, month_start, d - timedelta(days=1)]
                    ).items()
                    if v
                }
                assert both == {
                    (x, a, "KHR"): v
                    for x in (d, month_start, d - timedelta(days=1))
                    for a in ("1200-PA", "4000")
                    for _c, _l, v in brute_balances(s, [a], x, False)
                }, d
                d += timedelta(days=1)
    finally:
        db.dispose()


def test_postgres_month_totals_refuse_direct_writes_as_balances_do(postgres_url: str) -> None:
    db = _db(postgres_url)
    try:
        _setup(db)
        with db.session() as s:
            post_entry(
                s,
                EntryDraft(
                    date(2026, 10, 14),
                    "one",
                    (
                        PostingDraft("1010", "KHR", 500),
                        PostingDraft("3000", "KHR", -500),
                    ),
                    partition="PA",
                ),
                created_by="test",
            )
            s.commit()
        refused = [
            "UPDATE {t} SET amount = amount + 1",
            "DELETE FROM {t}",
            "TRUNCATE {t}",
        ]
        for table in ("balances", "month_totals"):
            for sql in refused:
                if table == "balances" and sql.startswith("TRUNCATE"):
                    continue  # kept balances have no TRUNCATE guard; month totals do
                with db.engine.connect() as c:
                    with pytest.raises(DBAPIError) as exc:
                        c.execute(text(sql.format(t=table)))
                    assert getattr(exc.value.orig, "sqlstate", None) == "42501", (table, sql)
                    c.rollback()
        with db.engine.connect() as c:
            with pytest.raises(DBAPIError) as exc:
                c.execute(
                    text(
                        "INSERT INTO month_totals (account_code, commodity, month, lot_key, stripe,"
                        " amount) VALUES ('1010', 'KHR', '2026-12-01', 0, 0, 1)"
                    )
                )
            assert getattr(exc.value.orig, "sqlstate", None) == "42501"
            c.rollback()
        with db.session() as s:
            assert_month_totals_equal_postings(s)
            assert [
                (m.month, m.amount)
                for m in s.scalars(select(MonthTotal).where(MonthTotal.account_code == "1010"))
            ] == [(date(2026, 10, 1), 500)]
    finally:
        db.dispose()


# ----------------------------------------------------------------------------- migration


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all (not a copy of the migrated template)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
        return
    require_postgres()
    name = f"rdf_t_mt_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine()
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _upgrade_all_but_0008(url: str) -> None:
    cfg = alembic_config(url)
    script = ScriptDirectory.from_config(cfg)
    for head in script.get_heads():
        below = {r.revision for r in script.iterate_revisions(head, "base")}
        if "0008" not in below:
            command.upgrade(cfg, head)


def _raw_entry(c: Connection, on: date, postings: list[tuple[str, int, int]]) -> None:
    """One entry written in SQL, as the service did before 0008 (the 0001 triggers keep the
    balances): (account, amount, stripe)."""
    eid = c.execute(
        text(
            "INSERT INTO entries (service_date, accounting_date, memo, created_at, created_by) "
            "VALUES (:d, :d, 'before 0008', :t, 'test') RETURNING id"
        ),
        {"d": on, "t": clock.now()},
    ).scalar_one()
    for acc, amount, stripe in postings:
        c.execute(
            text(
                "INSERT INTO postings (entry_id, account_code, commodity, amount, accounting_date,"
                " stripe) VALUES (:e, :a, 'KHR', :m, :d, :s)"
            ),
            {"e": eid, "a": acc, "m": amount, "d": on, "s": stripe},
        )


def test_migration_0008_backfills_month_totals_from_existing_postings(
    empty_database: str,
) -> None:
    _upgrade_all_but_0008(empty_database)
    eng = create_engine(empty_database)
    try:
        with eng.begin() as c:
            assert "month_totals" not in _tables(c)
            for i in range(40):
                on = date(2025, 12, 20) + timedelta(days=7 * i)
                amount = 1000 + 37 * i
                _raw_entry(c, on, [("1010", amount, i % 3), ("4000", -amount, i % 5)])
            _raw_entry(c, date(2026, 2, 3), [("1010", 5, 0), ("4000", -5, 0)])
            _raw_entry(c, date(2026, 2, 9), [("1010", -5, 0), ("4000", 5, 0)])  # month nets 0
        command.upgrade(alembic_config(empty_database), "heads")
        with Session(eng) as s:
            assert_month_totals_equal_postings(s)
            rows = s.scalar(select(func.count()).select_from(MonthTotal))
            assert rows and rows > 12
            for as_of in EDGES + [date(2026, 9, 9), date(2026, 9, 20)]:
                for codes in (["1010"], ["4000"]):
                    got = [(b.commodity, b.lot_id, b.amount) for b in balances(s, codes, as_of)]
                    assert got == brute_balances(s, codes, as_of, True), (codes, as_of)
            # and the trigger carries on from the backfilled rows
            post_entry(
                s,
                EntryDraft(
                    date(2026, 2, 14),
                    "after 0008",
                    (PostingDraft("1010", "KHR", 7), PostingDraft("4000", "KHR", -7)),
                ),
                created_by="test",
            )
            s.commit()
            assert_month_totals_equal_postings(s)
    finally:
        eng.dispose()


def _tables(c: Connection) -> set[str]:
    return set(inspect(c).get_table_names())
