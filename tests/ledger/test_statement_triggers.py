"""PostgreSQL only: the statement-level posting triggers of revision 0010.

* one INSERT of the postings of several entries folds into the kept balances and month
  totals exactly (compared with sums over the postings), on new and on existing rows; so
  do two INSERTs of one statement (CTEs), a MERGE and a COPY;
* a statement that takes an inventory lot below zero is refused whole and changes nothing
  (an existing lot row and a lot row the statement would create); the CHECK judges the
  statement's folded sum;
* an unbalanced entry written in raw SQL is refused at commit, also when its postings came
  in several statements, also in immediate mode, also when the check already ran once
  (``SET CONSTRAINTS … IMMEDIATE``) before more postings came; a posting added to a
  committed entry by a later transaction is refused; an entry built over two (or three)
  INSERTs that balances at commit is accepted; savepoints keep all of that;
* direct writes to balances and month totals are still refused, the empty balance row the
  service makes before locking is still allowed;
* two writers whose statements name the same kept balances in opposite orders do not
  deadlock (the fold locks in key order);
* the migration's downgrade gives back the row triggers of 0001 and 0008, exactly.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from commands import alembic_config, upgrade
from tests.conftest import _admin_engine, _pg_url, require_postgres

OCT = date(2026, 10, 14)
NOV = date(2026, 11, 2)
MONTH = "date_trunc('month', accounting_date::timestamp)::date"

#: (account, commodity, lot id or None, amount, stripe)
Posting = tuple[str, str, int | None, int, int]


@pytest.fixture
def eng(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO commodities (code, kind, exponent, name)"
                " VALUES ('MET500', 'medicine', 0, 'Metformin 500 mg')"
            )
        )
        c.execute(
            text(
                "INSERT INTO lots (id, commodity, lot_code, expiry_on, received_on)"
                " VALUES (71, 'MET500', 'L71', '2028-03-31', '2026-10-01'),"
                "        (72, 'MET500', 'L72', '2028-06-30', '2026-10-01')"
            )
        )
    yield engine
    engine.dispose()


def new_entry(c: Connection, on: date = OCT, memo: str = "raw") -> int:
    eid: int = c.execute(
        text(
            "INSERT INTO entries (service_date, accounting_date, memo, created_at, created_by)"
            " VALUES (:d, :d, :m, now(), 'test') RETURNING id"
        ),
        {"d": on, "m": memo},
    ).scalar_one()
    return eid


def insert_postings(c: Connection, rows: list[tuple[int, date, Posting]]) -> None:
    """All ``rows`` (entry id, accounting date, posting) in ONE INSERT statement."""
    values = []
    params: dict[str, Any] = {}
    for i, (eid, on, (acc, com, lot, amount, stripe)) in enumerate(rows):
        values.append(f"(:e{i}, :a{i}, :c{i}, :l{i}, :m{i}, :d{i}, :s{i})")
        params.update(
            {
                f"e{i}": eid,
                f"a{i}": acc,
                f"c{i}": com,
                f"l{i}": lot,
                f"m{i}": amount,
                f"d{i}": on,
                f"s{i}": stripe,
            }
        )
    c.execute(
        text(
            "INSERT INTO postings (entry_id, account_code, commodity, lot_id, amount,"
            " accounting_date, stripe) VALUES " + ", ".join(values)
        ),
        params,
    )


def post(c: Connection, on: date, *postings: Posting) -> int:
    eid = new_entry(c, on)
    insert_postings(c, [(eid, on, p) for p in postings])
    return eid


def receipt(qty: int, lot: int = 71, value: int = 35 * 1000) -> tuple[Posting, ...]:
    return (
        ("1400-CENTRAL", "MET500", lot, qty, 0),
        ("9000", "MET500", lot, -qty, 0),
        ("1400-CENTRAL", "KHR", lot, value, 0),
        ("3000", "KHR", None, -value, 0),
    )


def issue(qty: int, lot: int = 71, value: int = 35) -> tuple[Posting, ...]:
    return (
        ("5000", "MET500", lot, qty, 3),
        ("1400-CENTRAL", "MET500", lot, -qty, 0),
        ("5000", "KHR", None, value * qty, 3),
        ("1400-CENTRAL", "KHR", lot, -value * qty, 0),
    )


def books(eng: Engine) -> tuple[Any, ...]:
    with eng.connect() as c:
        return tuple(
            c.execute(text(sql)).all()
            for sql in (
                "SELECT * FROM entries ORDER BY id",
                "SELECT * FROM postings ORDER BY id",
                "SELECT account_code, commodity, lot_key, stripe, amount, nonneg FROM balances"
                " ORDER BY 1, 2, 3, 4",
                "SELECT * FROM month_totals ORDER BY 1, 2, 3, 4, 5",
                "SELECT count(*) FROM entry_checks",
            )
        )


def assert_kept_equal_postings(eng: Engine) -> None:
    with eng.connect() as c:
        kept = {
            tuple(r[:4]): (int(r[4]), bool(r[5]))
            for r in c.execute(
                text(
                    "SELECT b.account_code, b.commodity, b.lot_key, b.stripe, b.amount, b.nonneg"
                    "  FROM balances b"
                )
            )
        }
        summed = {
            tuple(r[:4]): int(r[4])
            for r in c.execute(
                text(
                    "SELECT account_code, commodity, COALESCE(lot_id, 0), stripe, SUM(amount)"
                    "  FROM postings GROUP BY 1, 2, 3, 4"
                )
            )
        }
        inventory = {r[0] for r in c.execute(text("SELECT code FROM accounts WHERE is_inventory"))}
        months = {
            tuple(r[:5]): tuple(int(v) for v in r[5:])
            for r in c.execute(
                text(
                    "SELECT account_code, commodity, month, lot_key, stripe, amount, debit, credit"
                    "  FROM month_totals"
                )
            )
        }
        summed_months = {
            tuple(r[:5]): tuple(int(v) for v in r[5:])
            for r in c.execute(
                text(
                    f"SELECT account_code, commodity, {MONTH}, COALESCE(lot_id, 0), stripe,"
                    "        SUM(amount), SUM(GREATEST(amount, 0)), SUM(GREATEST(-amount, 0))"
                    "  FROM postings GROUP BY 1, 2, 3, 4, 5"
                )
            )
        }
    # every key of the postings has its kept balance, equal to their sum; rows made ready
    # empty (amount 0, no postings) are the only others
    assert {k: a for k, (a, _n) in kept.items() if k in summed} == summed
    assert all(a == 0 for k, (a, _n) in kept.items() if k not in summed)
    # nonneg exactly on lots of inventory accounts
    assert all(n == (k[2] != 0 and k[0] in inventory) for k, (_a, n) in kept.items() if k in summed)
    assert months == summed_months


def refused(eng: Engine, work: Any) -> str:
    """Run ``work(connection)`` in one transaction that must fail (at a statement or at
    commit); the error's text."""
    with pytest.raises(DBAPIError) as exc, eng.begin() as c:
        work(c)
    return str(exc.value.orig)


