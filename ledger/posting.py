"""The one function every write of the books goes through: ``post_entry``.

It validates the entry (accounts exist and can carry the commodity, lots are named where
inventory needs them, the entry balances per commodity), books it in an open month, locks
the kept balances it touches in a fixed order, refuses to take a lot below zero, and writes
the entry and its postings. Triggers then fold the postings into their kept balances and
month totals: per statement, in key order, on PostgreSQL (revision 0010); per row on SQLite.

Concurrency: on PostgreSQL the kept balance rows are locked with ``SELECT … ORDER BY …
FOR NO KEY UPDATE`` before anything is written, in one global order (account, commodity,
lot, stripe), so two entries never wait on each other in a cycle. Balance rows that do not
exist yet are created in a short transaction of their own first, so the locked set is
always made of committed rows. On SQLite the whole write transaction holds the database's
write lock from ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, insert, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from ledger import clock
from ledger.bulk import entry_ids, insert_rows
from ledger.db import Base, is_postgres, side_engine
from ledger.errors import (
    IdempotencyConflict,
    InsufficientStock,
    InvalidRequest,
    UnknownAccount,
    UnknownCommodity,
    no_such_commodity,
)
from ledger.model import (
    EntryDraft,
    PostingDraft,
    first_day_after,
    month_of,
    stripe_for,
    validate_entry,
)
from ledger.money import format_amount
from ledger.periods import booking_date
from ledger.refdata import LedgerRef
from ledger.tables import Account, Balance, Commodity, Entry, Lot, Posting


@dataclass(frozen=True)
class PostedEntry:
    id: int
    service_date: date
    accounting_date: date
    replayed: bool = False


BalanceKey = tuple[str, str, int, int]  # account, commodity, lot_key, stripe


def request_hash(payload: Any) -> str:
    """A stable hash of a request body (canonical JSON)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _references(
    session: Session, draft: EntryDraft, ref: LedgerRef | None
) -> tuple[Mapping[str, Account], Mapping[str, Commodity], Mapping[int, Lot]]:
    """The accounts, commodities and lots the draft names: from the reference snapshot
    when the caller has one (it is what this transaction sees), else read."""
    if ref is not None:
        return ref.accounts, ref.commodities, ref.lots
    codes = {p.account for p in draft.postings}
    comms = {p.commodity for p in draft.postings}
    lot_ids = {p.lot_id for p in draft.postings if p.lot_id is not None}
    accounts = {a.code: a for a in session.scalars(select(Account).where(Account.code.in_(codes)))}
    commodities = {
        c.code: c for c in session.scalars(select(Commodity).where(Commodity.code.in_(comms)))
    }
    lots = {lot.id: lot for lot in session.scalars(select(Lot).where(Lot.id.in_(lot_ids)))}
    return accounts, commodities, lots


def _check_references(
    session: Session, draft: EntryDraft, ref: LedgerRef | None
) -> tuple[Mapping[str, Account], Mapping[str, Commodity]]:
    accounts, commodities, lots = _references(session, draft, ref)
    errors: dict[str, list[str]] = {}
    unknown_account = unknown_commodity = False
    for i, p in enumerate(draft.postings):
        acc = accounts.get(p.account)
        com = commodities.get(p.commodity)
        if acc is None:
            errors.setdefault(f"postings.{i}.account", []).append(f"no account {p.account!r}")
            unknown_account = True
        elif acc.is_header:
            errors.setdefault(f"postings.{i}.account", []).append(
                f"{p.account} is a header; post to one of its sub-accounts"
            )
            unknown_account = True
        if com is None:
            errors.setdefault(f"postings.{i}.commodity", []).append(no_such_commodity(p.commodity))
            unknown_commodity = True
        if acc is None or com is None or acc.is_header:
            continue
        if com.kind == "medicine" and "units" not in acc.carries:
            errors.setdefault(f"postings.{i}.commodity", []).append(
                f"{acc.code} carries money only, not medicine units"
            )
        if com.kind == "currency" and "money" not in acc.carries:
            errors.setdefault(f"postings.{i}.commodity", []).append(
                f"{acc.code} carries medicine units only, not money"
            )
        if acc.currency and com.kind == "currency" and acc.currency != com.code:
            errors.setdefault(f"postings.{i}.commodity", []).append(
                f"{acc.code} holds {acc.currency} only"
            )
        if p.lot_id is not None:
            lot = lots.get(p.lot_id)
            if lot is None:
                errors.setdefault(f"postings.{i}.lot", []).append("no such lot")
            elif com.kind == "medicine" and lot.commodity != com.code:
                errors.setdefault(f"postings.{i}.lot", []).append(
                    f"lot {lot.lot_code} is a lot of {lot.commodity}, not {com.code}"
                )
        elif acc.is_inventory:
            errors.setdefault(f"postings.{i}.lot", []).append(
                f"{acc.code} is an inventory account: name the lot"
            )
    if errors:
        cls: type[InvalidRequest] = InvalidRequest
        if unknown_account:
            cls = UnknownAccount
        elif unknown_commodity:
            cls = UnknownCommodity
        first = next(iter(errors.values()))[0]
        raise cls(f"the entry cannot be posted: {first}", errors=errors)
    return accounts, commodities


