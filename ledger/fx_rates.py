"""Exchange rates in the books: record one per date (history, never edited), the rate in
force on a date (the latest on or before it), an event's stated rate, and the record of the
conversion each cross-currency event made. The caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import chart, clock
from ledger.errors import Conflict, InvalidRequest
from ledger.fx import BASE, QUOTE, Conversion, Rate, RateError, parse_rate
from ledger.fx_commands import RecordRate
from ledger.fx_tables import FxConversion, FxRate
from ledger.journal import check_event_date


class NoRate(InvalidRequest):
    """No rate is recorded on or before the event's date and the event stated none."""

    slug = "no-rate"
    title = "No exchange rate for this date"


class RateExists(Conflict):
    """A rate is already recorded for the date: rates are history, never edited."""

    slug = "rate-exists"
    title = "A rate is already recorded for this date"


class CurrencyNotKept(InvalidRequest):
    """A currency the fund does not keep (only KHR and USD)."""

    slug = "currency-not-kept"
    title = "The fund does not keep this currency"


@dataclass(frozen=True)
class RateInForce:
    """The rate an event converts at: stated by the event, or the one of ``rate_date``."""

    rate: Rate
    rate_date: date | None

    @property
    def stated(self) -> bool:
        return self.rate_date is None


def kept_currency(code: object, field: str = "currency") -> str:
    """``code`` if the fund keeps it (KHR, USD), else a 422 naming the field."""
    if isinstance(code, str) and code.strip().upper() in chart.CURRENCY_EXPONENTS:
        return code.strip().upper()
    kept = ", ".join(sorted(chart.CURRENCY_EXPONENTS))
    raise CurrencyNotKept(
        f"the fund does not keep {code!r}: it keeps {kept}",
        errors={field: [f"one of {kept}"]},
    )


def parse_rate_field(text: object, field: str = "rate") -> Rate:
    try:
        return parse_rate(text)
    except RateError as exc:
        raise InvalidRequest(f"{field}: {exc}", errors={field: [str(exc)]}) from exc


def rate_text(value: object, field: str = "rate") -> str:
    """A rate as the client sent it, as text for a command: a string as it is, a JSON
    integer as its digits; anything else (a float, a boolean, null) is the 422 of a bad
    rate."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    parse_rate_field(value, field)
    raise AssertionError("unreachable: parse_rate refuses every other type")


def record_rate(session: Session, cmd: RecordRate, *, by: str) -> FxRate:
    """Record the rate of a date; the same date again is a 409 (history is not edited)."""
    on = cmd.on
    check_event_date(on)
    base = (cmd.base or BASE).strip().upper()
    quote = (cmd.quote or QUOTE).strip().upper()
    if (base, quote) != (BASE, QUOTE):
        raise InvalidRequest(
            f"a rate is {QUOTE} per 1 {BASE}, not {quote} per {base}",
            errors={"base": [f"must be {BASE}"], "quote": [f"must be {QUOTE}"]},
        )
    rate = parse_rate_field(cmd.rate)
    if session.scalar(select(FxRate.id).where(FxRate.on_date == on)) is not None:
        raise _exists(on)
    row = FxRate(
        on_date=on,
        base=base,
        quote=quote,
        rate=rate.text,
        rate_micro=rate.micro,
        created_at=clock.now(),
        created_by=by,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise _exists(on) from None
    return row


def _exists(on: date) -> RateExists:
    return RateExists(
        f"a rate is already recorded for {on.isoformat()}; rates are history and are never "
        "edited (an event may state its own rate instead)",
        errors={"date": ["a rate is already recorded for this date"]},
    )


def rate_on(session: Session, on: date) -> FxRate | None:
    """The rate in force on ``on``: the latest recorded on or before it."""
    return session.scalars(
        select(FxRate).where(FxRate.on_date <= on).order_by(FxRate.on_date.desc()).limit(1)
    ).first()


def rate_for(session: Session, on: date, stated: object | None, field: str = "rate") -> RateInForce:
    """The rate an event of ``on`` converts at: its ``stated`` rate, which wins, else the
    one in force on ``on``; none at all is a 422 naming ``field``."""
    if stated is not None:
        return RateInForce(parse_rate_field(stated, field), None)
    row = rate_on(session, on)
    if row is None:
        raise NoRate(
            f"no {QUOTE}/{BASE} rate is recorded on or before {on.isoformat()}: record one "
            f"(POST /fx-rates) or state the event's rate",
            errors={field: [f"no rate on or before {on.isoformat()}; state one"]},
        )
    return RateInForce(Rate(int(row.rate_micro)), row.on_date)


def list_rates(
    session: Session,
    start: date | None = None,
    end: date | None = None,
    *,
    after: date | None = None,
    limit: int = 100,
) -> list[FxRate]:
    q = select(FxRate).order_by(FxRate.on_date).limit(limit)
    if start is not None:
        q = q.where(FxRate.on_date >= start)
    if end is not None:
        q = q.where(FxRate.on_date <= end)
    if after is not None:
        q = q.where(FxRate.on_date > after)
    return list(session.scalars(q))


def all_rates(session: Session) -> list[tuple[date, Rate]]:
    """Every recorded rate in date order (the Beancount export writes them as prices)."""
    return [
        (d, Rate(int(m)))
        for d, m in session.execute(select(FxRate.on_date, FxRate.rate_micro).order_by("on_date"))
    ]


def record_conversion(
    session: Session,
    *,
    entry_id: int,
    source: str,
    on: date,
    rate: RateInForce,
    conversion: Conversion,
) -> FxConversion:
    """Keep, beside the entry, the one conversion a cross-currency event made."""
    row = FxConversion(
        entry_id=entry_id,
        source=source,
        on_date=on,
        rate=rate.rate.text,
        rate_micro=rate.rate.micro,
        stated=rate.stated,
        rate_date=rate.rate_date,
        from_currency=conversion.from_currency,
        from_amount=conversion.from_amount,
        to_currency=conversion.to_currency,
        to_amount=conversion.to_amount,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row


def conversions_of(session: Session, entry_id: int) -> list[FxConversion]:
    return list(
        session.scalars(
            select(FxConversion).where(FxConversion.entry_id == entry_id).order_by(FxConversion.id)
        )
    )