# -- folding -------------------------------------------------------------------------------


def test_one_insert_of_several_entries_folds_into_balances_and_month_totals(
    eng: Engine,
) -> None:
    for rnd in range(2):  # the first round makes the kept rows, the second updates them
        with eng.begin() as c:
            e = [new_entry(c, d) for d in (OCT, OCT, NOV, NOV, OCT)]
            rows: list[tuple[int, date, Posting]] = []
            rows += [(e[0], OCT, p) for p in receipt(1000 + rnd)]
            rows += [(e[1], OCT, p) for p in issue(60)]
            rows += [(e[2], NOV, p) for p in issue(40)]
            rows += [(e[2], NOV, p) for p in issue(15, lot=71, value=36)]  # same keys again
            rows += [(e[3], NOV, p) for p in receipt(200, lot=72)]
            rows += [(e[4], OCT, ("1010", "KHR", None, 500 + rnd, s)) for s in (0, 1, 2)]
            rows += [(e[4], OCT, ("3000", "KHR", None, -(500 + rnd), s)) for s in (2, 0, 1)]
            # interleave the entries: the statement's row order must not matter
            rows = rows[1::2] + rows[::2]
            insert_postings(c, rows)
        assert_kept_equal_postings(eng)
    with eng.connect() as c:
        lot71 = c.execute(
            text(
                "SELECT amount, nonneg FROM balances WHERE account_code = '1400-CENTRAL'"
                " AND commodity = 'MET500' AND lot_key = 71"
            )
        ).one()
        assert tuple(lot71) == (2 * 1000 + 1 - 2 * (60 + 40 + 15), True)
        memo = c.execute(
            text("SELECT nonneg FROM balances WHERE account_code = '9000' AND lot_key = 71")
        ).one()
        assert memo[0] is False  # a lot of a memo account may go below zero
        nov = c.execute(
            text(
                "SELECT amount, debit, credit FROM month_totals WHERE account_code = "
                "'1400-CENTRAL' AND commodity = 'MET500' AND lot_key = 71 AND month = '2026-11-01'"
            )
        ).one()
        assert tuple(nov) == (-2 * 55, 0, 2 * 55)
        assert c.execute(text("SELECT count(*) FROM entry_checks")).scalar_one() == 0


