"""Random sequences of entries, retries and reversals keep every invariant of the books.

A hypothesis state machine drives the service layer (``post_entry``, ``reverse_entry``)
with a model of what each account should hold. After every step: each entry balances per
commodity, each kept balance equals the sum of its postings, retries posted nothing, and
the trial balance equals the model. One database per test (SQLite, and PostgreSQL when
configured); each run of the machine starts from whatever the previous runs left and
checks only its own deltas, so no database has to be made per example.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)
from sqlalchemy import event, func, select

from ledger.db import Database
from ledger.errors import Conflict, IdempotencyConflict, UnbalancedEntry
from ledger.journal import reverse_entry
from ledger.model import EntryDraft, PostingDraft
from ledger.posting import post_entry, request_hash
from ledger.queries import trial_balance
from ledger.tables import Balance, Entry, Posting

ACCOUNTS = {"KHR": ["1010", "3000", "4000", "5100"], "USD": ["1020", "3000", "4000", "5100"]}
START = date(2026, 1, 1)

amounts = st.integers(min_value=-(10**9), max_value=10**9).filter(lambda a: a != 0)


@st.composite
def entries(draw: st.DrawFn) -> EntryDraft:
    postings: list[PostingDraft] = []
    for commodity in draw(st.sampled_from([["KHR"], ["USD"], ["KHR", "USD"]])):
        accounts = ACCOUNTS[commodity]
        n = draw(st.integers(2, 4))
        legs = [draw(amounts) for _ in range(n - 1)]
        last = -sum(legs)
        if last == 0:
            legs, last = [legs[0]], -legs[0]
        for a in [*legs, last]:
            postings.append(PostingDraft(draw(st.sampled_from(accounts)), commodity, a))
    return EntryDraft(
        service_date=START + timedelta(days=draw(st.integers(0, 320))),
        # Memos are text a database can store (validate_entry refuses NUL and lone
        # surrogates; see test_model).
        memo=draw(
            st.text(
                st.characters(exclude_characters="\x00", exclude_categories=["Cs"]),
                min_size=1,
                max_size=20,
            )
        ),
        postings=tuple(postings),
        source="test:property",
        partition=draw(st.sampled_from([None, "P1", "P2", "P3"])),
    )


def _hash(draft: EntryDraft) -> str:
    return request_hash([(p.account, p.commodity, p.amount) for p in draft.postings] + [draft.memo])


class LedgerMachine(RuleBasedStateMachine):
    db: Database

    posted = Bundle("posted")
    keyed = Bundle("keyed")

    def __init__(self) -> None:
        super().__init__()
        self.run = uuid.uuid4().hex[:8]
        self.counter = 0
        self.expected: Counter[tuple[str, str]] = Counter()
        self.new_entries = 0
        self.reversed: set[int] = set()
        with self.db.session() as s:
            self.base = {(r.account, r.commodity): r.balance for r in trial_balance(s)}
            self.base_entries = s.scalar(select(func.count()).select_from(Entry)) or 0

    @initialize()
    def start(self) -> None:
        pass

    def _apply(self, draft: EntryDraft, sign: int = 1) -> None:
        for p in draft.postings:
            self.expected[(p.account, p.commodity)] += sign * p.amount

    @rule(target=posted, draft=entries(), with_key=st.booleans())
    def post(self, draft: EntryDraft, with_key: bool) -> Any:
        self.counter += 1
        key = f"prop-{self.run}-{self.counter}" if with_key else None
        with self.db.session() as s:
            e = post_entry(
                s,
                draft,
                created_by="prop",
                idempotency_key=key,
                body_hash=_hash(draft) if key else None,
            )
            s.commit()
        assert not e.replayed
        self.new_entries += 1
        self._apply(draft)
        return (e.id, draft, key)

    @rule(item=posted)
    def retry(self, item: Any) -> None:
        entry_id, draft, key = item
        if key is None:
            return
        with self.db.session() as s:
            again = post_entry(
                s, draft, created_by="prop", idempotency_key=key, body_hash=_hash(draft)
            )
            s.commit()
        assert again.id == entry_id and again.replayed

    @rule(item=posted, other=entries())
    def retry_with_another_body(self, item: Any, other: EntryDraft) -> None:
        _entry_id, draft, key = item
        if key is None or _hash(other) == _hash(draft):
            return
        with self.db.session() as s:
            with pytest.raises(IdempotencyConflict):
                post_entry(s, other, created_by="prop", idempotency_key=key, body_hash=_hash(other))
            s.rollback()

    @rule(draft=entries(), delta=amounts)
    def unbalanced_is_refused(self, draft: EntryDraft, delta: int) -> None:
        p0 = draft.postings[0]
        bad = EntryDraft(
            draft.service_date,
            draft.memo,
            (PostingDraft(p0.account, p0.commodity, p0.amount + delta), *draft.postings[1:]),
        )
        if p0.amount + delta == 0:
            return
        with self.db.session() as s:
            with pytest.raises(UnbalancedEntry):
                post_entry(s, bad, created_by="prop")
            s.rollback()

    @rule(item=consumes(posted))
    def reverse(self, item: Any) -> None:
        entry_id, draft, _key = item
        with self.db.session() as s:
            rev = reverse_entry(s, str(entry_id), on=None, memo=None, by="prop")
            s.commit()
        self.new_entries += 1
        self._apply(draft, -1)
        self.reversed |= {entry_id, rev.id}

    @rule()
    def reversing_twice_is_refused(self) -> None:
        if not self.reversed:
            return
        with self.db.session() as s:
            for entry_id in sorted(self.reversed)[:3]:
                with pytest.raises(Conflict):
                    reverse_entry(s, str(entry_id), on=None, memo=None, by="prop")
                s.rollback()

    @invariant()
    def every_entry_balances_per_commodity(self) -> None:
        with self.db.session() as s:
            bad = s.execute(
                select(Posting.entry_id, Posting.commodity)
                .group_by(Posting.entry_id, Posting.commodity)
                .having(func.sum(Posting.amount) != 0)
            ).all()
            assert bad == []

    @invariant()
    def every_kept_balance_equals_the_sum_of_its_postings(self) -> None:
        with self.db.session() as s:
            from_postings = {
                (a, c, int(lk or 0), int(st_)): int(v)
                for a, c, lk, st_, v in s.execute(
                    select(
                        Posting.account_code,
                        Posting.commodity,
                        Posting.lot_id,
                        Posting.stripe,
                        func.sum(Posting.amount),
                    ).group_by(
                        Posting.account_code,
                        Posting.commodity,
                        Posting.lot_id,
                        Posting.stripe,
                    )
                )
            }
            kept = {
                (a, c, int(lk), int(st_)): int(v)
                for a, c, lk, st_, v in s.execute(
                    select(
                        Balance.account_code,
                        Balance.commodity,
                        Balance.lot_key,
                        Balance.stripe,
                        Balance.amount,
                    )
                )
            }
            assert {k: v for k, v in kept.items() if v} == {
                k: v for k, v in from_postings.items() if v
            }

    @invariant()
    def retries_post_nothing_and_the_trial_balance_equals_the_model(self) -> None:
        with self.db.session() as s:
            count = s.scalar(select(func.count()).select_from(Entry))
            assert count == self.base_entries + self.new_entries
            tb = {(r.account, r.commodity): r.balance for r in trial_balance(s)}
        want = Counter(self.base)
        want.update(self.expected)
        assert tb == {k: v for k, v in want.items() if v}
        for commodity in ("KHR", "USD"):
            assert sum(v for (_a, c), v in tb.items() if c == commodity) == 0


def test_random_entries_retries_and_reversals_keep_every_invariant(database_url: str) -> None:
    db = Database(database_url)
    if database_url.startswith("sqlite"):
        # a throwaway file: do not wait for the disk on every commit
        event.listen(
            db.engine, "connect", lambda conn, _rec: conn.execute("PRAGMA synchronous=OFF")
        )
    try:
        LedgerMachine.db = db
        run = LedgerMachine.TestCase
        run.settings = settings(max_examples=30, stateful_step_count=10, deadline=None)
        run().runTest()
    finally:
        db.dispose()