def _balance_keys(
    draft: EntryDraft, accounts: Mapping[str, Account]
) -> tuple[dict[BalanceKey, int], dict[BalanceKey, bool], list[tuple[PostingDraft, int]]]:
    deltas: dict[BalanceKey, int] = {}
    nonneg: dict[BalanceKey, bool] = {}
    with_stripe = []
    for p in draft.postings:
        lot_key = p.lot_id or 0
        nn = bool(accounts[p.account].is_inventory and lot_key)
        stripe = stripe_for(draft.partition, lot_key=lot_key, nonneg=nn)
        key = (p.account, p.commodity, lot_key, stripe)
        deltas[key] = deltas.get(key, 0) + p.amount
        nonneg[key] = nn
        with_stripe.append((p, stripe))
    return deltas, nonneg, with_stripe


#: Kept balance rows known to exist (committed), per database: they are never deleted, so
#: a key seen once needs no existence check again. PostgreSQL only (there the rows are made
#: in committed transactions of their own; on SQLite inside the write, which may roll back).
_known_balances: dict[str, set[BalanceKey]] = {}


def _create_missing_balances(
    session: Session, keys: list[BalanceKey], nonneg: dict[BalanceKey, bool]
) -> None:
    postgres = is_postgres(session)
    known: set[BalanceKey] | None = None
    if postgres:
        known = _known_balances.setdefault(
            session.get_bind().engine.url.render_as_string(hide_password=False), set()
        )
        keys = [k for k in keys if k not in known]
        if not keys:
            return
    existing = set(
        tuple(row)
        for row in session.execute(
            select(Balance.account_code, Balance.commodity, Balance.lot_key, Balance.stripe).where(
                tuple_(
                    Balance.account_code, Balance.commodity, Balance.lot_key, Balance.stripe
                ).in_(keys)
            )
        )
    )
    missing = [k for k in keys if k not in existing]
    if known is not None:
        known.update(existing)  # type: ignore[arg-type]
    if not missing:
        return
    rows = [
        dict(
            account_code=a,
            commodity=c,
            lot_key=lk,
            stripe=s,
            amount=0,
            nonneg=nonneg[(a, c, lk, s)],
        )
        for a, c, lk, s in missing
    ]
    if is_postgres(session):
        # Committed in a transaction of its own, so the locks taken next are all on
        # committed rows, in one order (an empty balance row is harmless if we fail later).
        with side_engine(session.get_bind().engine).begin() as conn:
            conn.execute(pg_insert(Balance).on_conflict_do_nothing(), rows)
        if known is not None:
            known.update(missing)
    else:
        session.execute(insert(Balance).prefix_with("OR IGNORE"), rows)