def test_two_inserts_of_one_statement_a_merge_and_a_copy_fold_too(eng: Engine) -> None:
    with eng.begin() as c:
        e1, e2 = new_entry(c), new_entry(c)
        c.execute(
            text(
                "WITH a AS (INSERT INTO postings (entry_id, account_code, commodity, amount,"
                "           accounting_date) VALUES (:e1, '1010', 'KHR', 70, :d),"
                "                                   (:e2, '1010', 'KHR', 5, :d)),"
                "     b AS (INSERT INTO postings (entry_id, account_code, commodity, amount,"
                "           accounting_date) VALUES (:e1, '3000', 'KHR', -70, :d),"
                "                                   (:e2, '3000', 'KHR', -5, :d))"
                " SELECT 1"
            ),
            {"e1": e1, "e2": e2, "d": OCT},
        )
    assert_kept_equal_postings(eng)
    msg = refused(
        eng,
        lambda c: c.execute(
            text(
                "MERGE INTO postings p USING (VALUES (:e, '1010', 40), (:e, '3000', -39)) v(e, a, m)"
                " ON false WHEN NOT MATCHED THEN INSERT (entry_id, account_code, commodity, amount,"
                " accounting_date) VALUES (v.e, v.a, 'KHR', v.m, :d)"
            ),
            {"e": e1, "d": OCT},
        ),
    )
    assert f"entry {e1} does not balance" in msg
    with eng.begin() as c:
        c.execute(
            text(
                "MERGE INTO postings p USING (VALUES (:e, '1010', 40), (:e, '3000', -40)) v(e, a, m)"
                " ON false WHEN NOT MATCHED THEN INSERT (entry_id, account_code, commodity, amount,"
                " accounting_date) VALUES (v.e, v.a, 'KHR', v.m, :d)"
            ),
            {"e": new_entry(c, NOV), "d": NOV},
        )
    assert_kept_equal_postings(eng)
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "INSERT INTO entries (service_date, accounting_date, memo, created_at,"
            " created_by) VALUES (%s, %s, 'copy', now(), 'test') RETURNING id",
            (NOV, NOV),
        )
        row = cur.fetchone()
        assert row is not None
        eid = row[0]
        with cur.copy(
            "COPY postings (entry_id, account_code, commodity, amount, accounting_date) FROM STDIN"
        ) as cp:
            cp.write_row((eid, "1010", "KHR", 9, NOV))
            cp.write_row((eid, "4000", "KHR", -9, NOV))
        raw.commit()
    finally:
        raw.close()
    assert_kept_equal_postings(eng)


# -- the lot that must not go below zero ---------------------------------------------------


def test_a_statement_taking_an_inventory_lot_below_zero_is_refused_whole(eng: Engine) -> None:
    with eng.begin() as c:
        post(c, OCT, *receipt(100))
    before = books(eng)

    def two_issues(c: Connection) -> None:  # 60 + 60 of 100, in one statement
        e1, e2 = new_entry(c), new_entry(c)
        insert_postings(c, [(e1, OCT, p) for p in issue(60)] + [(e2, OCT, p) for p in issue(60)])

    assert "ck_balance_lot_nonnegative" in refused(eng, two_issues)
    # a lot never received at this account: the kept row the statement would make
    msg = refused(eng, lambda c: post(c, OCT, *issue(1, lot=72)))
    assert "ck_balance_lot_nonnegative" in msg
    assert books(eng) == before
    # the CHECK judges the statement's folded sum: 150 received and 120 issued in one
    # statement leave 130 (taken alone, the issues would go below zero first)
    with eng.begin() as c:
        e1, e2, e3 = new_entry(c), new_entry(c), new_entry(c)
        insert_postings(
            c,
            [(e1, OCT, p) for p in issue(60)]
            + [(e2, OCT, p) for p in issue(60)]
            + [(e3, OCT, p) for p in receipt(150)],
        )
        left = c.execute(
            text(
                "SELECT amount FROM balances WHERE account_code = '1400-CENTRAL'"
                " AND commodity = 'MET500' AND lot_key = 71"
            )
        ).scalar_one()
        assert left == 100 - 120 + 150
    assert_kept_equal_postings(eng)
    # and to exactly zero is fine
    with eng.begin() as c:
        post(c, OCT, *issue(130))
    assert_kept_equal_postings(eng)


