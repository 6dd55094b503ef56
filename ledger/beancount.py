"""The journal as a Beancount 3 file, streamed: an export an auditor can check with ``bean-check``.

Beancount is an independent double-entry engine; a file it accepts is a second opinion on
our books. The export maps the journal one to one:

* **Accounts.** ``Type:code``: asset → ``Assets:1400-P1``, liability → ``Liabilities:…``,
  equity and memo (the ``9000`` quantity counter-account) → ``Equity:…``, income →
  ``Income:…``, expense → ``Expenses:…``. Codes are flat (no ``:``), so a Beancount
  ``balance`` on an account never sums sub-accounts. Every account passed in is opened in the
  header, dated its ``opened_on`` or the ``opening_date``, whichever is earlier; a posting
  that uses an unknown account, or one before its open date, is refused (``ValueError``)
  rather than silently re-dated.
* **Commodities.** One ``commodity`` directive each (with ``exponent`` metadata), and the
  ``check_commodity`` plugin so Beancount itself proves none is missing. Money is written in
  decimal at the currency's exponent (``12.50 USD``, ``3000 KHR``), medicines as integers of
  their base unit. Amounts stay ``int`` until :func:`ledger.money.format_amount`.
* **Entries.** One transaction per entry, dated its accounting date, narration = memo, with
  metadata ``entry-id`` (a string, so it round-trips exactly), ``service-date`` (a date),
  ``source`` and ``seal`` (strings, omitted when ``None``). A posting's lot is posting
  metadata ``lot: "L1"``. Our entries balance per commodity, so no price or cost annotation is
  ever needed; units are held *without cost*, which Beancount's default ``STRICT`` booking
  augments and reduces as plain numbers (mixed signs included), so no booking option is set.
* **Opening balances.** A range that starts mid-history gets, per commodity, one transaction
  on ``opening_date`` moving the given balances against ``Equity:Opening-Balances``; the file
  then checks on its own.
* **Balance assertions.** Beancount's ``balance`` checks the balance at the *start* of its
  date, so the assertion for the end of January is dated 1 February. Each assertion carries an
  explicit ``~ 0`` tolerance: without it Beancount tolerates 0.01 on a two-decimal amount,
  and an assertion that lets a cent through proves nothing.

**Streaming.** ``entries`` is any iterable in accounting-date order (a server-side cursor);
it is consumed once, and text is handed to ``write`` piece by piece (one directive at a
time), so neither the journal nor the file is ever held in memory. Only the chart of
accounts and the commodity list — both small — are materialised.

**Month-end balances** come from the caller through one callback,
``month_ends(boundary) -> Iterable[(account_code, commodity, amount)]``: the balances of all
postings with an accounting date *before* ``boundary`` (cumulative, opening included). The
renderer calls it once per boundary, in date order, as the entry stream passes it, i.e. just
before writing the first entry on or after the boundary, and for the remaining boundaries at
the end. Boundaries are every first of a month after the range start (``opening_date``, else
the first entry's date) up to and including ``end`` (the exclusive end of the range; without
it, the first of the month after the last entry), plus ``end`` itself when it falls mid-month,
so the range's closing balances are always asserted. A caller that keeps
monthly closing balances answers each call with one query; one that does not can fold the
same postings it is streaming. Zero balances may be given or left out.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from ledger import chart
from ledger.money import format_amount

#: Human statement of the rule :func:`is_valid_commodity` enforces.
COMMODITY_RULE: str = (
    "A commodity code is 2 to 24 characters: upper-case letters A-Z, digits 0-9 and the "
    "characters - _ . ' ; it starts with a letter and ends with a letter or a digit "
    "(e.g. KHR, USD, MET500, INS-GLARG.100)."
)

# Beancount 3's lexer (parser/lexer.l): [A-Z][A-Z0-9\'\.\_\-]*[A-Z0-9] is a currency. It
# also admits a single capital letter and names starting with "/" (futures); we do not,
# and we keep Beancount 2's limit of 24 characters so the file reads in either version.
_COMMODITY_RE = re.compile(r"[A-Z][A-Z0-9'._\-]{0,22}[A-Z0-9]")

# Beancount's account component (ACC_COMP_NAME_RE), restricted to ASCII.
_ACCOUNT_CODE_RE = re.compile(r"[A-Z0-9][A-Za-z0-9\-]*")

_ROOTS: dict[str, str] = {
    "asset": "Assets",
    "liability": "Liabilities",
    "equity": "Equity",
    "memo": "Equity",
    "income": "Income",
    "expense": "Expenses",
}

#: Where opening balances are booked against.
OPENING_ACCOUNT = "Equity:Opening-Balances"

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


@dataclass(frozen=True)
class BcAccount:
    """An account of the chart: ``type`` is asset|liability|equity|income|expense|memo."""

    code: str
    type: str
    opened_on: date


@dataclass(frozen=True)
class BcCommodity:
    """A currency (exponent 0 for KHR, 2 for USD) or a medicine (exponent 0, base units)."""

    code: str
    exponent: int


@dataclass(frozen=True)
class BcPosting:
    """One posting: ``amount`` in minor units or base units, positive = debit."""

    account: str
    commodity: str
    amount: int
    lot: str | None


@dataclass(frozen=True)
class BcEntry:
    """One journal entry as exported."""

    entry_id: int
    accounting_date: date
    service_date: date
    memo: str
    source: str | None
    seal: str | None
    postings: tuple[BcPosting, ...]


#: ``month_ends(boundary)``: balances ``(account_code, commodity, amount)`` before ``boundary``.
MonthEnds = Callable[[date], Iterable[tuple[str, str, int]]]


def account_name(code: str, type: str) -> str:
    """The Beancount name of an account: ``account_name("1400-P1", "asset")`` →
    ``"Assets:1400-P1"``."""
    try:
        root = _ROOTS[type]
    except KeyError:
        raise ValueError(f"unknown account type {type!r}") from None
    if not _ACCOUNT_CODE_RE.fullmatch(code):
        raise ValueError(
            f"account code {code!r} is not a Beancount account component "
            "(a capital letter or digit, then letters, digits or -)"
        )
    return f"{root}:{code}"


def is_valid_commodity(code: str) -> bool:
    """Whether ``code`` is a commodity code this service (and Beancount) accepts.

    See :data:`COMMODITY_RULE`.
    """
    return isinstance(code, str) and _COMMODITY_RE.fullmatch(code) is not None


def quote(text: str) -> str:
    """A Beancount string literal: backslash, quote, newline, CR and tab escaped."""
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in text) + '"'


def _next_month(d: date) -> date:
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def render_beancount(
    accounts: Iterable[BcAccount],
    commodities: Iterable[BcCommodity],
    entries: Iterable[BcEntry],
    *,
    write: Callable[[str], None],
    opening: Mapping[tuple[str, str], int] | None = None,
    opening_date: date | None = None,
    month_ends: MonthEnds | None = None,
    end: date | None = None,
    title: str = "RDF Ledger",
    operating_currency: str = chart.FUND_CURRENCY,
    prices: Iterable[tuple[date, str, str, str]] = (),
) -> None:
    """Write the journal as a Beancount 3 file through ``write``, one directive at a time.

    ``entries`` must come in accounting-date order and fall in ``[opening_date, end)``.
    ``opening`` (keyed by ``(account_code, commodity)``) needs ``opening_date``. See the
    module docstring for ``month_ends`` and ``end``. Raises ``ValueError`` on an unknown
    account or commodity, an account used before it opens, or entries out of order; text
    already written stays written, so a caller streaming to a client should treat an
    exception as a failed export.
    """
    if opening and opening_date is None:
        raise ValueError("opening balances need an opening_date")
    if end is not None and opening_date is not None and end <= opening_date:
        raise ValueError("end must be after opening_date")

    chart: dict[str, tuple[str, date]] = {}
    for a in accounts:
        name = account_name(a.code, a.type)
        opened = a.opened_on if opening_date is None else min(a.opened_on, opening_date)
        if a.code in chart:
            raise ValueError(f"account {a.code!r} given twice")
        chart[a.code] = (name, opened)
    units: dict[str, int] = {}
    for c in commodities:
        if not is_valid_commodity(c.code):
            raise ValueError(f"commodity {c.code!r} is invalid: {COMMODITY_RULE}")
        if isinstance(c.exponent, bool) or not isinstance(c.exponent, int) or c.exponent < 0:
            raise ValueError(f"commodity {c.code!r} has an invalid exponent {c.exponent!r}")
        units[c.code] = c.exponent
    if not is_valid_commodity(operating_currency):
        raise ValueError(f"operating currency {operating_currency!r} is invalid")

    # Peek at the first entry only, to date the header when there is no opening date.
    stream = iter(entries)
    first = next(stream, None)
    if first is not None:
        stream = itertools.chain([first], stream)
    header_dates = [opened for _, opened in chart.values()]
    header_dates += [d for d in (opening_date, first and first.accounting_date) if d]
    header_date = min(header_dates) if header_dates else None

    def amount(minor: int, commodity: str) -> str:
        if isinstance(minor, bool) or not isinstance(minor, int):
            raise ValueError(f"amount {minor!r} is not an int")
        try:
            exponent = units[commodity]
        except KeyError:
            raise ValueError(f"unknown commodity {commodity!r}") from None
        return f"{format_amount(minor, exponent):>20} {commodity}"

    def account(code: str, on: date) -> str:
        try:
            name, opened = chart[code]
        except KeyError:
            raise ValueError(f"unknown account {code!r}") from None
        if on < opened:
            raise ValueError(f"account {code!r} is used on {on} before it opens on {opened}")
        return name

    def posting_line(name: str, text: str) -> str:
        return f"  {name:<40} {text}\n"

    # --- header -----------------------------------------------------------------------
    write(f'option "title" {quote(title)}\n')
    write(f'option "operating_currency" {quote(operating_currency)}\n')
    write('plugin "beancount.plugins.check_commodity"\n\n')
    if header_date is not None:
        for code in sorted(units):
            write(f"{header_date} commodity {code}\n  exponent: {units[code]}\n")
        write("\n")
        for code in sorted(chart):
            name, opened = chart[code]
            write(f"{opened} open {name}\n")
        if opening and opening_date is not None:
            write(f"{opening_date} open {OPENING_ACCOUNT}\n")
        write("\n")

    # --- prices: the exchange rates, so Beancount tools can show the books in one currency
    wrote_price = False
    for on, base, number, quote_currency in prices:
        if base not in units or quote_currency not in units:
            raise ValueError(f"a price of {base} in {quote_currency}: unknown commodity")
        write(f"{on} price {base} {number} {quote_currency}\n")
        wrote_price = True
    if wrote_price:
        write("\n")

    # --- opening balances ---------------------------------------------------------------
    if opening and opening_date is not None:
        by_commodity: dict[str, list[tuple[str, int]]] = {}
        for (code, commodity), minor in sorted(opening.items()):
            if minor:
                by_commodity.setdefault(commodity, []).append((code, minor))
        for commodity, lines in by_commodity.items():
            write(f"{opening_date} * {quote(f'Opening balances {commodity}')}\n")
            total = 0
            for code, minor in lines:
                write(posting_line(account(code, opening_date), amount(minor, commodity)))
                total += minor
            if total:
                write(posting_line(OPENING_ACCOUNT, amount(-total, commodity)))
            write("\n")

    # --- entries and month-end assertions -------------------------------------------------
    def assert_balances(boundary: date) -> None:
        if month_ends is None:
            return
        lines = []
        for code, commodity, minor in month_ends(boundary):
            if code not in chart:
                raise ValueError(f"unknown account {code!r} in month-end balances")
            name, opened = chart[code]
            if opened > boundary:
                if minor:
                    raise ValueError(f"account {code!r} has a balance before it opens")
                continue
            number, unit = amount(minor, commodity).split()
            lines.append(f"{boundary} balance {name:<35} {number:>20} ~ 0 {unit}\n")
        if lines:
            write("".join(lines) + "\n")

    start = opening_date
    next_boundary: date | None = None if start is None else _next_month(start)
    last_date: date | None = None
    for e in stream:
        d = e.accounting_date
        if last_date is not None and d < last_date:
            raise ValueError(f"entry {e.entry_id} on {d} comes after an entry on {last_date}")
        if opening_date is not None and d < opening_date:
            raise ValueError(f"entry {e.entry_id} on {d} is before the opening date")
        if end is not None and d >= end:
            raise ValueError(f"entry {e.entry_id} on {d} is not before the end {end}")
        if start is None:
            start = d
            next_boundary = _next_month(d)
        assert next_boundary is not None
        while next_boundary <= d:
            assert_balances(next_boundary)
            next_boundary = _next_month(next_boundary)
        last_date = d

        parts = [f"{d} * {quote(e.memo)}\n", f"  entry-id: {quote(str(e.entry_id))}\n"]
        parts.append(f"  service-date: {e.service_date.isoformat()}\n")
        if e.source is not None:
            parts.append(f"  source: {quote(e.source)}\n")
        if e.seal is not None:
            parts.append(f"  seal: {quote(e.seal)}\n")
        for p in e.postings:
            parts.append(posting_line(account(p.account, d), amount(p.amount, p.commodity)))
            if p.lot is not None:
                parts.append(f"    lot: {quote(p.lot)}\n")
        parts.append("\n")
        write("".join(parts))

    if start is None or next_boundary is None:
        return
    final = end if end is not None else _next_month(last_date or start)
    while next_boundary <= final:
        assert_balances(next_boundary)
        next_boundary = _next_month(next_boundary)
    if end is not None and end.day != 1 and end > start:
        assert_balances(end)