def forget_known_balances(session: Session) -> None:
    """Check the existence of kept balance rows again (a write found one missing: the
    database was replaced under the same URL, as tests do)."""
    _known_balances.pop(session.get_bind().engine.url.render_as_string(hide_password=False), None)


# Statements of the write path, built once (building a statement costs more CPU than
# running a cached one). Core tables, not ORM entities: no unit of work is involved.
_BALANCE_KEY = (Balance.account_code, Balance.commodity, Balance.lot_key, Balance.stripe)
_LOCK_SQLITE = (
    select(*_BALANCE_KEY, Balance.amount)
    .where(tuple_(*_BALANCE_KEY).in_(bindparam("keys", expanding=True)))
    .order_by(*_BALANCE_KEY)
)
# PostgreSQL: the keys as four arrays joined to the unique key (a list of key tuples costs
# milliseconds of planning an OR of every tuple when a batch locks hundreds), the rows
# locked FOR NO KEY UPDATE in key order (the lock is taken above the sort).
_LOCK_PG = text(
    "SELECT b.account_code, b.commodity, b.lot_key, b.stripe, b.amount FROM balances AS b"
    " JOIN unnest(CAST(:accounts AS VARCHAR[]), CAST(:commodities AS VARCHAR[]),"
    " CAST(:lots AS BIGINT[]), CAST(:stripes AS SMALLINT[])) AS k(a, c, l, s)"
    " ON b.account_code = k.a AND b.commodity = k.c AND b.lot_key = k.l AND b.stripe = k.s"
    " ORDER BY b.account_code, b.commodity, b.lot_key, b.stripe FOR NO KEY UPDATE OF b"
)
_ENTRIES = Base.metadata.tables[Entry.__tablename__]
_INSERT_ENTRY = insert(_ENTRIES).returning(_ENTRIES.c.id)
_POSTINGS = Base.metadata.tables[Posting.__tablename__]
_INSERT_POSTINGS = insert(_POSTINGS)


def _lock_balances(session: Session, keys: list[BalanceKey]) -> dict[BalanceKey, int]:
    if is_postgres(session):
        rows = session.execute(
            _LOCK_PG,
            {
                "accounts": [k[0] for k in keys],
                "commodities": [k[1] for k in keys],
                "lots": [k[2] for k in keys],
                "stripes": [k[3] for k in keys],
            },
        )
    else:
        rows = session.execute(_LOCK_SQLITE, {"keys": keys})
    return {(a, c, lk, s): int(amt) for a, c, lk, s, amt in rows}


def _raise_short(
    session: Session,
    shorts: list[tuple[BalanceKey, int, int]],
    commodities: Mapping[str, Commodity],
) -> None:
    details = []
    for (account, commodity, lot_key, _s), have, delta in shorts:
        lot = session.get(Lot, lot_key)
        exp = commodities[commodity].exponent
        details.append(
            {
                "account": account,
                "commodity": commodity,
                "lot": lot.lot_code if lot else None,
                "available": format_amount(have, exp),
                "requested": format_amount(-delta, exp),
            }
        )
    d = details[0]
    raise InsufficientStock(
        f"not enough {d['commodity']} in lot {d['lot']} at {d['account']}: "
        f"{d['available']} on hand, {d['requested']} requested",
        shortages=details,
    )