def test_a_lot_of_an_account_that_is_not_inventory_may_go_below_zero(eng: Engine) -> None:
    with eng.begin() as c:  # 5000 per lot, new row, negative: allowed as before
        post(c, OCT, ("5000", "MET500", 72, -5, 3), ("5200", "MET500", 72, 5, 3))
    assert_kept_equal_postings(eng)


# -- every entry balances ------------------------------------------------------------------


def test_an_unbalanced_entry_in_raw_sql_is_refused_at_commit(eng: Engine) -> None:
    with eng.begin() as c:
        post(c, OCT, ("1010", "KHR", None, 800, 0), ("3000", "KHR", None, -800, 0))
    before = books(eng)
    seen: list[str] = []

    def unbalanced(c: Connection) -> None:
        post(c, OCT, ("1010", "KHR", None, 500, 0), ("3000", "KHR", None, -499, 0))
        seen.append("inserted")  # the statement itself passes: the check waits for commit

    assert "does not balance in KHR" in refused(eng, unbalanced)
    assert seen == ["inserted"]
    # balanced in sum but not per commodity
    msg = refused(
        eng, lambda c: post(c, OCT, ("1010", "KHR", None, 500, 0), ("3000", "USD", None, -500, 0))
    )
    assert "does not balance" in msg

    # one bad entry among good ones in the same statement: the whole transaction goes
    def among_good(c: Connection) -> None:
        ids = [new_entry(c) for _ in range(5)]
        rows: list[tuple[int, date, Posting]] = [
            (e, OCT, p)
            for e in ids
            for p in (("1010", "KHR", None, 7, 0), ("3000", "KHR", None, -7, 0))
        ]
        rows.append((ids[3], OCT, ("4000", "KHR", None, -1, 0)))
        insert_postings(c, rows)

    assert "does not balance" in refused(eng, among_good)
    assert books(eng) == before


def test_a_posting_added_later_to_a_committed_entry_is_refused(eng: Engine) -> None:
    with eng.begin() as c:
        eid = post(c, OCT, ("1010", "KHR", None, 800, 0), ("3000", "KHR", None, -800, 0))
    before = books(eng)
    msg = refused(eng, lambda c: insert_postings(c, [(eid, OCT, ("5100", "KHR", None, 1, 0))]))
    assert f"entry {eid} does not balance" in msg

    # also with a new entry that balances in the same statement
    def with_a_good_one(c: Connection) -> None:
        other = new_entry(c)
        insert_postings(
            c,
            [
                (other, OCT, ("1010", "KHR", None, 3, 0)),
                (other, OCT, ("3000", "KHR", None, -3, 0)),
                (eid, OCT, ("4000", "KHR", None, -2, 0)),
            ],
        )

    assert f"entry {eid} does not balance" in refused(eng, with_a_good_one)
    assert books(eng) == before


def test_an_entry_built_over_several_statements_is_checked_at_commit(eng: Engine) -> None:
    with eng.begin() as c:  # two statements, balanced at commit: accepted
        eid = new_entry(c)
        insert_postings(c, [(eid, OCT, ("1010", "KHR", None, 250, 0))])
        insert_postings(c, [(eid, OCT, ("3000", "KHR", None, -250, 0))])
    with eng.begin() as c:  # three, unbalanced after the second: accepted
        eid = new_entry(c)
        insert_postings(c, [(eid, OCT, ("1010", "KHR", None, 40, 0))])
        insert_postings(c, [(eid, OCT, ("3000", "KHR", None, -60, 0))])
        insert_postings(c, [(eid, OCT, ("5100", "KHR", None, 20, 0))])
    assert_kept_equal_postings(eng)
    before = books(eng)

    def balanced_then_not(c: Connection) -> None:  # the last statement unbalances it
        eid = new_entry(c)
        insert_postings(
            c, [(eid, OCT, ("1010", "KHR", None, 40, 0)), (eid, OCT, ("3000", "KHR", None, -40, 0))]
        )
        insert_postings(c, [(eid, OCT, ("5100", "KHR", None, 1, 0))])

    assert "does not balance" in refused(eng, balanced_then_not)
    assert books(eng) == before


