"""Hash chain and Merkle root: tamper trials and RFC 6962 vectors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import date

import pytest

from ledger.seal_chain import (
    GENESIS,
    SealEntry,
    SealPosting,
    VerifyResult,
    canonical_bytes,
    entry_seal,
    merkle_root,
    period_root,
    verify_chain,
)

Row = tuple[int, str | None, SealEntry]


def _entry(entry_id: int, amount: int = 35000, memo: str = "receipt") -> SealEntry:
    return SealEntry(
        entry_id=entry_id,
        service_date=date(2025, 1, 10),
        accounting_date=date(2025, 1, 10),
        memo=memo,
        source=f"receipt:{entry_id}",
        reverses=None,
        postings=(
            SealPosting("1400-CENTRAL", "MET500", "L1", 1000),
            SealPosting("9000", "MET500", "L1", -1000),
            SealPosting("1400-CENTRAL", "KHR", "L1", amount),
            SealPosting("2000-S1", "KHR", None, -amount),
        ),
    )


def _sealed(n: int) -> list[Row]:
    rows: list[Row] = []
    previous = GENESIS
    for i in range(1, n + 1):
        e = _entry(i * 10, amount=1000 * i, memo=f"entry {i}")
        previous = entry_seal(previous, e)
        rows.append((i, previous, e))
    return rows


def _anchor(rows: Sequence[Row]) -> tuple[int, str]:
    seq, seal, _ = rows[-1]
    assert seal is not None
    return seq, seal


# --- canonical bytes ---------------------------------------------------------------


def test_canonical_bytes_ignore_posting_order() -> None:
    e = _entry(1)
    shuffled = dataclasses.replace(e, postings=tuple(reversed(e.postings)))
    rotated = dataclasses.replace(e, postings=e.postings[2:] + e.postings[:2])
    assert canonical_bytes(e) == canonical_bytes(shuffled) == canonical_bytes(rotated)
    assert entry_seal(GENESIS, e) == entry_seal(GENESIS, shuffled)


def test_canonical_bytes_shape() -> None:
    e = SealEntry(
        7,
        date(2025, 2, 1),
        date(2025, 2, 3),
        'ថ្នាំ "x"',
        None,
        3,
        (SealPosting("1010", "USD", None, 1250), SealPosting("3000", "USD", None, -1250)),
    )
    raw = canonical_bytes(e)
    assert (
        raw
        == json.dumps(
            json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )
    assert b'"memo":"' + 'ថ្នាំ \\"x\\"'.encode() + b'"' in raw
    doc = json.loads(raw)
    assert list(doc) == sorted(doc)
    first = {"account": "1010", "amount": 1250, "commodity": "USD", "lot": None}
    assert doc["postings"][0] == first
    assert doc["reverses"] == 3 and doc["accounting_date"] == "2025-02-03"
    assert b'"amount":1250' in raw  # an int, never 1250.0 or "12.50"
    assert "ថ្នាំ".encode() in raw  # UTF-8, not \\u escapes


def test_canonical_bytes_refuse_non_int_amounts() -> None:
    e = _entry(1)
    bad = dataclasses.replace(e, postings=(SealPosting("1010", "KHR", None, 1.5),))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        canonical_bytes(bad)
    bad = dataclasses.replace(e, postings=(SealPosting("1010", "KHR", None, True),))
    with pytest.raises(TypeError):
        canonical_bytes(bad)


def test_seal_depends_on_previous_and_every_field() -> None:
    e = _entry(1)
    base = entry_seal(GENESIS, e)
    other_account = SealPosting("9001", "MET500", "L1", -1000)
    other_lot = SealPosting("9000", "MET500", "L2", -1000)
    assert len(base) == 64 and base == base.lower()
    assert entry_seal("f" * 64, e) != base
    variants = [
        dataclasses.replace(e, memo="receipt "),
        dataclasses.replace(e, service_date=date(2025, 1, 11)),
        dataclasses.replace(e, accounting_date=date(2025, 1, 11)),
        dataclasses.replace(e, source=None),
        dataclasses.replace(e, reverses=1),
        dataclasses.replace(e, entry_id=2),
        dataclasses.replace(e, postings=e.postings[:1] + (other_account,) + e.postings[2:]),
        dataclasses.replace(e, postings=e.postings[:1] + (other_lot,) + e.postings[2:]),
    ]
    assert len({entry_seal(GENESIS, v) for v in variants} | {base}) == len(variants) + 1
    with pytest.raises(ValueError):
        entry_seal("xyz", e)


# --- tamper trials -----------------------------------------------------------------


def test_intact_chain_verifies() -> None:
    rows = _sealed(6)
    assert verify_chain(rows) == VerifyResult(True, 6, None, None)
    assert verify_chain(iter(rows), expected_last=_anchor(rows)).ok
    assert verify_chain([]).ok
    assert verify_chain([], expected_last=(0, GENESIS)).ok


def test_chain_is_consumed_lazily() -> None:
    def gen() -> Iterator[Row]:
        previous = GENESIS
        for i in range(1, 2001):
            e = _entry(i)
            previous = entry_seal(previous, e)
            yield i, previous, e

    assert verify_chain(gen()).entries_checked == 2000


def test_altered_amount_is_detected() -> None:
    rows = _sealed(6)
    seq, seal, e = rows[3]
    altered = dataclasses.replace(
        e,
        postings=e.postings[:2] + (SealPosting("1400-CENTRAL", "KHR", "L1", 999),) + e.postings[3:],
    )
    rows[3] = (seq, seal, altered)
    result = verify_chain(rows)
    assert not result.ok
    assert result.first_bad_entry == 40 and result.first_bad_seq == 4
    assert result.entries_checked == 3
    assert result.reason is not None and "mismatch" in result.reason


def test_altered_memo_is_detected() -> None:
    rows = _sealed(5)
    seq, seal, e = rows[1]
    rows[1] = (seq, seal, dataclasses.replace(e, memo="entry 2 (edited)"))
    result = verify_chain(rows)
    assert (result.ok, result.first_bad_entry, result.entries_checked) == (False, 20, 1)


def test_altered_date_and_account_are_detected() -> None:
    rows = _sealed(4)
    seq, seal, e = rows[2]
    rows[2] = (seq, seal, dataclasses.replace(e, accounting_date=date(2024, 12, 31)))
    assert verify_chain(rows).first_bad_entry == 30
    rows = _sealed(4)
    seq, seal, e = rows[0]
    moved = (SealPosting("2000-S2", "KHR", None, -1000),)
    rows[0] = (seq, seal, dataclasses.replace(e, postings=e.postings[:3] + moved))
    assert verify_chain(rows).first_bad_entry == 10


def test_recomputed_seal_after_alteration_breaks_the_next_entry() -> None:
    # A forger who re-seals the altered entry still breaks the link to the one after.
    rows = _sealed(5)
    seq, _, e = rows[1]
    forged = dataclasses.replace(e, memo="forged")
    rows[1] = (seq, entry_seal(rows[0][1] or "", forged), forged)
    result = verify_chain(rows)
    assert (result.ok, result.first_bad_entry, result.first_bad_seq) == (False, 30, 3)


def test_deleted_entry_is_detected() -> None:
    rows = _sealed(6)
    del rows[2]  # seal_seq 3, entry 30
    result = verify_chain(rows)
    assert not result.ok
    assert result.first_bad_entry == 40  # the first entry after the gap
    assert result.first_bad_seq == 3
    assert result.reason is not None and "missing" in result.reason


def test_deleted_and_renumbered_entry_is_detected() -> None:
    rows = _sealed(6)
    del rows[2]
    rows = [(i, seal, e) for i, (_, seal, e) in enumerate(rows, start=1)]
    result = verify_chain(rows)
    assert (result.ok, result.first_bad_entry) == (False, 40)


def test_swapped_entries_are_detected() -> None:
    rows = _sealed(6)
    # swap the positions of seal_seq 2 and 3 (the seals travel with their entries)
    (s2, seal2, e2), (s3, seal3, e3) = rows[1], rows[2]
    rows[1], rows[2] = (s2, seal3, e3), (s3, seal2, e2)
    result = verify_chain(rows)
    assert (result.ok, result.first_bad_entry, result.first_bad_seq) == (False, 30, 2)
    # the rows themselves delivered out of order
    rows = _sealed(6)
    rows[1], rows[2] = rows[2], rows[1]
    result = verify_chain(rows)
    assert (result.ok, result.first_bad_entry) == (False, 30)


def test_wiped_seal_is_detected() -> None:
    rows = _sealed(3)
    rows[1] = (2, None, rows[1][2])
    result = verify_chain(rows)
    assert (result.ok, result.first_bad_entry) == (False, 20)


def test_truncated_tail_needs_and_uses_the_anchor() -> None:
    rows = _sealed(6)
    anchor = _anchor(rows)
    truncated = rows[:4]
    assert verify_chain(truncated).ok  # without an anchor a short chain looks fine
    result = verify_chain(truncated, expected_last=anchor)
    assert not result.ok
    assert result.first_bad_entry is None and result.first_bad_seq == 5
    assert result.entries_checked == 4
    assert result.reason is not None and "truncated" in result.reason


def test_rewritten_tail_differs_from_anchor() -> None:
    rows = _sealed(6)
    anchor = _anchor(rows)
    # truncate and re-seal new entries in place of the old tail
    rows = rows[:4]
    previous = rows[-1][1] or GENESIS
    for seq in (5, 6):
        e = _entry(seq * 10, amount=1, memo="replacement")
        previous = entry_seal(previous, e)
        rows.append((seq, previous, e))
    result = verify_chain(rows, expected_last=anchor)
    assert (result.ok, result.first_bad_entry, result.first_bad_seq) == (False, 60, 6)


def test_chain_grown_since_the_anchor_is_fine() -> None:
    rows = _sealed(6)
    assert verify_chain(rows, expected_last=_anchor(rows[:4])).ok


# --- Merkle, RFC 6962 --------------------------------------------------------------


def _reference_mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 section 2.1, written as literally as possible."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(
        b"\x01" + _reference_mth(leaves[:k]) + _reference_mth(leaves[k:])
    ).digest()


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_merkle_by_hand_for_small_n() -> None:
    d = [bytes([i]) * (i + 1) for i in range(7)]
    leaf = [_h(b"\x00" + x) for x in d]

    def node(a: bytes, b: bytes) -> bytes:
        return _h(b"\x01" + a + b)

    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()
    assert merkle_root(d[:1]) == leaf[0].hex()
    assert merkle_root(d[:2]) == node(leaf[0], leaf[1]).hex()
    assert merkle_root(d[:3]) == node(node(leaf[0], leaf[1]), leaf[2]).hex()
    four = node(node(leaf[0], leaf[1]), node(leaf[2], leaf[3]))
    assert merkle_root(d[:5]) == node(four, leaf[4]).hex()
    assert merkle_root(d[:7]) == node(four, node(node(leaf[4], leaf[5]), leaf[6])).hex()


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 33, 100])
def test_merkle_matches_reference(n: int) -> None:
    leaves = [f"leaf-{i}".encode() for i in range(n)]
    assert merkle_root(leaves) == _reference_mth(leaves).hex()
    assert merkle_root(iter(leaves)) == _reference_mth(leaves).hex()


def test_rfc6962_empty_tree_known_value() -> None:
    # The well-known SHA-256 of the empty string (RFC 6962 MTH of an empty list).
    assert merkle_root([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_period_root_over_canonical_bytes() -> None:
    entries = [_entry(i) for i in range(1, 6)]
    assert period_root(entries) == _reference_mth([canonical_bytes(e) for e in entries]).hex()
    altered = entries[:2] + [dataclasses.replace(entries[2], memo="x")] + entries[3:]
    assert period_root(altered) != period_root(entries)