def post_entry(
    session: Session,
    draft: EntryDraft,
    *,
    created_by: str,
    idempotency_key: str | None = None,
    body_hash: str | None = None,
    ref: LedgerRef | None = None,
) -> PostedEntry:
    """Validate, book, lock and write one journal entry. The caller commits.

    With ``idempotency_key``, a second call with the same key and ``body_hash`` returns
    the first entry and writes nothing; the same key with another hash raises
    ``IdempotencyConflict``. ``ref``: the reference snapshot the caller already holds
    (``ledger.refcache``), which saves reading accounts, commodities, lots and periods.
    """
    if idempotency_key is not None:
        prior = session.scalars(
            select(Entry).where(Entry.idempotency_key == idempotency_key)
        ).first()
        if prior is not None:
            if prior.request_hash != body_hash:
                raise IdempotencyConflict(
                    f"idempotency key {idempotency_key!r} was used for another entry"
                )
            return PostedEntry(prior.id, prior.service_date, prior.accounting_date, True)
    accounts, commodities = _check_references(session, draft, ref)
    validate_entry(
        draft, ref.exponents if ref is not None else {c: m.exponent for c, m in commodities.items()}
    )
    accounting_date = booking_date(session, draft.service_date, draft.accounting_date, ref=ref)

    deltas, nonneg, with_stripe = _balance_keys(draft, accounts)
    keys = sorted(deltas)
    _create_missing_balances(session, keys, nonneg)
    current = _lock_balances(session, keys)
    shorts = [
        (k, current.get(k, 0), d)
        for k, d in deltas.items()
        if nonneg[k] and current.get(k, 0) + d < 0
    ]
    if shorts:
        _raise_short(session, shorts, commodities)

    entry_id = session.execute(
        _INSERT_ENTRY,
        dict(
            service_date=draft.service_date,
            accounting_date=accounting_date,
            memo=draft.memo,
            source=draft.source,
            reverses_id=draft.reverses_id,
            partition=draft.partition,
            idempotency_key=idempotency_key,
            request_hash=body_hash,
            created_at=clock.now(),
            created_by=created_by,
        ),
    ).scalar_one()
    # Postings go in key order so SQLite's row triggers update the balances in
    # the same order everywhere.
    ordered = sorted(with_stripe, key=_posting_order)
    session.execute(
        _INSERT_POSTINGS,
        [
            dict(
                entry_id=entry_id,
                account_code=p.account,
                commodity=p.commodity,
                lot_id=p.lot_id,
                amount=p.amount,
                accounting_date=accounting_date,
                stripe=s,
            )
            for p, s in ordered
        ],
    )
    return PostedEntry(entry_id, draft.service_date, accounting_date)


def post_entries(
    session: Session, drafts: Sequence[EntryDraft], *, created_by: str, ref: LedgerRef
) -> list[PostedEntry]:
    """``post_entry`` for many entries at once, in the order given (a batch's chunk).

    The same checks, booking and locks, set-based: each month booked into is locked once,
    the union of every entry's kept balances is created if missing and locked in one
    statement (sorted, as always), every entry's stock is checked against what the entries
    before it in ``drafts`` took, and the entries and postings are inserted with one
    statement each. Any refusal raises, as ``post_entry`` would for that entry; nothing is
    written before every entry has passed (the caller rolls back what it wrote itself).
    """
    booked: list[date] = []
    locked: set[str] = set()
    per_entry: list[tuple[dict[BalanceKey, int], list[tuple[PostingDraft, int]]]] = []
    nonneg: dict[BalanceKey, bool] = {}
    commodities: Mapping[str, Commodity] = ref.commodities
    for draft in drafts:
        accounts, commodities = _check_references(session, draft, ref)
        validate_entry(draft, ref.exponents)
        booked.append(
            booking_date(session, draft.service_date, draft.accounting_date, ref=ref, locked=locked)
        )
        deltas, nn, with_stripe = _balance_keys(draft, accounts)
        nonneg.update(nn)
        per_entry.append((deltas, with_stripe))
    keys = sorted(nonneg)
    _create_missing_balances(session, keys, nonneg)
    running = _lock_balances(session, keys)
    for deltas, _ws in per_entry:
        shorts = []
        for k, d in deltas.items():
            have = running.get(k, 0)
            if nonneg[k] and have + d < 0:
                shorts.append((k, have, d))
            running[k] = have + d
        if shorts:
            _raise_short(session, shorts, commodities)
    now = clock.now()
    new_ids = entry_ids(session, len(drafts))
    insert_rows(
        session,
        _ENTRIES,
        [
            dict(
                id=entry_id,
                service_date=draft.service_date,
                accounting_date=on,
                memo=draft.memo,
                source=draft.source,
                reverses_id=draft.reverses_id,
                partition=draft.partition,
                idempotency_key=None,
                request_hash=None,
                created_at=now,
                created_by=created_by,
            )
            for entry_id, draft, on in zip(new_ids, drafts, booked, strict=True)
        ],
    )
    insert_rows(
        session,
        _POSTINGS,
        [
            dict(
                entry_id=entry_id,
                account_code=p.account,
                commodity=p.commodity,
                lot_id=p.lot_id,
                amount=p.amount,
                accounting_date=on,
                stripe=s,
            )
            for entry_id, on, (_d, with_stripe) in zip(new_ids, booked, per_entry, strict=True)
            for p, s in sorted(with_stripe, key=_posting_order)
        ],
    )
    return [
        PostedEntry(entry_id, draft.service_date, on)
        for entry_id, draft, on in zip(new_ids, drafts, booked, strict=True)
    ]


