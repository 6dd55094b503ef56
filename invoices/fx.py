"""Money that crosses currencies at the bank: exchanges, and payments made in the other
currency than the balance they settle (DESIGN.md "Two currencies").

Both route through ``9100`` Currency exchange at one rate, converted once:

* **Exchange** (sell 1,000.00 USD, buy 4,080,000 KHR): ``1010 +4080000 KHR``,
  ``9100 −4080000 KHR``; ``9100 +100000 USD``, ``1020 −100000 USD``. The rate is implied by
  the two amounts (KHR per USD, 6 decimals, half-up), nothing is looked up.
* **Payment in the other currency** (a payer settles a KHR claim in USD): the bank leg is in
  the currency paid, the counterparty's leg in the currency of what it settles, converted at
  the payment's rate (stated, or the one in force on its date); both meet in 9100.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from invoices.commands import MoneyIn, RecordExchange
from ledger import chart, clock
from ledger.errors import InvalidRequest
from ledger.fx import QUOTE, Conversion, Rate, RateError, conversion, implied_rate, is_pair
from ledger.fx_rates import RateInForce, kept_currency, record_conversion
from ledger.fx_tables import FxExchange
from ledger.journal import check_event_date
from ledger.model import EntryDraft, PostingDraft
from ledger.money import AmountError, format_amount, parse_amount
from ledger.posting import PostedEntry, post_entry


class FxPaymentRefused(InvalidRequest):
    """A payment in another currency that cannot be converted as asked."""

    slug = "payment-refused"
    title = "The payment cannot be recorded"


# --------------------------------------------------------------------------- pure rules


def exchange_postings(
    sell_currency: str, sell_amount: int, buy_currency: str, buy_amount: int
) -> tuple[PostingDraft, ...]:
    """The four legs of an exchange at the bank: money bought in, money sold out, both
    against 9100."""
    return (
        PostingDraft(chart.bank(buy_currency), buy_currency, buy_amount),
        PostingDraft(chart.CURRENCY_EXCHANGE, buy_currency, -buy_amount),
        PostingDraft(chart.CURRENCY_EXCHANGE, sell_currency, sell_amount),
        PostingDraft(chart.bank(sell_currency), sell_currency, -sell_amount),
    )


@dataclass(frozen=True)
class FxPaymentPlan:
    """A payment in ``paid`` currency settling a balance kept in the other currency."""

    counterparty_account: str
    conversion: Conversion
    postings: tuple[PostingDraft, ...]


def plan_fx_payment(
    counterparty_account: str,
    direction: str,
    paid_amount: int,
    paid_currency: str,
    settled_currency: str,
    bank_account: str,
    rate: Rate,
) -> FxPaymentPlan:
    """Bank leg in the currency paid, counterparty leg in the currency settled (converted
    once at ``rate``), both meeting in 9100. Money in debits the bank; money out credits it."""
    if paid_amount <= 0:
        raise FxPaymentRefused(
            "a payment amount must be more than zero", errors={"amount": ["must be positive"]}
        )
    if not is_pair(paid_currency, settled_currency):
        raise FxPaymentRefused(
            f"a {paid_currency} payment cannot settle a {settled_currency} balance",
            errors={"currency": [f"no rate converts {paid_currency} to {settled_currency}"]},
        )
    conv = conversion(paid_amount, paid_currency, settled_currency, rate)
    if conv.to_amount == 0:
        raise FxPaymentRefused(
            f"{format_amount(paid_amount, chart.exponent(paid_currency))} {paid_currency} is "
            f"less than the smallest unit of {settled_currency} at {rate.text}",
            errors={"amount": ["too small to convert"]},
        )
    sign = 1 if direction == "in" else -1
    settled = conv.to_amount
    postings = (
        PostingDraft(bank_account, paid_currency, sign * paid_amount),
        PostingDraft(chart.CURRENCY_EXCHANGE, paid_currency, -sign * paid_amount),
        PostingDraft(chart.CURRENCY_EXCHANGE, settled_currency, sign * settled),
        PostingDraft(counterparty_account, settled_currency, -sign * settled),
    )
    return FxPaymentPlan(counterparty_account, conv, postings)


# --------------------------------------------------------------------------- exchanges


@dataclass(frozen=True)
class ExchangeResult:
    id: int
    entry_id: int
    on: date
    accounting_date: date
    sell_currency: str
    sell_amount: int
    buy_currency: str
    buy_amount: int
    rate: Rate
    reference: str | None


def _leg(money: MoneyIn, field: str) -> tuple[str, int]:
    currency = kept_currency(money.currency, f"{field}.currency")
    try:
        amount = parse_amount(money.amount, chart.exponent(currency), allow_negative=False)
    except AmountError as exc:
        raise InvalidRequest(
            f"{field}.amount: {exc}", errors={f"{field}.amount": [str(exc)]}
        ) from exc
    if amount == 0:
        raise InvalidRequest(
            f"{field}.amount must be more than zero", errors={f"{field}.amount": ["must be > 0"]}
        )
    return currency, amount


def record_exchange(session: Session, cmd: RecordExchange, *, by: str) -> ExchangeResult:
    """Sell one currency for the other at the bank. The caller commits."""
    on = cmd.on
    check_event_date(on)
    sell_currency, sell_amount = _leg(cmd.sell, "sell")
    buy_currency, buy_amount = _leg(cmd.buy, "buy")
    if sell_currency == buy_currency:
        raise InvalidRequest(
            f"an exchange sells one currency for another, not {sell_currency} for itself",
            errors={"buy.currency": [f"must differ from the currency sold ({sell_currency})"]},
        )
    quote_amount, base_amount = (
        (buy_amount, sell_amount) if buy_currency == QUOTE else (sell_amount, buy_amount)
    )
    try:
        rate = implied_rate(quote_amount, base_amount)
    except RateError as exc:
        raise InvalidRequest(str(exc), errors={"buy.amount": [str(exc)]}) from exc
    reference = (cmd.reference or "").strip() or None
    doc = FxExchange(
        on_date=on,
        sell_currency=sell_currency,
        sell_amount=sell_amount,
        buy_currency=buy_currency,
        buy_amount=buy_amount,
        rate=rate.text6,
        rate_micro=rate.micro,
        reference=reference,
        created_at=clock.now(),
        created_by=by,
    )
    session.add(doc)
    session.flush()
    source = f"fx-exchange:{doc.id}"
    fmt_sell = format_amount(sell_amount, chart.exponent(sell_currency))
    fmt_buy = format_amount(buy_amount, chart.exponent(buy_currency))
    posted: PostedEntry = post_entry(
        session,
        EntryDraft(
            service_date=on,
            memo=f"Exchange: sold {fmt_sell} {sell_currency}, bought {fmt_buy} {buy_currency} "
            f"at {rate.text6}" + (f" ({reference})" if reference else ""),
            postings=exchange_postings(sell_currency, sell_amount, buy_currency, buy_amount),
            source=source,
        ),
        created_by=by,
    )
    record_conversion(
        session,
        entry_id=posted.id,
        source=source,
        on=on,
        rate=RateInForce(rate, None),
        conversion=Conversion(sell_currency, sell_amount, buy_currency, buy_amount, rate),
    )
    return ExchangeResult(
        doc.id,
        posted.id,
        on,
        posted.accounting_date,
        sell_currency,
        sell_amount,
        buy_currency,
        buy_amount,
        rate,
        reference,
    )