def test_immediate_mode_checks_each_statement_and_an_early_check_is_not_the_last(
    eng: Engine,
) -> None:
    before = books(eng)

    def immediate(c: Connection) -> None:  # as with the row trigger: at each statement
        c.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
        eid = new_entry(c)
        insert_postings(c, [(eid, OCT, ("1010", "KHR", None, 250, 0))])

    assert "does not balance" in refused(eng, immediate)
    with eng.begin() as c:
        c.execute(text("SET CONSTRAINTS postings_balanced IMMEDIATE"))
        post(c, OCT, ("1010", "KHR", None, 9, 0), ("3000", "KHR", None, -9, 0))

    def checked_early_then_more(c: Connection) -> None:
        eid = post(c, OCT, ("1010", "KHR", None, 250, 0), ("3000", "KHR", None, -250, 0))
        c.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # the check runs now, and passes
        c.execute(text("SET CONSTRAINTS ALL DEFERRED"))
        insert_postings(c, [(eid, OCT, ("5100", "KHR", None, 1, 0))])  # checked again

    assert "does not balance" in refused(eng, checked_early_then_more)
    after = books(eng)  # only the balanced entry of the second transaction
    assert (len(after[0]), len(after[1])) == (len(before[0]) + 1, len(before[1]) + 2)


def test_savepoints(eng: Engine) -> None:
    with eng.begin() as c:  # postings of a rolled-back savepoint are gone, with their check
        eid = post(c, OCT, ("1010", "KHR", None, 30, 0), ("3000", "KHR", None, -30, 0))
        sp = c.begin_nested()
        insert_postings(c, [(eid, OCT, ("5100", "KHR", None, 1, 0))])
        sp.rollback()
    assert_kept_equal_postings(eng)
    before = books(eng)

    def early_check_rolled_back(c: Connection) -> None:
        eid = post(c, OCT, ("1010", "KHR", None, 30, 0))  # unbalanced so far
        sp = c.begin_nested()
        insert_postings(c, [(eid, OCT, ("3000", "KHR", None, -30, 0))])
        c.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # both checks fire, both pass
        sp.rollback()  # the posting goes, the first check fires again at commit

    assert "does not balance" in refused(eng, early_check_rolled_back)
    with eng.begin() as c:  # released savepoints keep their postings and their checks
        eid = new_entry(c)
        with c.begin_nested():
            insert_postings(c, [(eid, OCT, ("1010", "KHR", None, 12, 0))])
        with c.begin_nested():
            insert_postings(c, [(eid, OCT, ("3000", "KHR", None, -12, 0))])
    assert len(books(eng)[1]) == len(before[1]) + 2
    assert_kept_equal_postings(eng)


# -- guards --------------------------------------------------------------------------------


def test_direct_writes_to_balances_and_month_totals_are_still_refused(eng: Engine) -> None:
    with eng.begin() as c:
        post(c, OCT, ("1010", "KHR", None, 800, 0), ("3000", "KHR", None, -800, 0))
    before = books(eng)
    for sql in (
        "INSERT INTO balances (account_code, commodity, lot_key, stripe, amount, nonneg)"
        " VALUES ('4000', 'KHR', 0, 7, 500, false)",
        "UPDATE balances SET amount = amount + 1",
        "DELETE FROM balances",
        "INSERT INTO balances (account_code, commodity, lot_key, stripe, amount, nonneg)"
        " VALUES ('1010', 'KHR', 0, 0, 5, false) ON CONFLICT (account_code, commodity,"
        " lot_key, stripe) DO UPDATE SET amount = balances.amount + EXCLUDED.amount",
        "INSERT INTO month_totals VALUES ('4000', 'KHR', '2026-10-01', 0, 0, 5, 5, 0)",
        "UPDATE month_totals SET amount = amount + 1, debit = debit + 1",
        "DELETE FROM month_totals",
        "TRUNCATE month_totals",
    ):
        msg = refused(eng, lambda c, sql=sql: c.execute(text(sql)))
        assert "change only through postings" in msg or "append-only" in msg, (sql, msg)
    assert books(eng) == before
    with eng.begin() as c:  # the empty row the service makes ready before it locks
        c.execute(
            text(
                "INSERT INTO balances (account_code, commodity, lot_key, stripe,"
                " amount, nonneg) VALUES ('4000', 'KHR', 0, 7, 0, false)"
            )
        )
    assert_kept_equal_postings(eng)


