"""Dispensings against their entries: the check ``/audit/verify`` runs on source documents.

The seal covers the journal (entries and postings); a dispensing's rows (``dispensings``,
``dispensing_lines``, ``dispensing_lots``) are its source document. Instead of sealing the
document too (a new canonical form, and entries sealed before it would carry none), verify
recomputes from each document what its entry must say, with the very rules that wrote it
(:func:`dispensing.model.dispensing_postings`, the memo of :mod:`dispensing.service`), and
compares: the memo (it names the pharmacy and the patient), the service date, the source,
every posting (account, commodity, lot, amount: quantities, cost, price, subsidy,
co-payment, fee), and the document's own totals against its lines. Since the entry is
sealed, a document changed behind the guards no longer fits its sealed entry, and is named.

Wired by the app (``app.VERIFY_CHECKS``): the ledger never imports this package.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispensing.model import LineAmounts, LotMove, Parties, dispensing_postings
from dispensing.tables import Dispensing, DispensingLine, DispensingLot
from ledger.tables import Entry, Posting

#: Dispensings read per round.
CHUNK = 1000

#: Differences named at most (the rest are counted).
SHOWN = 50

PostingKey = tuple[str, str, int | None]


def dispensing_memo(d: Dispensing) -> str:
    """The memo :mod:`dispensing.service` gives a dispensing's entry."""
    return f"Dispensing {d.id} at {d.pharmacy}" + (
        f" to {d.patient}" if d.patient else " (walk-in)"
    )


def dispensing_problems(session: Session) -> list[str]:
    """Every dispensing whose document no longer fits its entry, one sentence each."""
    problems: list[str] = []
    after = 0
    while True:
        chunk = list(
            session.scalars(
                select(Dispensing)
                .where(Dispensing.id > after, Dispensing.entry_id.is_not(None))
                .order_by(Dispensing.id)
                .limit(CHUNK)
            )
        )
        if not chunk:
            break
        after = chunk[-1].id
        problems.extend(_check_chunk(session, chunk))
    if len(problems) > SHOWN:
        return [*problems[:SHOWN], f"and {len(problems) - SHOWN} more dispensings differ"]
    return problems


def _check_chunk(session: Session, chunk: Sequence[Dispensing]) -> Iterator[str]:
    ids = [d.id for d in chunk]
    lines: dict[int, list[DispensingLine]] = defaultdict(list)
    for line in session.scalars(
        select(DispensingLine)
        .where(DispensingLine.dispensing_id.in_(ids))
        .order_by(DispensingLine.dispensing_id, DispensingLine.line_no)
    ):
        lines[line.dispensing_id].append(line)
    line_ids = [ln.id for group in lines.values() for ln in group]
    lots: dict[int, list[DispensingLot]] = defaultdict(list)
    if line_ids:
        for lot in session.scalars(
            select(DispensingLot)
            .where(DispensingLot.line_id.in_(line_ids))
            .order_by(DispensingLot.line_id, DispensingLot.seq)
        ):
            lots[lot.line_id].append(lot)
    entry_ids = [d.entry_id for d in chunk if d.entry_id is not None]
    entries = {e.id: e for e in session.scalars(select(Entry).where(Entry.id.in_(entry_ids)))}
    postings: dict[int, dict[PostingKey, int]] = defaultdict(dict)
    for entry_id, account, commodity, lot_id, amount in session.execute(
        select(
            Posting.entry_id,
            Posting.account_code,
            Posting.commodity,
            Posting.lot_id,
            func.sum(Posting.amount),
        )
        .where(Posting.entry_id.in_(entry_ids))
        .group_by(Posting.entry_id, Posting.account_code, Posting.commodity, Posting.lot_id)
    ):
        if int(amount):
            postings[entry_id][(account, commodity, lot_id)] = int(amount)
    for d in chunk:
        why = _differences(d, lines[d.id], lots, entries.get(d.entry_id or 0), postings)
        if why:
            yield f"dispensing {d.id} no longer matches its entry {d.entry_id}: " + "; ".join(why)


def _differences(
    d: Dispensing,
    lines: list[DispensingLine],
    lots: dict[int, list[DispensingLot]],
    entry: Entry | None,
    postings: dict[int, dict[PostingKey, int]],
) -> list[str]:
    if entry is None:
        return ["the entry is missing"]
    why: list[str] = []
    memo = dispensing_memo(d)
    if entry.memo != memo:
        why.append(f"the document gives the memo {memo!r}, the entry says {entry.memo!r}")
    if entry.service_date != d.service_date:
        why.append(f"service date {d.service_date} against {entry.service_date} in the entry")
    if entry.source != f"dispensing:{d.id}":
        why.append(f"the entry's source is {entry.source!r}")
    for name, total, parts in (
        ("price", d.total_price, [ln.price for ln in lines]),
        ("subsidy", d.total_subsidy, [ln.subsidy for ln in lines]),
        ("co-payment", d.total_copayment, [ln.copayment for ln in lines]),
    ):
        if total != sum(parts):
            why.append(f"the total {name} {total} is not the sum of its lines ({sum(parts)})")
    for ln in lines:
        taken = sum(lot.quantity for lot in lots[ln.id])
        if taken != ln.quantity:
            why.append(f"line {ln.line_no} dispenses {ln.quantity} but its lots give {taken}")
        if ln.price != ln.subsidy + ln.copayment:
            why.append(f"line {ln.line_no}'s price is not its subsidy plus co-payment")
        if ln.cost != sum(lot.value for lot in lots[ln.id]):
            why.append(f"line {ln.line_no}'s cost is not the value of its lots")
    if why:
        return why
    try:
        expected = dispensing_postings(
            Parties(d.pharmacy, d.model, d.payer, d.scheme, d.currency),
            [
                LineAmounts(
                    ln.medicine,
                    tuple(LotMove(lot.lot_id, lot.quantity, lot.value) for lot in lots[ln.id]),
                    ln.price,
                    ln.subsidy,
                    ln.copayment,
                )
                for ln in lines
            ],
            d.fee,
        )
    except (AssertionError, ValueError) as exc:
        return [f"its figures cannot be posted ({exc or 'inconsistent'})"]
    want = {(p.account, p.commodity, p.lot_id): p.amount for p in expected}
    have = postings.get(entry.id, {})
    for key in sorted(set(want) | set(have), key=str):
        if want.get(key, 0) != have.get(key, 0):
            account, commodity, lot_id = key
            where = f"{account} {commodity}" + (f" lot {lot_id}" if lot_id else "")
            why.append(
                f"{where}: the document gives {want.get(key, 0)}, the entry {have.get(key, 0)}"
            )
    return why
