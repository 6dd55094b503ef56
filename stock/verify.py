"""Stock movements (receipts, transfers, write-offs, counts) against their entries: a check
``/audit/verify`` runs on source documents (wired by ``app.VERIFY_CHECKS``).

A movement's row is the document; its lines are the entry's postings themselves. What the
row says must fit its sealed entry: the entry exists and names the row as its source
(``stock-<kind>:<id>``), is dated on the movement's day, moves the inventory of the
movement's place (and of the place a transfer goes to), and a purchased receipt owes its
supplier (a donated one, whose lots are donated, may name a supplier that is owed nothing:
DESIGN.md "Funders"). A row changed behind the guards (another place, supplier or day) is
named.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import chart
from ledger.tables import Entry, Lot, Posting
from stock.donations import DONATED
from stock.tables import StockMovement

#: Movements read per round.
CHUNK = 2000

#: Differences named at most (the rest are counted).
SHOWN = 50


def movement_problems(session: Session) -> list[str]:
    """Every stock movement whose row no longer fits its entry, one sentence each."""
    problems: list[str] = []
    after = 0
    while True:
        chunk = list(
            session.scalars(
                select(StockMovement)
                .where(StockMovement.id > after, StockMovement.entry_id.is_not(None))
                .order_by(StockMovement.id)
                .limit(CHUNK)
            )
        )
        if not chunk:
            break
        after = chunk[-1].id
        entry_ids = [m.entry_id for m in chunk if m.entry_id is not None]
        entries = {e.id: e for e in session.scalars(select(Entry).where(Entry.id.in_(entry_ids)))}
        accounts: dict[int, set[str]] = defaultdict(set)
        for entry_id, account in session.execute(
            select(Posting.entry_id, Posting.account_code)
            .where(Posting.entry_id.in_(entry_ids))
            .distinct()
        ):
            accounts[entry_id].add(account)
        donated = set(
            session.scalars(
                select(Posting.entry_id)
                .join(Lot, Lot.id == Posting.lot_id)
                .where(
                    Posting.entry_id.in_(
                        [m.entry_id for m in chunk if m.kind == "receipt" and m.supplier]
                    ),
                    Lot.funding == DONATED,
                )
                .distinct()
            )
        )
        for mv in chunk:
            why = _differences(mv, entries.get(mv.entry_id or 0), accounts, donated)
            if why:
                kind = mv.kind.replace("_", "-")
                problems.append(
                    f"stock {kind} {mv.id} no longer matches its entry {mv.entry_id}: "
                    + "; ".join(why)
                )
    if len(problems) > SHOWN:
        return [*problems[:SHOWN], f"and {len(problems) - SHOWN} more stock movements differ"]
    return problems


def _differences(
    mv: StockMovement, entry: Entry | None, accounts: dict[int, set[str]], donated: set[int]
) -> list[str]:
    if entry is None:
        return ["the entry is missing"]
    why: list[str] = []
    source = f"stock-{mv.kind.replace('_', '-')}:{mv.id}"
    if entry.source != source:
        why.append(f"the entry's source is {entry.source!r}, not {source!r}")
    if entry.service_date != mv.event_on:
        why.append(f"the document is dated {mv.event_on}, the entry {entry.service_date}")
    held = accounts.get(entry.id, set())
    wanted = [chart.inventory(mv.location)]
    if mv.to_location is not None:
        wanted.append(chart.inventory(mv.to_location))
    if mv.kind == "receipt" and mv.supplier is not None and entry.id not in donated:
        wanted.append(chart.due_to_supplier(mv.supplier))
    for account in wanted:
        if account not in held:
            why.append(f"the document names account {account}, which the entry does not move")
    return why
