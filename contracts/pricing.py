"""The pricing of a dispensing and of its returns: pure functions from facts to amounts.

Design note
-----------
Nothing here touches Flask, a database or a clock; the caller looks up the facts (the price
list version, the scheme enrolment and the contract in force on the service date, the
subsidy the patient already used that month, the lots a dispensing took) and this module
turns them into integer amounts in minor units. Unit prices and percentages are exact
``Fraction`` values; the only rounding is ``ledger.money.round_half_up``. Never a float.

Dispensing (DESIGN.md, "Rules of arithmetic"):

1. line price = ``round(unit_price * quantity)``;
2. line subsidy = ``round(price * percent / 100)`` for an eligible medicine, else 0;
3. the per-dispensing cap and the per-patient-month cap (less ``subsidy_used_in_month``) are
   consumed line by line in request order: a line gets ``min(subsidy, dispensing cap left,
   month cap left)``;
4. cash rounding ``R``: the total co-payment is rounded half-up to a multiple of ``R`` and
   clamped to ``[0, total price]``; the difference moves between co-payment and subsidy on
   the LAST line. Decision for the case the rule leaves open: when the last line cannot absorb
   all of it without a negative subsidy or co-payment, the remainder moves to the previous
   lines, last to first. Because the co-payment is only ever moved by less than ``R / 2``
   towards the subsidy, the subsidy after cash rounding may exceed a cap by at most
   ``(R - 1) // 2`` minor units; the caps bound the subsidy *before* that adjustment.
   Cash rounding belongs to the scheme: it applies whenever a scheme applies, even if no line
   is eligible; a walk-in (``scheme=None``) is never rounded;
5. fee: ``percent`` -> ``round(total_price * value / 100)``; ``per_line`` -> ``value * lines``;
   ``per_dispensing`` -> ``value``.
6. budget (DESIGN.md "Funders"): when the scheme has a budget for the service date (the
   caller hands in ``budget_left``, the smaller of what is left of the month's and the year's
   budget), the subsidy after caps and cash rounding ``S`` is cut to at most ``budget_left``.
   The cut ``S - budget_left`` is rounded UP to a multiple of the cash rounding ``R`` (so the
   co-payment stays a multiple of ``R``) but never past ``S`` (the co-payment never exceeds
   the price), then taken line by line in request order: each line keeps
   ``min(subsidy, allowance left)`` of an allowance ``S - cut``, the rest of its subsidy
   moves to its co-payment. The budget is never passed: ``total_subsidy <= budget_left``.
   ``PricedDispensing.budget_cuts`` says the cut per line, or None when nothing was cut.

Returns: units go back into the lots they came from, the latest picked lot first, at the
value they left with. Every amount ``X`` of a line (price, subsidy) spread over its ``Q``
units, and every lot value over the lot's units, is reversed cumulatively: returning ``n``
more after ``b`` reverses ``round(X * (b + n) / Q) - round(X * b / Q)``, so any sequence of
returns that adds up to everything reverses the dispensing exactly. Co-payment reversed is
price reversed minus subsidy reversed; since price and subsidy round independently, one
partial return may reverse a co-payment of -1 minor unit (the next part makes up for it).
A ``percent`` fee is reversed cumulatively on the share of the total price reversed so far;
the other fee kinds are reversed whole by the return that completes the dispensing.

Every split is checked to sum back (line price == subsidy + co-payment, totals == sums);
a failure raises ``AssertionError`` even under ``python -O``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from ledger.money import round_half_up

PAYERS = frozenset({"external", "fund"})
FEE_KINDS = frozenset({"per_dispensing", "per_line", "percent"})


# --------------------------------------------------------------------------- errors


class PricingError(ValueError):
    """Base class: raised when the facts given to pricing cannot be priced."""


class InvalidSchemeTerms(PricingError):
    """Raised when a ``SchemeTerms`` is malformed: unknown payer, percent outside 0..100,
    a negative cap, a cash rounding that is not a positive integer, or a float anywhere."""


class InvalidFeeRule(PricingError):
    """Raised when a ``FeeRule`` has an unknown kind, a negative value, a float value, or a
    non-integer value for a ``per_dispensing`` / ``per_line`` fee (those are minor units)."""


class InvalidLine(PricingError):
    """Raised when a dispensing has no lines, or a line has a quantity that is not a positive
    integer or a unit price that is negative or not an exact ``Fraction``/``int``."""


class InconsistentAmounts(PricingError):
    """Raised when a ``PricedLine`` or ``PricedDispensing`` is built with amounts that do not
    sum back (price != subsidy + co-payment, a negative amount, totals != sums of lines)."""


class InvalidReturn(PricingError):
    """Raised when the arguments of ``price_return`` do not describe the dispensing: wrong
    number of lines, lots that do not add up to a line's quantity, negative quantities,
    a return of nothing, or an unknown fee kind."""


class ReturnExceedsDispensed(InvalidReturn):
    """Raised when a return asks for more units of a line than remain un-returned; the message
    names the medicine."""

    def __init__(self, medicine: str, line_index: int, remaining: int, requested: int) -> None:
        self.medicine = medicine
        self.line_index = line_index
        self.remaining = remaining
        self.requested = requested
        super().__init__(
            f"cannot return {requested} of {medicine} (line {line_index}): "
            f"only {remaining} remain un-returned"
        )


class InconsistentReturnHistory(InvalidReturn):
    """Raised when the caller's record of earlier returns (units per lot, fee reversed)
    disagrees with what the return rules derive from the units returned per line."""


def _ensure(condition: bool, message: str) -> None:
    """An assertion that survives ``python -O``: the arithmetic must sum back."""
    if not condition:
        raise AssertionError(message)


def _is_exact_number(value: object) -> bool:
    return isinstance(value, (int, Fraction)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class SchemeTerms:
    """A subsidy scheme as it applies on the service date."""

    code: str
    payer: str  # "external" | "fund"
    percent: Fraction  # 0..100
    cap_per_dispensing: int | None  # minor units
    cap_per_patient_month: int | None  # minor units
    eligible_medicines: frozenset[str] | None  # None = all eligible
    cash_rounding: int | None  # a multiple for the co-payment, e.g. 100 (KHR)

    def __post_init__(self) -> None:
        if self.payer not in PAYERS:
            raise InvalidSchemeTerms(f"payer must be one of {sorted(PAYERS)}, not {self.payer!r}")
        if not _is_exact_number(self.percent):
            raise InvalidSchemeTerms("percent must be an exact Fraction or int, never a float")
        object.__setattr__(self, "percent", Fraction(self.percent))
        if not 0 <= self.percent <= 100:
            raise InvalidSchemeTerms(f"percent must be between 0 and 100, not {self.percent}")
        for name in ("cap_per_dispensing", "cap_per_patient_month"):
            cap = getattr(self, name)
            if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 0):
                raise InvalidSchemeTerms(f"{name} must be a non-negative integer or None")
        r = self.cash_rounding
        if r is not None and (not isinstance(r, int) or isinstance(r, bool) or r <= 0):
            raise InvalidSchemeTerms("cash_rounding must be a positive integer or None")

    def is_eligible(self, medicine: str) -> bool:
        """True when the scheme subsidises ``medicine`` (no list means all are eligible)."""
        return self.eligible_medicines is None or medicine in self.eligible_medicines


@dataclass(frozen=True)
class FeeRule:
    """The dispensing fee rule of a contract."""

    kind: str  # "per_dispensing" | "per_line" | "percent"
    value: Fraction  # minor units for per_*; a percentage for "percent"

    def __post_init__(self) -> None:
        if self.kind not in FEE_KINDS:
            raise InvalidFeeRule(f"fee kind must be one of {sorted(FEE_KINDS)}, not {self.kind!r}")
        if not _is_exact_number(self.value):
            raise InvalidFeeRule("fee value must be an exact Fraction or int, never a float")
        object.__setattr__(self, "value", Fraction(self.value))
        if self.value < 0:
            raise InvalidFeeRule(f"fee value must not be negative, not {self.value}")
        if self.kind != "percent" and self.value.denominator != 1:
            raise InvalidFeeRule(
                f"a {self.kind} fee is a whole number of minor units, not {self.value}"
            )

    def amount(self, total_price: int, line_count: int) -> int:
        """The fee for a dispensing of ``line_count`` lines priced ``total_price`` in all."""
        if self.kind == "percent":
            return round_half_up(total_price * self.value / 100)
        if self.kind == "per_line":
            return int(self.value) * line_count
        return int(self.value)


@dataclass(frozen=True)
class LineRequest:
    """One line asked for: a medicine, a quantity in base units, a unit price."""

    medicine: str
    quantity: int  # base units, > 0
    unit_price: Fraction  # minor units per base unit

    def __post_init__(self) -> None:
        q = self.quantity
        if not isinstance(q, int) or isinstance(q, bool) or q <= 0:
            raise InvalidLine(f"{self.medicine}: quantity must be a positive integer, not {q!r}")
        if not _is_exact_number(self.unit_price):
            raise InvalidLine(f"{self.medicine}: unit price must be an exact Fraction, not a float")
        object.__setattr__(self, "unit_price", Fraction(self.unit_price))
        if self.unit_price < 0:
            raise InvalidLine(f"{self.medicine}: unit price must not be negative")


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class PricedLine:
    """A priced line: ``price == subsidy + copayment``, all non-negative."""

    medicine: str
    quantity: int
    unit_price: Fraction
    price: int
    subsidy: int
    copayment: int

    def __post_init__(self) -> None:
        if min(self.price, self.subsidy, self.copayment) < 0:
            raise InconsistentAmounts(f"{self.medicine}: amounts must not be negative")
        if self.price != self.subsidy + self.copayment:
            raise InconsistentAmounts(
                f"{self.medicine}: price {self.price} != subsidy {self.subsidy}"
                f" + co-payment {self.copayment}"
            )


@dataclass(frozen=True)
class PricedDispensing:
    """A priced dispensing: totals are the sums of the lines; ``fee`` is owed to the pharmacy."""

    lines: tuple[PricedLine, ...]
    total_price: int
    total_subsidy: int
    total_copayment: int
    fee: int
    #: per line, the subsidy a budget cut (moved to the co-payment); None: no budget cut
    budget_cuts: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if (
            self.total_price != sum(line.price for line in self.lines)
            or self.total_subsidy != sum(line.subsidy for line in self.lines)
            or self.total_copayment != sum(line.copayment for line in self.lines)
        ):
            raise InconsistentAmounts("dispensing totals are not the sums of its lines")
        if self.fee < 0:
            raise InconsistentAmounts("fee must not be negative")


@dataclass(frozen=True)
class LotTaken:
    """Units of one lot and the cost value that moved with them."""

    lot: str
    quantity: int
    value: int  # the cost that left (or, in a return, comes back) with these units


@dataclass(frozen=True)
class LineReturn:
    """What one line of a return reverses. ``price == subsidy + copayment``; ``cost`` is the
    sum of ``lots`` values. A partial return may reverse a co-payment of -1 (see module note).
    """

    line_index: int
    quantity: int
    price: int
    subsidy: int
    copayment: int
    cost: int
    lots: tuple[LotTaken, ...]  # units and value going back, per lot, latest picked first


@dataclass(frozen=True)
class PricedReturn:
    """A priced return: the amounts a reversing entry posts. Lines returning nothing are
    left out."""

    lines: tuple[LineReturn, ...]
    total_price: int
    total_subsidy: int
    total_copayment: int
    total_cost: int
    fee: int


# --------------------------------------------------------------------------- dispensing


def _subsidies_within_caps(
    prices: Sequence[int],
    requests: Sequence[LineRequest],
    scheme: SchemeTerms,
    subsidy_used_in_month: int,
) -> list[int]:
    """Raw line subsidies, then the caps consumed line by line in request order."""
    dispensing_left = scheme.cap_per_dispensing
    month_left = (
        None
        if scheme.cap_per_patient_month is None
        else max(0, scheme.cap_per_patient_month - subsidy_used_in_month)
    )
    subsidies: list[int] = []
    for price, request in zip(prices, requests, strict=True):
        subsidy = (
            round_half_up(price * scheme.percent / 100)
            if scheme.is_eligible(request.medicine)
            else 0
        )
        if dispensing_left is not None:
            subsidy = min(subsidy, dispensing_left)
            dispensing_left -= subsidy
        if month_left is not None:
            subsidy = min(subsidy, month_left)
            month_left -= subsidy
        subsidies.append(subsidy)
    return subsidies


def _apply_cash_rounding(prices: Sequence[int], subsidies: Sequence[int], r: int) -> list[int]:
    """Round the total co-payment to a multiple of ``r`` (clamped to ``[0, total price]``),
    moving the difference on the last line, then spilling to earlier lines, last to first."""
    total_price = sum(prices)
    total_copayment = total_price - sum(subsidies)
    target = round_half_up(Fraction(total_copayment, r)) * r
    target = min(max(target, 0), total_price)
    diff = target - total_copayment  # > 0: co-payment up, subsidy down; < 0: the reverse
    adjusted = list(subsidies)
    for i in reversed(range(len(adjusted))):
        if diff == 0:
            break
        if diff > 0:
            move = min(diff, adjusted[i])
            adjusted[i] -= move
            diff -= move
        else:
            move = min(-diff, prices[i] - adjusted[i])
            adjusted[i] += move
            diff += move
    _ensure(diff == 0, "cash rounding difference could not be absorbed")
    _ensure(total_price - sum(adjusted) == target, "cash rounding missed its target")
    return adjusted


def _apply_budget(subsidies: Sequence[int], budget_left: int, r: int | None) -> list[int]:
    """Subsidies cut to ``budget_left`` in all (rule 6): the cut rounded up to a multiple of
    ``r`` but never past the subsidy, taken line by line in request order."""
    total = sum(subsidies)
    cut = total - max(budget_left, 0)
    if cut <= 0:
        return list(subsidies)
    if r is not None:
        cut = -(-cut // r) * r
    cut = min(cut, total)
    allowance = total - cut
    kept: list[int] = []
    for subsidy in subsidies:
        keep = min(subsidy, allowance)
        allowance -= keep
        kept.append(keep)
    _ensure(sum(kept) == total - cut, "budget cut missed its target")
    _ensure(sum(kept) <= max(budget_left, 0), "budget passed")
    return kept


def price_dispensing(
    lines: Sequence[LineRequest],
    scheme: SchemeTerms | None,
    fee: FeeRule,
    subsidy_used_in_month: int = 0,
    budget_left: int | None = None,
) -> PricedDispensing:
    """Price a dispensing: line prices, subsidies (capped, cash-rounded), co-payments, fee.

    ``scheme`` is None for a walk-in or a patient not enrolled on the service date: then the
    subsidy is 0, the co-payment is the price, and there is no cash rounding.
    ``subsidy_used_in_month`` is the subsidy the patient already consumed in the calendar month
    of the service date, net of returns (the caller computes it).
    ``budget_left`` is what is left of the scheme's budget for the service date (the smaller
    of the month's and the year's; None: the scheme has no budget then): rule 6.
    """
    if not lines:
        raise InvalidLine("a dispensing needs at least one line")
    if (
        not isinstance(subsidy_used_in_month, int)
        or isinstance(subsidy_used_in_month, bool)
        or subsidy_used_in_month < 0
    ):
        raise PricingError("subsidy_used_in_month must be a non-negative integer")
    if budget_left is not None and (
        not isinstance(budget_left, int) or isinstance(budget_left, bool)
    ):
        raise PricingError("budget_left must be an integer or None")

    prices = [round_half_up(line.unit_price * line.quantity) for line in lines]
    if scheme is None:
        subsidies = [0] * len(lines)
    else:
        subsidies = _subsidies_within_caps(prices, lines, scheme, subsidy_used_in_month)
        if scheme.cash_rounding is not None:
            subsidies = _apply_cash_rounding(prices, subsidies, scheme.cash_rounding)
    cuts: tuple[int, ...] | None = None
    if scheme is not None and budget_left is not None:
        kept = _apply_budget(subsidies, budget_left, scheme.cash_rounding)
        if kept != subsidies:
            cuts = tuple(s - k for s, k in zip(subsidies, kept, strict=True))
            subsidies = kept

    priced = tuple(
        PricedLine(
            medicine=line.medicine,
            quantity=line.quantity,
            unit_price=line.unit_price,
            price=price,
            subsidy=subsidy,
            copayment=price - subsidy,
        )
        for line, price, subsidy in zip(lines, prices, subsidies, strict=True)
    )
    for p in priced:
        _ensure(p.price == p.subsidy + p.copayment, f"{p.medicine}: line does not sum back")
        _ensure(min(p.price, p.subsidy, p.copayment) >= 0, f"{p.medicine}: negative amount")
    total_price = sum(p.price for p in priced)
    total_subsidy = sum(p.subsidy for p in priced)
    total_copayment = sum(p.copayment for p in priced)
    _ensure(total_price == total_subsidy + total_copayment, "totals do not sum back")
    return PricedDispensing(
        lines=priced,
        total_price=total_price,
        total_subsidy=total_subsidy,
        total_copayment=total_copayment,
        fee=fee.amount(total_price, len(priced)),
        budget_cuts=cuts,
    )


# --------------------------------------------------------------------------- returns


def _cumulative(amount: int, done: int, of: int) -> int:
    """The share of ``amount`` reversed once ``done`` of ``of`` units are back."""
    if done == of:
        return amount
    return round_half_up(Fraction(amount * done, of))


def _units_back_per_lot(lots: Sequence[LotTaken], units: int) -> list[int]:
    """Units back in each lot (pick order) once ``units`` of the line are returned in all:
    the latest picked lot fills first."""
    back = [0] * len(lots)
    left = units
    for i in reversed(range(len(lots))):
        take = min(left, lots[i].quantity)
        back[i] = take
        left -= take
    _ensure(left == 0, "more units returned than the lots hold")
    return back


def _validate_return_args(
    original: PricedDispensing,
    lots_per_line: Sequence[Sequence[LotTaken]],
    returned_before: Sequence[int],
    returning: Sequence[int],
    fee_rule_kind: str,
) -> None:
    n = len(original.lines)
    if not (len(lots_per_line) == len(returned_before) == len(returning) == n):
        raise InvalidReturn(f"expected {n} entries per line argument (one per dispensed line)")
    if fee_rule_kind not in FEE_KINDS:
        raise InvalidReturn(f"fee kind must be one of {sorted(FEE_KINDS)}, not {fee_rule_kind!r}")
    for index, (line, lots) in enumerate(zip(original.lines, lots_per_line, strict=True)):
        if any(lot.quantity <= 0 or lot.value < 0 for lot in lots):
            raise InvalidReturn(f"{line.medicine}: a lot taken needs units > 0 and value >= 0")
        if sum(lot.quantity for lot in lots) != line.quantity:
            raise InvalidReturn(
                f"{line.medicine} (line {index}): lots hold "
                f"{sum(lot.quantity for lot in lots)} units, the line {line.quantity}"
            )
        before, now = returned_before[index], returning[index]
        if before < 0 or now < 0:
            raise InvalidReturn(f"{line.medicine}: returned quantities must not be negative")
        if before > line.quantity:
            raise InvalidReturn(f"{line.medicine}: more returned before than dispensed")
        if before + now > line.quantity:
            raise ReturnExceedsDispensed(line.medicine, index, line.quantity - before, now)
    if not any(returning):
        raise InvalidReturn("a return must give back at least one unit")


def _fee_reversed(
    original: PricedDispensing, fee_rule_kind: str, price_back: int, everything_back: bool
) -> int:
    """Cumulative fee reversed once ``price_back`` of the price is reversed."""
    if fee_rule_kind == "percent" and original.total_price > 0:
        return _cumulative(original.fee, price_back, original.total_price)
    return original.fee if everything_back else 0


def price_return(
    original: PricedDispensing,
    lots_per_line: Sequence[Sequence[LotTaken]],
    returned_before: Sequence[int],
    returning: Sequence[int],
    lots_returned_before: Sequence[Sequence[int]] | None,
    fee_rule_kind: str,
    fee_returned_before: int | None,
) -> PricedReturn:
    """Price a return of (part of) a dispensing.

    * ``original``: the dispensing as priced.
    * ``lots_per_line``: per line, the lots it took in pick order, with the value that left.
    * ``returned_before``: per line, units already returned by earlier returns.
    * ``returning``: per line, units returned now (0 for a line not returned).
    * ``lots_returned_before``: per line and lot (pick order), units already back in the lot.
    * ``fee_rule_kind``: the kind of the fee rule the dispensing was priced with.
    * ``fee_returned_before``: fee already reversed by earlier returns.

    The rules make the per-lot history and the fee already reversed a function of
    ``returned_before``; the two history arguments are therefore checks, not inputs: they are
    compared with what the rules derive and a mismatch raises ``InconsistentReturnHistory``.
    Pass ``None`` to skip a check.

    Raises ``ReturnExceedsDispensed`` when a line would get back more than remains.
    """
    _validate_return_args(original, lots_per_line, returned_before, returning, fee_rule_kind)

    if lots_returned_before is not None:
        if len(lots_returned_before) != len(lots_per_line):
            raise InvalidReturn("lots_returned_before needs one entry per dispensed line")
        for index, lots in enumerate(lots_per_line):
            derived = _units_back_per_lot(lots, returned_before[index])
            if list(lots_returned_before[index]) != derived:
                raise InconsistentReturnHistory(
                    f"{original.lines[index].medicine} (line {index}): units back per lot "
                    f"{list(lots_returned_before[index])}, the rules give {derived}"
                )

    lines: list[LineReturn] = []
    price_back_before = 0
    price_back_after = 0
    for index, (line, lots) in enumerate(zip(original.lines, lots_per_line, strict=True)):
        before, now = returned_before[index], returning[index]
        after = before + now
        q = line.quantity
        price_back_before += _cumulative(line.price, before, q)
        price_back_after += _cumulative(line.price, after, q)
        if now == 0:
            continue
        price = _cumulative(line.price, after, q) - _cumulative(line.price, before, q)
        subsidy = _cumulative(line.subsidy, after, q) - _cumulative(line.subsidy, before, q)
        lots_before = _units_back_per_lot(lots, before)
        lots_after = _units_back_per_lot(lots, after)
        lots_back: list[LotTaken] = []
        for i in reversed(range(len(lots))):  # latest picked lot first
            units = lots_after[i] - lots_before[i]
            if units == 0:
                continue
            lot = lots[i]
            value = _cumulative(lot.value, lots_after[i], lot.quantity) - _cumulative(
                lot.value, lots_before[i], lot.quantity
            )
            lots_back.append(LotTaken(lot=lot.lot, quantity=units, value=value))
        _ensure(sum(t.quantity for t in lots_back) == now, "lot units do not sum to the line")
        cost = sum(t.value for t in lots_back)
        copayment = price - subsidy
        _ensure(price == subsidy + copayment, "returned line does not sum back")
        lines.append(
            LineReturn(
                line_index=index,
                quantity=now,
                price=price,
                subsidy=subsidy,
                copayment=copayment,
                cost=cost,
                lots=tuple(lots_back),
            )
        )

    all_back_before = all(
        returned_before[i] == line.quantity for i, line in enumerate(original.lines)
    )
    all_back_after = all(
        returned_before[i] + returning[i] == line.quantity for i, line in enumerate(original.lines)
    )
    fee_before = _fee_reversed(original, fee_rule_kind, price_back_before, all_back_before)
    fee_after = _fee_reversed(original, fee_rule_kind, price_back_after, all_back_after)
    if fee_returned_before is not None and fee_returned_before != fee_before:
        raise InconsistentReturnHistory(
            f"fee reversed before is {fee_returned_before}, the rules give {fee_before}"
        )

    total_price = sum(r.price for r in lines)
    total_subsidy = sum(r.subsidy for r in lines)
    total_copayment = sum(r.copayment for r in lines)
    _ensure(total_price == total_subsidy + total_copayment, "return totals do not sum back")
    return PricedReturn(
        lines=tuple(lines),
        total_price=total_price,
        total_subsidy=total_subsidy,
        total_copayment=total_copayment,
        total_cost=sum(r.cost for r in lines),
        fee=fee_after - fee_before,
    )
