"""Bank statement CSV import and matching of bank lines to recorded payments.

A statement is a CSV file with a header naming (in any order, any case) the columns
``date, amount, currency, reference, description``; other columns are ignored. Amounts are
signed decimal strings (``+`` is money in, ``-`` money out) and become integers in minor
units through :mod:`ledger.money`, so no float ever touches them.

The file is accepted whole or refused whole: the first problem found raises
:class:`MalformedStatement`, which names the line and says what is wrong in a sentence.

Decisions worth knowing:

- Line numbers are physical lines of the file, the header being line 1. A quoted field that
  spans several lines gives its record the number of the line it starts on.
- Blank (or whitespace-only) lines are tolerated only at the end of the file; a blank line
  between bank lines is refused, since it usually means a damaged export.
- The limit is 10,000 bank lines (the header and trailing blank lines do not count).
- Currency codes are trimmed and upper-cased before lookup in the caller's exponents.
- Thousands separators must be well formed: ``1,500,000`` and ``1,234.50`` are read,
  ``15,00`` is refused.
- Dates follow the rule of every other write (``ledger.journal.check_event_date``): none
  before 2000-01-01, none after tomorrow (when the caller gives ``today``).

A line's :func:`fingerprint` is what makes it the same bank movement whatever the file
looks like: date, signed amount in minor units, currency, and reference and description
case-folded with their white space collapsed. Line endings, quoting, thousands separators,
the order or number of columns do not change it. :func:`repeated_lines` finds the lines of a
new file that were imported before, counting: a file may hold a movement as many times
more as the earlier imports did not hold it yet (two equal bank charges on one day are two
lines).

Matching (:func:`match_lines`) pairs lines and payments greedily in order of preference
(exact reference, then closest date, then lowest payment id, then earliest line), so the same
inputs always give the same matches.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from ledger.journal import EARLIEST_DATE
from ledger.money import AmountError, parse_amount

T = TypeVar("T")

#: What identifies a bank movement: see :func:`fingerprint`.
Fingerprint = tuple[str, int, str, str, str]

#: Most bank lines (data rows, not counting the header) one statement may carry.
MAX_BANK_LINES = 10_000

#: Columns a statement must have; others are ignored.
REQUIRED_COLUMNS: tuple[str, ...] = ("date", "amount", "currency", "reference", "description")

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AMOUNT_RE = re.compile(r"^(?P<sign>[+-]?)(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?$")


@dataclass(frozen=True)
class BankLine:
    """One line of a bank statement, amount signed: + money in, - money out."""

    line_number: int
    date: date
    amount_minor: int
    currency: str
    reference: str
    description: str


@dataclass(frozen=True)
class PaymentRef:
    """A recorded payment as matching needs it, signed like a bank line."""

    payment_id: int
    date: date
    amount_minor: int
    currency: str
    reference: str


@dataclass(frozen=True)
class Match:
    """A bank line paired with the payment it settles."""

    line_number: int
    payment_id: int


class MalformedStatement(ValueError):
    """A bank statement that cannot be imported; nothing of it is taken."""

    def __init__(self, line_number: int, reason: str) -> None:
        self.line_number = line_number
        self.reason = reason
        super().__init__(f"Line {line_number} of the bank statement: {reason}.")


def parse_bank_csv(
    data: bytes, exponents: Mapping[str, int], *, today: date | None = None
) -> list[BankLine]:
    """Parse a bank statement CSV into bank lines, or refuse the whole file.

    ``exponents`` maps each accepted currency code to its number of decimals, e.g.
    ``{"KHR": 0, "USD": 2}``; a currency not in it makes its line malformed. ``today``:
    a line dated after the day after it is refused, as every other write refuses it.
    """
    text = _decode(data)
    if not text.strip():
        raise MalformedStatement(1, "the file is empty")

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    next_line = 1
    try:
        for row in reader:
            rows.append((next_line, row))
            next_line = reader.line_num + 1
            # Stop at the first bank line past the limit; the rest of the file is not read.
            if len(rows) > MAX_BANK_LINES + 1 and not _is_blank(row):
                break
    except csv.Error as exc:
        raise MalformedStatement(next_line, f"the CSV cannot be read ({exc})") from exc

    header_line, header = rows[0]
    columns = _columns(header, header_line)

    # Trailing blank lines are tolerated; blank lines before a bank line are not.
    while rows and _is_blank(rows[-1][1]):
        rows.pop()
    body = rows[1:]
    if not body:
        raise MalformedStatement(header_line + 1, "there is a header but no bank lines")
    width = len(header)
    latest = None if today is None else today + timedelta(days=1)
    lines = [
        _bank_line(n, row, width, columns, exponents, latest) for n, row in body[:MAX_BANK_LINES]
    ]
    if len(body) > MAX_BANK_LINES:
        raise MalformedStatement(
            body[MAX_BANK_LINES][0],
            f"a statement may hold at most {MAX_BANK_LINES:,} bank lines",
        )
    return lines


def fingerprint(
    when: date, amount_minor: int, currency: str, reference: str, description: str
) -> Fingerprint:
    """What makes two bank lines the same movement (see the module doc)."""
    return (
        when.isoformat(),
        amount_minor,
        currency.strip().upper(),
        _normalise(reference),
        _normalise(description),
    )


def fingerprint_of(line: BankLine) -> Fingerprint:
    return fingerprint(
        line.date, line.amount_minor, line.currency, line.reference, line.description
    )


def repeated_lines(
    lines: Sequence[BankLine], held: Mapping[Fingerprint, Sequence[T]]
) -> list[tuple[BankLine, T]]:
    """The lines of a new file already held, each with the line holding it: the k-th line
    of a fingerprint in the file repeats ``held[fingerprint][k - 1]`` when that exists."""
    seen: dict[Fingerprint, int] = {}
    out: list[tuple[BankLine, T]] = []
    for line in lines:
        fp = fingerprint_of(line)
        k = seen[fp] = seen.get(fp, 0) + 1
        holders = held.get(fp, ())
        if k <= len(holders):
            out.append((line, holders[k - 1]))
    return out


def match_lines(lines: Sequence[BankLine], payments: Sequence[PaymentRef]) -> list[Match]:
    """Pair bank lines with payments; each line and each payment is used at most once.

    A line and a payment are candidates when amount and currency are equal and the payment's
    reference (case-insensitive, whitespace collapsed, not empty) equals or is contained in
    the line's reference or description. Candidates are taken best first: a reference equal
    to the line's reference or whole description, then the smaller distance in days, then
    the lowest payment id, then the earliest line. Matches come back in line order.
    """
    # Only a line of the same amount and currency can be a payment's candidate: lines are
    # looked up by (amount, currency), their texts normalised once (a 10,000-line file
    # against thousands of open payments is then linear, not lines x payments).
    by_amount: dict[tuple[int, str], list[tuple[BankLine, str, str]]] = {}
    for line in lines:
        by_amount.setdefault((line.amount_minor, line.currency), []).append(
            (line, _normalise(line.reference), _normalise(line.description))
        )
    candidates: list[tuple[bool, int, int, int]] = []
    for payment in payments:
        wanted = _normalise(payment.reference)
        if not wanted:
            continue
        for line, reference, description in by_amount.get(
            (payment.amount_minor, payment.currency), ()
        ):
            if wanted not in reference and wanted not in description:
                continue
            exact = wanted in (reference, description)
            distance = abs((line.date - payment.date).days)
            candidates.append((not exact, distance, payment.payment_id, line.line_number))

    candidates.sort()
    used_lines: set[int] = set()
    used_payments: set[int] = set()
    matches: list[Match] = []
    for _, _, payment_id, line_number in candidates:
        if payment_id in used_payments or line_number in used_lines:
            continue
        used_payments.add(payment_id)
        used_lines.add(line_number)
        matches.append(Match(line_number=line_number, payment_id=payment_id))
    matches.sort(key=lambda m: m.line_number)
    return matches


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MalformedStatement(line, "the file is not UTF-8 text") from exc


def _is_blank(row: list[str]) -> bool:
    return all(not field.strip() for field in row)


def _columns(header: list[str], line_number: int) -> dict[str, int]:
    names = [field.strip().lower() for field in header]
    columns: dict[str, int] = {}
    for name in REQUIRED_COLUMNS:
        positions = [i for i, n in enumerate(names) if n == name]
        if not positions:
            raise MalformedStatement(
                line_number,
                f"the header has no {name!r} column (it needs {', '.join(REQUIRED_COLUMNS)})",
            )
        if len(positions) > 1:
            raise MalformedStatement(line_number, f"the header names the {name!r} column twice")
        columns[name] = positions[0]
    return columns


def _bank_line(
    line_number: int,
    row: list[str],
    width: int,
    columns: Mapping[str, int],
    exponents: Mapping[str, int],
    latest: date | None = None,
) -> BankLine:
    if _is_blank(row):
        raise MalformedStatement(line_number, "the line is blank")
    if len(row) != width:
        raise MalformedStatement(
            line_number, f"the line has {len(row)} fields but the header has {width}"
        )

    raw_date = row[columns["date"]].strip()
    if not _DATE_RE.match(raw_date):
        raise MalformedStatement(line_number, f"the date {raw_date!r} is not YYYY-MM-DD")
    try:
        when = date.fromisoformat(raw_date)
    except ValueError as exc:
        raise MalformedStatement(line_number, f"the date {raw_date!r} does not exist") from exc
    if when < EARLIEST_DATE:
        raise MalformedStatement(line_number, f"the date {raw_date} is before 2000-01-01")
    if latest is not None and when > latest:
        raise MalformedStatement(line_number, f"the date {raw_date} is in the future")

    currency = row[columns["currency"]].strip().upper()
    if currency not in exponents:
        raise MalformedStatement(line_number, f"the currency {currency!r} is not known")

    amount = _amount(line_number, row[columns["amount"]].strip(), currency, exponents[currency])

    return BankLine(
        line_number=line_number,
        date=when,
        amount_minor=amount,
        currency=currency,
        reference=row[columns["reference"]].strip(),
        description=row[columns["description"]].strip(),
    )


def _amount(line_number: int, raw: str, currency: str, exponent: int) -> int:
    found = _AMOUNT_RE.match(raw)
    if not found:
        raise MalformedStatement(
            line_number, f"the amount {raw!r} is not a number such as 1500 or -1,234.50"
        )
    frac = found["frac"] or ""
    if len(frac) > exponent:
        raise MalformedStatement(
            line_number,
            f"the amount {raw!r} has {len(frac)} decimals but {currency} allows {exponent}",
        )
    sign = "-" if found["sign"] == "-" else ""
    plain = sign + found["whole"].replace(",", "") + (f".{frac}" if frac else "")
    try:
        minor = parse_amount(plain, exponent)
    except AmountError as exc:
        raise MalformedStatement(line_number, f"the amount {raw!r} is refused: {exc}") from exc
    if minor == 0:
        raise MalformedStatement(line_number, f"the amount {raw!r} is zero")
    return minor


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())
