"""Money formatting for documents: integers of minor units in, display strings out."""

from __future__ import annotations

from ledger.money import parse_amount


def display_amount(minor: int, exponent: int) -> str:
    """Format an amount held in minor units with thousands separators.

    ``display_amount(1500000, 0) == "1,500,000"`` (KHR),
    ``display_amount(123456, 2) == "1,234.56"`` (USD),
    ``display_amount(-150000, 2) == "-1,500.00"``, ``display_amount(0, 2) == "0.00"``.
    Integer arithmetic only: no float ever touches the figure.
    """
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"minor must be an int of minor units, not {type(minor).__name__}")
    if isinstance(exponent, bool) or not isinstance(exponent, int) or exponent < 0:
        raise ValueError(f"exponent must be a non-negative int, not {exponent!r}")
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**exponent)
    text = f"{whole:,}"
    if exponent:
        text += "." + str(fraction).rjust(exponent, "0")
    return sign + text


def shown_amount(text: str, exponent: int) -> str:
    """A JSON amount string as printed: ``"1234.50"`` → ``"1,234.50"``."""
    return display_amount(parse_amount(text, exponent), exponent)
