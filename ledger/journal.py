"""Use cases of the journal itself: manual entries, reversals, reading an entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import clock
from ledger.errors import (
    AlreadyReversed,
    Conflict,
    InvalidRequest,
    NotFound,
    no_such_commodity,
)
from ledger.model import EntryDraft, PostingDraft, reversal_of
from ledger.money import AmountError, parse_amount
from ledger.posting import PostedEntry, post_entry
from ledger.queries import exponents
from ledger.tables import Entry, Lot, Posting

#: Entries made by these documents are undone through the document (a dispensing is
#: returned, not reversed by hand), so their own bookkeeping stays true. An exchange and a
#: landed cost keep a document and a conversion beside their entry (and a landed cost the
#: lots' values it shared out): reversing the entry alone would leave those behind.
DOCUMENT_OWNED_SOURCES = (
    "dispensing",
    "return",
    "settlement",
    "claim",
    "payment",
    "fx-exchange",
    "landed-cost",
)

#: How a document-owned entry is undone, said in the refusal.
_UNDO = {
    "fx-exchange": "an exchange is undone by recording the opposite exchange "
    "(POST /fx/exchanges), not by reversing its entry",
    "landed-cost": "a landed cost is part of its lots' value; correct it with a manual "
    "entry, not by reversing its entry",
}

EARLIEST_DATE = date(2000, 1, 1)


def check_event_date(d: date, field: str = "date") -> None:
    """Refuse dates a person cannot mean: before 2000 or after tomorrow."""
    if d < EARLIEST_DATE:
        raise InvalidRequest(
            f"{d.isoformat()} is before 2000-01-01",
            errors={field: ["must be on or after 2000-01-01"]},
        )
    if d > clock.today() + timedelta(days=1):
        raise InvalidRequest(
            f"{d.isoformat()} is in the future", errors={field: ["must not be in the future"]}
        )


def resolve_lot(session: Session, commodity: str, text: str, field: str) -> int:
    """A lot named ``L1`` (for a medicine posting) or ``MET500:L1`` (any posting)."""
    medicine, sep, code = text.partition(":")
    if not sep:
        medicine, code = "", text
    q = select(Lot.id, Lot.commodity).where(Lot.lot_code == code)
    if medicine:
        q = q.where(Lot.commodity == medicine)
    rows = session.execute(q).all()
    if len(rows) > 1:
        rows = [r for r in rows if r[1] == commodity] or rows
    if len(rows) != 1:
        why = "no such lot" if not rows else "several medicines have this lot; write MEDICINE:LOT"
        raise InvalidRequest(f"lot {text!r}: {why}", errors={field: [why]})
    return int(rows[0][0])


def manual_entry(session: Session, data: dict[str, Any], *, by: str) -> PostedEntry:
    check_event_date(data["date"])
    exps = exponents(session)
    postings = []
    errors: dict[str, list[str]] = {}
    for i, p in enumerate(data["postings"]):
        exp = exps.get(p["commodity"])
        if exp is None:
            errors[f"postings.{i}.commodity"] = [no_such_commodity(p["commodity"])]
            continue
        try:
            amount = parse_amount(p["amount"], exp)
        except AmountError as exc:
            errors[f"postings.{i}.amount"] = [str(exc)]
            continue
        lot_id = (
            resolve_lot(session, p["commodity"], p["lot"], f"postings.{i}.lot")
            if p.get("lot")
            else None
        )
        postings.append(PostingDraft(p["account"], p["commodity"], amount, lot_id))
    if errors:
        cls = InvalidRequest
        raise cls("some postings are invalid: " + next(iter(errors.values()))[0], errors=errors)
    draft = EntryDraft(
        service_date=data["date"], memo=data["memo"], postings=tuple(postings), source="manual"
    )
    return post_entry(session, draft, created_by=by)


def get_entry(session: Session, entry_id: str) -> Entry:
    if not (entry_id.isascii() and entry_id.isdigit()) or len(entry_id) > 18:
        raise NotFound(f"no journal entry {entry_id!r}")
    e = session.get(Entry, int(entry_id))
    if e is None:
        raise NotFound(f"no journal entry {entry_id!r}")
    return e


def reverse_entry(
    session: Session, entry_id: str, *, on: date | None, memo: str | None, by: str
) -> PostedEntry:
    """Post the entry that cancels ``entry_id`` exactly; an entry is reversed at most once."""
    original = get_entry(session, entry_id)
    kind = (original.source or "").split(":")[0]
    if kind in DOCUMENT_OWNED_SOURCES:
        how = _UNDO.get(
            kind,
            "undo it through that document (e.g. a return of the dispensing), not by "
            "reversing the entry",
        )
        raise Conflict(f"entry {entry_id} belongs to a {kind.replace('-', ' ')}; {how}")
    if original.reverses_id is not None:
        raise Conflict(f"entry {entry_id} is itself a reversal; post a new entry instead")
    if session.scalar(select(Entry.id).where(Entry.reverses_id == original.id)) is not None:
        raise AlreadyReversed(f"entry {entry_id} was already reversed")
    when = on or clock.today()
    check_event_date(when)
    postings = [
        PostingDraft(p.account_code, p.commodity, p.amount, p.lot_id)
        for p in session.scalars(select(Posting).where(Posting.entry_id == original.id))
    ]
    draft = EntryDraft(
        service_date=when,
        memo=memo or f"Reversal of entry {original.id}: {original.memo}",
        postings=reversal_of(postings),
        source="reversal",
        reverses_id=original.id,
        partition=original.partition,
    )
    return post_entry(session, draft, created_by=by)


@dataclass(frozen=True)
class EntryView:
    entry: Entry
    postings: list[tuple[Posting, str | None]]
    reversed_by: list[int]


def entry_view(session: Session, entry_id: int) -> EntryView:
    e = session.get(Entry, entry_id)
    if e is None:
        raise NotFound(f"no journal entry {entry_id}")
    rows = session.execute(
        select(Posting, Lot.lot_code)
        .outerjoin(Lot, Lot.id == Posting.lot_id)
        .where(Posting.entry_id == entry_id)
        .order_by(Posting.id)
    ).all()
    rev = list(session.scalars(select(Entry.id).where(Entry.reverses_id == entry_id)))
    return EntryView(e, [(p, lot) for p, lot in rows], rev)
