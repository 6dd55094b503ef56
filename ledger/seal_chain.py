"""Tamper evidence, the pure part: a hash chain over journal entries and a Merkle root per
period, as functions of plain values (no database, no clock). :mod:`ledger.sealing` is the
part that reads and writes the tables: the sealer, the checkpoint, verify.

DESIGN.md invariant 7 asks that an auditor can prove history was not altered, *without
making every write wait on one hot row*. The design that follows from that:

* Posting an entry does not seal it. A separate sealer (one at a time, e.g. a job holding
  an advisory lock) takes unsealed entries in ``entry_id`` order, gives each the next
  ``seal_seq`` (1, 2, 3, …) and stores ``seal = entry_seal(previous_seal, entry)``, the first
  one chained to :data:`GENESIS`. Writers never touch the chain head; only the sealer does.
* :func:`canonical_bytes` is the one serialisation an entry is sealed over: JSON with sorted
  keys, no whitespace, UTF-8, integers as integers, dates as ISO strings, postings sorted.
  For these value types it coincides with RFC 8785 (JCS): strings escaped as Python's
  ``json`` does with ``ensure_ascii=False`` and integers well inside 2**53 (amounts are capped
  at 10**15 by :mod:`ledger.money`), so another language can reproduce a seal byte for byte.
  The order postings were stored in does not matter; their content does.
* :func:`entry_seal` is ``sha256(DOMAIN || previous_seal || 0x00 || canonical_bytes)`` in
  lower-case hex. The domain tag keeps a seal from ever being confused with any other
  SHA-256 this service computes (the Merkle leaves below, for instance); the previous seal
  is fixed-length hex, so the concatenation is unambiguous.
* :func:`verify_chain` re-walks the chain in ``seal_seq`` order in constant memory and names
  the first entry that does not fit: an altered amount, memo, date or account (stored seal
  differs from the recomputed one), a deleted entry (a gap in ``seal_seq``), two entries
  swapped (their seals no longer chain), and, given an anchor kept elsewhere (a checkpoint
  table, a printed monthly report, an e-mail to the board), a truncated or rewritten tail.
  A chain alone cannot tell a truncated tail from a short history: only an anchor can.
* :func:`merkle_root` is RFC 6962's Merkle tree hash. Closing a month stores
  ``period_root(entries of the month)`` so a month's content can be proved on its own, and
  any single entry later with an audit path, without the whole chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from json.encoder import encode_basestring

#: The ``previous_seal`` of the first entry in the chain: 64 hex zeros.
GENESIS: str = "0" * 64

#: Domain separation tag for chain seals (never used for anything else).
SEAL_DOMAIN: bytes = b"rdf-ledger/entry-seal/v1\x00"

_SEAL_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class SealPosting:
    """One posting as it is sealed: ``amount`` in minor units or base units, positive = debit."""

    account: str
    commodity: str
    lot: str | None
    amount: int


@dataclass(frozen=True)
class SealEntry:
    """The immutable content of a journal entry that the seal covers."""

    entry_id: int
    service_date: date
    accounting_date: date
    memo: str
    source: str | None  # e.g. "dispensing:42"
    reverses: int | None  # id of the entry it reverses
    postings: tuple[SealPosting, ...]


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_chain`.

    ``entries_checked`` counts entries whose seal was recomputed and matched before the walk
    stopped. ``first_bad_entry`` is the ``entry_id`` of the first entry that does not fit (the
    entry just after a gap for a deletion); it is ``None`` when the bad spot holds no entry
    (a truncated tail), in which case ``first_bad_seq`` still names the missing position.
    """

    ok: bool
    entries_checked: int
    first_bad_entry: int | None
    reason: str | None
    first_bad_seq: int | None = None


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    return value


#: A posting as the sealer reads it: ``(account, commodity, lot, amount)``.
PostingRow = tuple[str, str, str | None, int]


def _row_key(p: PostingRow) -> tuple[str, str, bool, str, int]:
    """The order postings are sealed in: account, commodity, lot (none first), amount."""
    return (p[0], p[1], p[2] is not None, p[2] or "", p[3])


def canonical_bytes(entry: SealEntry) -> bytes:
    """The deterministic bytes an entry is sealed over.

    Postings are sorted by (account, commodity, lot — none first, amount), so the same
    entry gives the same bytes whatever order its postings were loaded in.
    """
    return canonical_bytes_of(
        entry.entry_id,
        entry.service_date,
        entry.accounting_date,
        entry.memo,
        entry.source,
        entry.reverses,
        [(p.account, p.commodity, p.lot, p.amount) for p in entry.postings],
    )


