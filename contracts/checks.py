"""Checks and parsing of contracts' input: dates and ranges, percentages, money, member
codes. Pure but for ``currency_exponent`` (reads a currency's exponent)."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.errors import invalid
from ledger.money import AmountError, parse_amount
from ledger.tables import Commodity

MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2099, 12, 31)


def check_date(d: date, field: str) -> None:
    if not MIN_DATE <= d <= MAX_DATE:
        raise invalid(field, f"must be between {MIN_DATE} and {MAX_DATE}")


def check_range(valid_from: date, valid_to: date | None, prefix: str = "") -> None:
    check_date(valid_from, f"{prefix}valid_from")
    if valid_to is not None:
        check_date(valid_to, f"{prefix}valid_to")
        if valid_to < valid_from:
            raise invalid(f"{prefix}valid_to", "must not be before valid_from")


def parse_percent(value: object, field: str = "percent") -> int:
    """A percentage 0..100 with up to 2 decimals (string or integer) -> basis points."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise invalid(field, 'must be a decimal string such as "50" or "12.5", or an integer')
    try:
        bp = parse_amount(value.strip() if isinstance(value, str) else value, 2)
    except AmountError as exc:
        raise invalid(field, f"{exc} (a percentage has at most 2 decimals)") from exc
    if not 0 <= bp <= 10000:
        raise invalid(field, "must be between 0 and 100")
    return bp


def format_percent(bp: int) -> str:
    return format(Decimal(bp).scaleb(-2).normalize(), "f")


def parse_money(value: object, field: str, exponent: int, *, positive: bool = False) -> int:
    try:
        minor = parse_amount(value, exponent, allow_negative=False)
    except AmountError as exc:
        raise invalid(field, str(exc)) from exc
    if positive and minor <= 0:
        raise invalid(field, "must be greater than 0")
    return minor


def normalise_member_code(text: object, field: str = "member_code") -> str:
    """NFC-normalised member code: 1-40 characters, no control characters."""
    if not isinstance(text, str):
        raise invalid(field, "must be a string")
    code = unicodedata.normalize("NFC", text)
    if not 1 <= len(code) <= 40:
        raise invalid(field, "must be 1 to 40 characters")
    if code.strip() != code or not code.strip():
        raise invalid(field, "must not start or end with white space")
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in code):
        raise invalid(field, "must not contain control or unassigned characters")
    return code


def currency_exponent(session: Session, currency: str) -> int:
    exp = session.scalar(select(Commodity.exponent).where(Commodity.code == currency))
    if exp is None:  # pragma: no cover - a price list's currency is a foreign key
        raise invalid("currency", f"unknown currency {currency!r}")
    return int(exp)


def overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return (b_to is None or a_from <= b_to) and (a_to is None or b_from <= a_to)