# -- lock order ----------------------------------------------------------------------------


def test_two_writers_naming_the_same_balances_in_opposite_orders_do_not_deadlock(
    eng: Engine,
) -> None:
    with eng.begin() as c:  # the kept rows exist
        post(c, OCT, ("1010", "KHR", None, 1, 0), ("3000", "KHR", None, -1, 0))
    first = eng.connect()
    second = eng.connect()
    errors: list[BaseException] = []
    try:
        pid2 = second.execute(text("SELECT pg_backend_pid()")).scalar_one()
        second.commit()
        t1 = first.begin()
        first.execute(text("SET LOCAL lock_timeout = '20s'"))
        e1 = new_entry(first)
        insert_postings(first, [(e1, OCT, ("1010", "KHR", None, 5, 0))])  # holds 1010

        def other() -> None:
            try:
                with second.begin():
                    second.execute(text("SET LOCAL lock_timeout = '20s'"))
                    e2 = new_entry(second)
                    # 3000 first in the statement; the fold locks 1010 first and waits there,
                    # holding nothing the first writer needs next
                    insert_postings(
                        second,
                        [
                            (e2, OCT, ("3000", "KHR", None, -7, 0)),
                            (e2, OCT, ("1010", "KHR", None, 7, 0)),
                        ],
                    )
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        th = threading.Thread(target=other)
        th.start()
        deadline = time.monotonic() + 20
        with eng.connect() as watch:
            while time.monotonic() < deadline:
                waiting = watch.execute(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :p"), {"p": pid2}
                ).scalar()
                if waiting == "Lock":
                    break
                time.sleep(0.02)
            else:
                pytest.fail("the second writer never waited for the first")
        insert_postings(first, [(e1, OCT, ("3000", "KHR", None, -5, 0))])  # 3000 is free
        t1.commit()
        th.join(30)
        assert not th.is_alive()
        assert not errors, errors
    finally:
        first.close()
        second.close()
    assert_kept_equal_postings(eng)


# -- the migration -------------------------------------------------------------------------


@pytest.fixture
def empty_pg() -> Iterator[str]:
    require_postgres()
    name = f"rdf_t_st_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine()
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


TRIGGERS = """
    SELECT c.relname, t.tgname, t.tgtype, t.tgdeferrable, t.tginitdeferred,
           t.tgfoid::regproc::text, pg_get_triggerdef(t.oid)
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE NOT t.tgisinternal
       AND c.relname IN ('postings', 'balances', 'month_totals', 'entry_checks')
     ORDER BY 1, 2
"""


def test_the_downgrade_gives_back_the_row_triggers(empty_pg: str) -> None:
    cfg = alembic_config(empty_pg)
    for head in ("0004", "0005", "0007", "0008", "0009"):
        command.upgrade(cfg, head)
    engine = create_engine(empty_pg)
    try:
        with engine.connect() as c:
            rows_0008 = c.execute(text(TRIGGERS)).all()
        upgrade(empty_pg)
        with engine.connect() as c:
            now = {r[1]: r for r in c.execute(text(TRIGGERS))}
            assert "FOR EACH STATEMENT" in now["postings_apply"][6]
            assert "FOR EACH STATEMENT" in now["postings_month_totals"][6]
            assert now["postings_balanced"][0] == "entry_checks"
        command.downgrade(cfg, "0008")
        with engine.connect() as c:
            assert c.execute(text(TRIGGERS)).all() == rows_0008
            assert "FOR EACH ROW" in next(r[6] for r in rows_0008 if r[1] == "postings_apply")
            assert c.execute(text("SELECT to_regclass('entry_checks')")).scalar() is None
        upgrade(empty_pg)
    finally:
        engine.dispose()