def canonical_bytes_of(
    entry_id: int,
    service_date: date,
    accounting_date: date,
    memo: str,
    source: str | None,
    reverses: int | None,
    postings: Iterable[PostingRow],
) -> bytes:
    """:func:`canonical_bytes` of an entry given field by field, its postings as plain
    ``(account, commodity, lot, amount)`` tuples (what the sealer reads, without building a
    :class:`SealEntry`). The one serialisation both sealing and verifying use.

    The text is written directly (:func:`_text_direct`) for the value types the tables
    give, and by ``json.dumps`` of the entry's document (:func:`_text_by_json`, the
    definition) for any other; both give the same bytes (tests/audit/test_seal_runs.py
    holds known seals and compares with the definition over generated entries)."""
    _check_int(entry_id, "entry_id")
    if reverses is not None:
        _check_int(reverses, "reverses")
    rows = sorted(postings, key=_row_key)
    try:
        text = _text_direct(entry_id, service_date, accounting_date, memo, source, reverses, rows)
    except TypeError:  # a value of another type than the tables give: json.dumps decides
        text = _text_by_json(entry_id, service_date, accounting_date, memo, source, reverses, rows)
    return text.encode("utf-8")


def _text_by_json(
    entry_id: int,
    service_date: date,
    accounting_date: date,
    memo: str,
    source: str | None,
    reverses: int | None,
    rows: list[PostingRow],
) -> str:
    """The canonical text as defined: ``json.dumps`` of the entry's document, keys sorted,
    no whitespace, UTF-8 kept (``ensure_ascii=False``); ``rows`` already sorted."""
    postings = [
        {
            "account": account,
            "amount": _check_int(amount, "amount"),
            "commodity": commodity,
            "lot": lot,
        }
        for account, commodity, lot, amount in rows
    ]
    doc = {
        "accounting_date": accounting_date.isoformat(),
        "entry_id": entry_id,
        "memo": memo,
        "postings": postings,
        "reverses": reverses,
        "service_date": service_date.isoformat(),
        "source": source,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _text_direct(
    entry_id: int,
    service_date: date,
    accounting_date: date,
    memo: str,
    source: str | None,
    reverses: int | None,
    rows: list[PostingRow],
) -> str:
    """:func:`_text_by_json`'s very text, written out without building the document, for
    the value types the tables give (str, int, None, dates); raises ``TypeError`` on any
    other, for :func:`_text_by_json` to decide.

    The same text because it is made the same way: the keys in their sorted order, each
    string through the function ``json.dumps`` itself uses for strings when
    ``ensure_ascii=False`` (:func:`json.encoder.encode_basestring`, which refuses anything
    but a ``str``), each int as ``int.__repr__`` as there, None as ``null``.
    """
    enc = encode_basestring
    postings = ",".join(
        [
            f'{{"account":{enc(account)},'
            f'"amount":{int.__repr__(amount) if type(amount) is int else _int(amount)},'
            f'"commodity":{enc(commodity)},"lot":{"null" if lot is None else enc(lot)}}}'
            for account, commodity, lot, amount in rows
        ]
    )
    return (
        f'{{"accounting_date":{enc(accounting_date.isoformat())},'
        f'"entry_id":{int.__repr__(entry_id)},"memo":{enc(memo)},"postings":[{postings}],'
        f'"reverses":{"null" if reverses is None else int.__repr__(reverses)},'
        f'"service_date":{enc(service_date.isoformat())},'
        f'"source":{"null" if source is None else enc(source)}}}'
    )


def _int(value: object) -> str:
    """An amount that is not exactly an ``int``: an int subclass as json writes it, else
    the TypeError :func:`_text_by_json` raises too."""
    return int.__repr__(_check_int(value, "amount"))


def chain_seal(previous_seal: str, canonical: bytes) -> str:
    """The seal of an entry whose canonical bytes are ``canonical``, chained after
    ``previous_seal``: ``sha256(SEAL_DOMAIN || previous_seal || 0x00 || canonical)``."""
    if not _SEAL_RE.match(previous_seal):
        raise ValueError("previous_seal must be 64 lower-case hex digits")
    h = hashlib.sha256(SEAL_DOMAIN)
    h.update(previous_seal.encode("ascii"))
    h.update(b"\x00")
    h.update(canonical)
    return h.hexdigest()


def entry_seal(previous_seal: str, entry: SealEntry) -> str:
    """The seal of ``entry`` chained after ``previous_seal`` (``GENESIS`` for the first)."""
    return chain_seal(previous_seal, canonical_bytes(entry))


def verify_chain(
    sealed: Iterable[tuple[int, str | None, SealEntry]],
    expected_last: tuple[int, str] | None = None,
) -> VerifyResult:
    """Re-walk a sealed chain and report the first entry that does not fit.

    ``sealed`` yields ``(seal_seq, stored_seal, entry)`` in ``seal_seq`` order, starting at 1
    (e.g. a server-side cursor over ``WHERE seal IS NOT NULL ORDER BY seal_seq``); it is
    consumed once, in constant memory. A stored seal of ``None`` on a row that claims a
    ``seal_seq`` is itself a failure (a wiped seal).

    ``expected_last = (count, seal)`` is an anchor taken earlier and kept apart from the
    entries: the chain must reach position ``count`` and its seal there must be ``seal``.
    A chain that has grown since the anchor was taken is fine.
    """
    previous = GENESIS
    checked = 0
    anchor_seen = False
    for seal_seq, stored, entry in sealed:
        expected_seq = checked + 1
        if seal_seq != expected_seq:
            if seal_seq > expected_seq:
                reason = (
                    f"seal_seq {expected_seq} is missing (next present is {seal_seq}): "
                    "an entry was deleted"
                )
            else:
                reason = f"seal_seq {seal_seq} appears after {checked}: chain out of order"
            return VerifyResult(False, checked, entry.entry_id, reason, expected_seq)
        if stored is None:
            return VerifyResult(
                False, checked, entry.entry_id, f"seal_seq {seal_seq} has no seal", seal_seq
            )
        recomputed = entry_seal(previous, entry)
        if stored != recomputed:
            reason = (
                f"seal mismatch at seal_seq {seal_seq}: entry {entry.entry_id} was altered or moved"
            )
            return VerifyResult(False, checked, entry.entry_id, reason, seal_seq)
        checked = seal_seq
        previous = stored
        if expected_last is not None and seal_seq == expected_last[0]:
            anchor_seen = True
            if stored != expected_last[1]:
                reason = (
                    f"seal at seal_seq {seal_seq} differs from the checkpoint: "
                    "the chain was rewritten up to here"
                )
                return VerifyResult(False, checked, entry.entry_id, reason, seal_seq)
    if expected_last is not None and not anchor_seen:
        count, last_seal = expected_last
        if count == 0:
            if last_seal != GENESIS:
                return VerifyResult(False, checked, None, "empty checkpoint is not GENESIS", 0)
        else:
            reason = (
                f"chain ends at seal_seq {checked} but the checkpoint says {count}: "
                "the tail was truncated"
            )
            return VerifyResult(False, checked, None, reason, checked + 1)
    return VerifyResult(True, checked, None, None, None)


def _leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: Iterable[bytes]) -> str:
    """RFC 6962 Merkle Tree Hash of ``leaves``, in lower-case hex.

    ``MTH({}) = SHA-256()``, ``MTH({d}) = SHA-256(0x00 || d)``, and for ``n > 1`` with ``k``
    the largest power of two below ``n``: ``SHA-256(0x01 || MTH(D[:k]) || MTH(D[k:]))``.
    Computed in one pass with a stack of perfect subtrees (O(log n) memory), which gives
    exactly the RFC's left-heavy split: full subtrees merge as they complete, and the
    remaining ones (sizes strictly decreasing) are folded from the right at the end.
    """
    stack: list[tuple[int, bytes]] = []  # (size, hash) of perfect subtrees, sizes decreasing
    for leaf in leaves:
        size, node = 1, _leaf_hash(leaf)
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, node = left_size + size, _node_hash(left, node)
        stack.append((size, node))
    if not stack:
        return hashlib.sha256(b"").hexdigest()
    _, root = stack.pop()
    while stack:
        _, left = stack.pop()
        root = _node_hash(left, root)
    return root.hex()


def period_root(entries: Iterable[SealEntry]) -> str:
    """A period's (month's) Merkle root over its entries' canonical bytes, in the order given.

    The caller passes the period's entries in ``entry_id`` order; closing the month stores it.
    """
    return merkle_root(canonical_bytes(e) for e in entries)
