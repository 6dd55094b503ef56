"""The postings of a dispensing and of a return — plain rules, no Flask, no database.

A dispensing at pharmacy P (DESIGN.md, "What each business event posts"):

consignment model (the fund owns the stock at P):
    5000 +q MED[lot]        1400-P −q MED[lot]          units leave P's inventory
    5000 +cost KHR          1400-P −value KHR[lot]      at the value they left the lot with
    1200-P +co-payment      (P collected it from the patient)
    1300-S +subsidy         (external payer) or 5300 +subsidy (the fund pays itself)
    4000 −price
    5100 +fee               2100-P −fee

purchase model (P bought the stock from the fund at a wholesale price; the fund tracks P's
own units as a memo, without value, and reimburses the subsidy):
    9000 +q MED[lot]        1400-P −q MED[lot]          memo of P's own stock
    1300-S +subsidy (or 5300 +subsidy)                  2100-P −subsidy
    5100 +fee               2100-P −fee
  Stock the fund still owns at P (moved there before P's contract became a purchase one)
  carries value: that value leaves with its units to 5000, so no lot keeps value without
  units (invariant 4).

A return posts the exact opposite of the part returned. Zero amounts are left out (a
posting is never zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger import chart
from ledger.model import PostingDraft


@dataclass(frozen=True)
class LotMove:
    """Units of one lot leaving (or coming back to) the pharmacy, with their value."""

    lot_id: int
    quantity: int
    value: int


@dataclass(frozen=True)
class LineAmounts:
    medicine: str
    lots: tuple[LotMove, ...]
    price: int
    subsidy: int
    copayment: int


@dataclass(frozen=True)
class Parties:
    pharmacy: str
    model: str  # consignment | purchase
    payer: str | None  # external | fund | None (no subsidy scheme)
    scheme: str | None
    currency: str


def _add(
    out: list[PostingDraft], account: str, commodity: str, amount: int, lot_id: int | None = None
) -> None:
    if amount:
        out.append(PostingDraft(account, commodity, amount, lot_id))


def subsidy_account(parties: Parties) -> str:
    if parties.payer == "external":
        assert parties.scheme is not None
        return chart.due_from_payer(parties.scheme)
    return chart.FUND_SUBSIDIES


def dispensing_postings(
    parties: Parties, lines: Sequence[LineAmounts], fee: int, *, sign: int = 1
) -> list[PostingDraft]:
    """The postings of a dispensing (``sign=1``) or of the return of a part (``sign=-1``).

    For a return, ``lines`` holds the amounts and lot moves being reversed (positive).
    """
    assert sign in (1, -1)
    out: list[PostingDraft] = []
    inv = chart.inventory(parties.pharmacy)
    cur = parties.currency
    total_subsidy = 0
    for line in lines:
        assert line.price == line.subsidy + line.copayment, "a price splits exactly"
        total_subsidy += line.subsidy
        for mv in line.lots:
            if parties.model == "purchase":
                _add(out, chart.UNITS_RECEIVED, line.medicine, sign * mv.quantity, mv.lot_id)
            else:
                _add(out, chart.COST_OF_MEDICINES, line.medicine, sign * mv.quantity, mv.lot_id)
            _add(out, inv, line.medicine, -sign * mv.quantity, mv.lot_id)
            _add(out, inv, cur, -sign * mv.value, mv.lot_id)
        _add(out, chart.COST_OF_MEDICINES, cur, sign * sum(mv.value for mv in line.lots))
        if parties.model != "purchase":
            _add(out, chart.due_from_pharmacy(parties.pharmacy), cur, sign * line.copayment)
            _add(out, chart.MEDICINE_REVENUE, cur, -sign * line.price)
    if total_subsidy:
        if parties.payer is None:
            raise ValueError("a subsidy needs a scheme")
        if parties.model == "purchase":
            _add(out, subsidy_account(parties), cur, sign * total_subsidy)
            _add(out, chart.due_to_pharmacy(parties.pharmacy), cur, -sign * total_subsidy)
        else:
            _add(out, subsidy_account(parties), cur, sign * total_subsidy)
    _add(out, chart.DISPENSING_FEES, cur, sign * fee)
    _add(out, chart.due_to_pharmacy(parties.pharmacy), cur, -sign * fee)
    return _merge(out)


def _merge(postings: list[PostingDraft]) -> list[PostingDraft]:
    """Fold postings to the same (account, commodity, lot) into one."""
    sums: dict[tuple[str, str, int | None], int] = {}
    for p in postings:
        k = (p.account, p.commodity, p.lot_id)
        sums[k] = sums.get(k, 0) + p.amount
    return [PostingDraft(a, c, v, lot) for (a, c, lot), v in sums.items() if v]
