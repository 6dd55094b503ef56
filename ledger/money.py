"""Amounts as integers in the smallest unit; decimal strings only at the API edge.

Every amount inside the service is an ``int``: minor units of a currency (KHR has
exponent 0, USD exponent 2) or base units of a medicine (tablets, ml). This module is
the one place that turns a decimal string into minor units and back, and the one
place that rounds (half-up, to the minor unit), so no float ever comes near money.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction

#: Largest absolute amount accepted at the edge, in minor units (a quadrillion riel).
#: Kept far below 2**63 so that sums of many postings can never overflow a BIGINT.
MAX_AMOUNT_MINOR = 10**15

#: Largest quantity of a medicine accepted in one line, in base units.
MAX_QUANTITY_UNITS = 10**9

#: ASCII digits only, and \Z (not $, which also matches before a trailing newline).
_DECIMAL_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?\Z")


class AmountError(ValueError):
    """Raised when a decimal string is not a valid amount for its currency."""


def parse_amount(text: object, exponent: int, *, allow_negative: bool = True) -> int:
    """Parse a decimal string (or a JSON integer) into minor units.

    ``"12.50"`` with exponent 2 is ``1250``; ``"3000"`` with exponent 0 is ``3000``.
    More decimals than the exponent, exponents, floats, booleans and blanks are refused:
    an amount is exact or it is an error.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise AmountError('must be a decimal string such as "3000" or "12.50"')
    if isinstance(text, int):
        minor = text * 10**exponent
    else:
        if not _DECIMAL_RE.match(text):
            raise AmountError(f'{text!r} is not a decimal number such as "3000" or "12.50"')
        whole, _, frac = text.lstrip("-").partition(".")
        if len(frac) > exponent:
            raise AmountError(f"{text!r} has {len(frac)} decimals; this currency allows {exponent}")
        minor = int(whole) * 10**exponent + (int(frac.ljust(exponent, "0")) if exponent else 0)
        if text.startswith("-"):
            minor = -minor
    if abs(minor) > MAX_AMOUNT_MINOR:
        raise AmountError(f"{text!r} is larger than this service accepts")
    if minor < 0 and not allow_negative:
        raise AmountError(f"{text!r} must not be negative")
    return int(minor)


def format_amount(minor: int, exponent: int) -> str:
    """Format minor units as a decimal string with exactly ``exponent`` decimals."""
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor)).rjust(exponent + 1, "0")
    if exponent == 0:
        return f"{sign}{digits}"
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"


def parse_unit_price(text: object, exponent: int, max_extra_decimals: int = 6) -> Fraction:
    """Parse a unit price that may carry up to 6 decimals, as an exact fraction of minor units.

    ``"0.125"`` KHR is ``Fraction(1, 8)`` riel; ``"1.234567"`` USD is 123.4567 cents.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise AmountError('must be a decimal string such as "50" or "0.125"')
    s = str(text)
    if not _DECIMAL_RE.match(s) or s.startswith("-"):
        raise AmountError(f"{s!r} is not a non-negative decimal number")
    _, _, frac = s.partition(".")
    if len(frac) > max_extra_decimals:
        raise AmountError(
            f"{s!r} has {len(frac)} decimals; a unit price allows {max_extra_decimals}"
        )
    try:
        value = Fraction(Decimal(s)) * 10**exponent
    except InvalidOperation as exc:  # pragma: no cover - the regex already refused it
        raise AmountError(f"{s!r} is not a number") from exc
    if value > MAX_AMOUNT_MINOR:
        raise AmountError(f"{s!r} is larger than this service accepts")
    return Fraction(value)


def format_unit_price(value: Fraction, exponent: int) -> str:
    """Format an exact unit price (a fraction of minor units) without trailing zeros."""
    major = Decimal(value.numerator) / Decimal(value.denominator) / (Decimal(10) ** exponent)
    text = format(major.normalize(), "f")
    return text


def round_half_up(value: Fraction | int) -> int:
    """Round an exact rational to the nearest integer, halves away from zero."""
    v = Fraction(value)
    if v >= 0:
        return int((v + Fraction(1, 2)).__floor__())
    return -int((-v + Fraction(1, 2)).__floor__())


def ratio_split(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights``; the parts always sum back to ``total``.

    Each part is the rounded cumulative share minus the previous one, so rounding never
    leaves a residue and the split is exact whatever the weights.
    """
    whole = sum(weights)
    if whole == 0:
        raise ValueError("cannot split by weights that sum to zero")
    parts: list[int] = []
    running_weight = 0
    previous = 0
    for w in weights:
        running_weight += w
        cumulative = round_half_up(Fraction(total * running_weight, whole))
        parts.append(cumulative - previous)
        previous = cumulative
    assert sum(parts) == total
    return parts


def lot_value_taken(value_left: int, units_left: int, units_taken: int) -> int:
    """Value that leaves a lot when ``units_taken`` of its ``units_left`` units are taken.

    DESIGN.md: ``round_half_up(V * q / Q)``, and ``V`` itself when ``q = Q`` so units and
    value reach zero together and no residue is ever left behind.
    """
    if units_taken <= 0 or units_taken > units_left:
        raise ValueError(f"cannot take {units_taken} of {units_left} units")
    if units_taken == units_left:
        return value_left
    return round_half_up(Fraction(value_left * units_taken, units_left))