def _posting_order(ps: tuple[PostingDraft, int]) -> tuple[str, str, int, int]:
    """Postings go in key order, so SQLite's row triggers update balances in one order (on
    PostgreSQL the statement triggers fold them in key order themselves)."""
    p, stripe = ps
    return p.account, p.commodity, p.lot_id or 0, stripe


# --------------------------------------------------------------------------- one round trip


def open_booking(ref: LedgerRef, service_date: date, requested: date | None = None) -> date | None:
    """The accounting date ``booking_date`` gives a new entry, when the reference snapshot
    knows its month open (the write locks the month and checks it again: revision 0019);
    None when it does not (then ``booking_date`` must search, under its locks)."""
    target = requested or service_date
    if ref.last_closed is not None and month_of(target) <= ref.last_closed:
        target = first_day_after(ref.last_closed)
    return target if ref.periods.get(month_of(target)) == "open" else None


@dataclass(frozen=True)
class EntryRows:
    """Entries checked and turned into rows for one round trip (``rdf_write_dispensings``),
    nothing locked or written yet: the balance keys to lock (sorted), the months booked
    into, the rows of ``entries`` and ``postings``, and each entry's accounting date."""

    keys: list[BalanceKey]
    months: list[str]
    entries: list[dict[str, Any]]
    postings: list[dict[str, Any]]
    booked: list[date]


def entry_rows(
    session: Session,
    drafts: Sequence[EntryDraft],
    entry_ids: Sequence[int],
    booked: Sequence[date],
    *,
    created_by: str,
    ref: LedgerRef,
) -> EntryRows:
    """``post_entries`` without its locks and writes: the same reference checks and entry
    validation (any refusal raises as there), the missing kept balance rows created (in a
    transaction of their own, as there), and the rows to write. ``booked``: each entry's
    accounting date (``open_booking``). The write (revision 0019) takes the locks, in the
    same order, and the non-negative CHECKs judge the stock."""
    nonneg: dict[BalanceKey, bool] = {}
    postings: list[dict[str, Any]] = []
    for draft, entry_id, on in zip(drafts, entry_ids, booked, strict=True):
        accounts, _commodities = _check_references(session, draft, ref)
        validate_entry(draft, ref.exponents)
        _deltas, nn, with_stripe = _balance_keys(draft, accounts)
        nonneg.update(nn)
        postings.extend(
            dict(
                entry_id=entry_id,
                account_code=p.account,
                commodity=p.commodity,
                lot_id=p.lot_id,
                amount=p.amount,
                accounting_date=on,
                stripe=s,
            )
            for p, s in sorted(with_stripe, key=_posting_order)
        )
    keys = sorted(nonneg)
    _create_missing_balances(session, keys, nonneg)
    now = clock.now()
    entries = [
        dict(
            id=entry_id,
            service_date=draft.service_date,
            accounting_date=on,
            memo=draft.memo,
            source=draft.source,
            reverses_id=draft.reverses_id,
            partition=draft.partition,
            idempotency_key=None,
            request_hash=None,
            created_at=now,
            created_by=created_by,
        )
        for entry_id, draft, on in zip(entry_ids, drafts, booked, strict=True)
    ]
    return EntryRows(keys, sorted({month_of(on) for on in booked}), entries, postings, list(booked))
