"""Two currencies, the pure rules (DESIGN.md "Two currencies"): rates and conversions.

A **rate** is the number of riel (the quote currency) for one dollar (the base currency),
with up to 6 decimals, greater than zero. It is kept exactly, as an integer number of
millionths (``micro``): ``"4100.5"`` is ``4_100_500_000``. Nothing here is a float.

Converting ``u`` minor units of one currency into the other happens once per event,
rounded half-up to the minor unit of the target currency:

* USD cents → riel: ``round_half_up(u * rate / 100)``;
* riel → USD cents: ``round_half_up(k * 100 / rate)``.

The exponents come from the chart (KHR 0, USD 2), so the same function serves any pair of
currencies the fund keeps whose rate is expressed as quote per base.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ledger import chart
from ledger.money import AmountError, format_amount, round_half_up

#: The base and quote currencies of every rate: KHR per 1 USD.
BASE = "USD"
QUOTE = "KHR"

#: A rate carries at most this many decimals.
RATE_DECIMALS = 6
RATE_SCALE = 10**RATE_DECIMALS

#: The largest rate accepted (a million riel per dollar would already be absurd).
MAX_RATE_MICRO = 10**9 * RATE_SCALE

_RATE_RE = re.compile(r"^[0-9]+(\.[0-9]+)?\Z")


class RateError(AmountError):
    """A rate that is not a decimal string > 0 with at most 6 decimals."""


@dataclass(frozen=True)
class Rate:
    """Quote units (riel) per one base unit (dollar), exactly: ``micro / 10**6``."""

    micro: int
    base: str = BASE
    quote: str = QUOTE

    def __post_init__(self) -> None:
        if isinstance(self.micro, bool) or not isinstance(self.micro, int):
            raise RateError("a rate is kept as an integer number of millionths")
        if self.micro <= 0:
            raise RateError("a rate must be greater than zero")

    @property
    def value(self) -> Fraction:
        return Fraction(self.micro, RATE_SCALE)

    @property
    def text(self) -> str:
        """The rate without trailing zeros: ``"4100"``, ``"4100.5"``."""
        return format_rate(self.micro)

    @property
    def text6(self) -> str:
        """The rate with exactly 6 decimals: ``"4100.500000"``."""
        return format_amount(self.micro, RATE_DECIMALS)


def parse_rate(text: object) -> Rate:
    """``"4100.123456"`` → ``Rate(4_100_123_456)``; refuses 0, negatives, 7 decimals,
    exponents, floats, booleans and blanks with a sentence a person understands."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise RateError('a rate must be a decimal string such as "4100" or "4100.5"')
    s = str(text)
    if s.startswith("-"):
        raise RateError(f"{s!r}: a rate must be greater than zero")
    if not _RATE_RE.match(s):
        raise RateError(f'{s!r} is not a decimal number such as "4100" or "4100.5"')
    whole, _, frac = s.partition(".")
    if len(frac) > RATE_DECIMALS:
        raise RateError(f"{s!r} has {len(frac)} decimals; a rate allows {RATE_DECIMALS}")
    micro = int(whole) * RATE_SCALE + int(frac.ljust(RATE_DECIMALS, "0"))
    if micro == 0:
        raise RateError(f"{s!r}: a rate must be greater than zero")
    if micro > MAX_RATE_MICRO:
        raise RateError(f"{s!r} is larger than any rate this service accepts")
    return Rate(micro)


def format_rate(micro: int) -> str:
    """Millionths as a decimal string without trailing zeros (``4100``, ``4100.5``)."""
    text = format_amount(micro, RATE_DECIMALS)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _exponent(currency: str) -> int:
    try:
        return chart.exponent(currency)
    except KeyError:
        raise AmountError(f"the fund does not keep {currency!r}") from None


def convert(amount: int, from_currency: str, to_currency: str, rate: Rate) -> int:
    """``amount`` minor units of ``from_currency`` in minor units of ``to_currency``, rounded
    half-up (halves away from zero, so a negative amount converts to minus the positive's)."""
    if from_currency == to_currency:
        return amount
    e_from, e_to = _exponent(from_currency), _exponent(to_currency)
    scale = Fraction(10**e_to, 10**e_from)
    if (from_currency, to_currency) == (rate.base, rate.quote):
        return round_half_up(amount * rate.value * scale)
    if (from_currency, to_currency) == (rate.quote, rate.base):
        return round_half_up(amount * scale / rate.value)
    raise AmountError(
        f"a {rate.base}/{rate.quote} rate cannot convert {from_currency} to {to_currency}"
    )


def implied_rate(
    quote_amount: int, base_amount: int, *, base: str = BASE, quote: str = QUOTE
) -> Rate:
    """The rate two amounts imply (quote per base), rounded half-up to 6 decimals:
    4,080,000 KHR for 1,000.00 USD is 4080."""
    if quote_amount <= 0 or base_amount <= 0:
        raise RateError("both amounts of an exchange must be greater than zero")
    value = Fraction(quote_amount, 10 ** _exponent(quote)) / Fraction(
        base_amount, 10 ** _exponent(base)
    )
    micro = round_half_up(value * RATE_SCALE)
    if micro <= 0:
        raise RateError("the amounts imply a rate of zero at 6 decimals")
    return Rate(micro, base, quote)


@dataclass(frozen=True)
class Conversion:
    """One event's conversion: what it converted, at which rate, into what (minor units)."""

    from_currency: str
    from_amount: int
    to_currency: str
    to_amount: int
    rate: Rate


def conversion(amount: int, from_currency: str, to_currency: str, rate: Rate) -> Conversion:
    return Conversion(
        from_currency, amount, to_currency, convert(amount, from_currency, to_currency, rate), rate
    )


def is_pair(a: str, b: str) -> bool:
    """Whether a rate converts between ``a`` and ``b`` (in either direction)."""
    return {a, b} == {BASE, QUOTE}
