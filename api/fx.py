"""HTTP layer of two currencies: rates (``/fx-rates``), exchanges at the bank
(``/fx/exchanges``) and landed costs of receipts (``/stock/receipts/{id}/landed-costs``).

Finance writes; finance and auditors read. Handlers parse, authorise, call and serialise.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import access, principal
from api.cursors import decode_cursor, encode_cursor
from api.schemas.fx import (
    FxExchangeIn,
    FxExchangeOut,
    FxRateArgs,
    FxRateIn,
    FxRateInForceOut,
    FxRateOut,
    FxRatePage,
    LandedCostIn,
    LandedCostOut,
)
from api.session import db_session
from api.writes import write_view
from invoices.commands import MoneyIn, RecordExchange
from invoices.fx import record_exchange
from invoices.payments import utc_iso
from ledger import chart
from ledger.errors import InvalidRequest, NotFound
from ledger.fx_commands import RecordRate
from ledger.fx_rates import list_rates, rate_on, rate_text, record_rate
from ledger.fx_tables import FxRate
from ledger.money import format_amount
from stock.commands import AddLandedCost
from stock.landed_costs import add_landed_cost

blp = Blueprint(
    "fx",
    __name__,
    url_prefix="/api/v1",
    description="Two currencies: exchange rates, exchanges, landed costs (finance writes)",
)

FINANCE = ("finance",)
BOOKS_READ = ("finance", "auditor")


def rate_command(data: dict[str, Any]) -> RecordRate:
    """The loaded body of ``POST /fx-rates`` as the service's command."""
    return RecordRate(
        on=data["date"], rate=rate_text(data["rate"]), base=data["base"], quote=data["quote"]
    )


def exchange_command(data: dict[str, Any]) -> RecordExchange:
    """The loaded body of ``POST /fx/exchanges`` as the service's command."""
    return RecordExchange(
        on=data["date"],
        sell=MoneyIn(data["sell"]["currency"], data["sell"]["amount"]),
        buy=MoneyIn(data["buy"]["currency"], data["buy"]["amount"]),
        reference=data.get("reference"),
    )


def landed_cost_command(receipt_id: str, data: dict[str, Any]) -> AddLandedCost:
    """The loaded body of ``POST /stock/receipts/{id}/landed-costs`` as the command."""
    return AddLandedCost(
        receipt_id=receipt_id,
        on=data["date"],
        counterparty=data["counterparty"],
        amount=data["amount"],
        currency=data["currency"],
        description=data["description"],
        rate=data.get("rate"),
    )


def _rate_out(row: FxRate) -> dict[str, Any]:
    return {
        "date": row.on_date,
        "base": row.base,
        "quote": row.quote,
        "rate": row.rate,
        "created_at": utc_iso(row.created_at),
        "created_by": row.created_by,
    }


@blp.route("/fx-rates")
class Rates(MethodView):
    @access(*FINANCE)
    @blp.arguments(FxRateIn)
    @blp.response(201, FxRateOut)
    @write_view(FxRateOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Record the rate of a date (KHR per USD, <= 6 decimals); the same date again: 409."""
        return _rate_out(record_rate(db_session(), rate_command(data), by=principal().name))

    @access(*BOOKS_READ)
    @blp.arguments(FxRateArgs, location="query")
    @blp.response(200, FxRatePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Rates in date order (paginated), optionally ``from``/``to``."""
        after = decode_cursor(args["cursor"])
        if after is not None:
            try:
                after = date.fromisoformat(str(after))
            except ValueError:
                raise InvalidRequest(
                    "the cursor belongs to another list", errors={"cursor": ["invalid cursor"]}
                ) from None
        rows = list_rates(
            db_session(), args["from_"], args["to"], after=after, limit=args["limit"] + 1
        )
        more = len(rows) > args["limit"]
        rows = rows[: args["limit"]]
        return {
            "items": [_rate_out(r) for r in rows],
            "next_cursor": encode_cursor(rows[-1].on_date.isoformat()) if more else None,
        }


@blp.route("/fx-rates/on/<string:on>")
class RateOn(MethodView):
    @access(*BOOKS_READ)
    @blp.response(200, FxRateInForceOut)
    def get(self, on: str) -> dict[str, Any]:
        """The rate in force on a date: the latest recorded on or before it (404 if none)."""
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise InvalidRequest(
                f"{on!r} is not a date YYYY-MM-DD", errors={"date": ["a date YYYY-MM-DD"]}
            ) from None
        row = rate_on(db_session(), day)
        if row is None:
            raise NotFound(f"no rate is recorded on or before {day.isoformat()}")
        return {**_rate_out(row), "on": day}


@blp.route("/fx/exchanges")
class Exchanges(MethodView):
    @access(*FINANCE)
    @blp.arguments(FxExchangeIn)
    @blp.response(201, FxExchangeOut)
    @write_view(FxExchangeOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Sell one currency for the other at the bank: bank legs against 9100, rate implied."""
        r = record_exchange(db_session(), exchange_command(data), by=principal().name)
        return {
            "id": str(r.id),
            "entry_id": str(r.entry_id),
            "date": r.on,
            "accounting_date": r.accounting_date,
            "sell": {
                "currency": r.sell_currency,
                "amount": format_amount(r.sell_amount, chart.exponent(r.sell_currency)),
            },
            "buy": {
                "currency": r.buy_currency,
                "amount": format_amount(r.buy_amount, chart.exponent(r.buy_currency)),
            },
            "rate": r.rate.text6,
            "reference": r.reference,
        }


@blp.route("/stock/receipts/<string:receipt_id>/landed-costs")
class LandedCosts(MethodView):
    @access(*FINANCE)
    @blp.arguments(LandedCostIn)
    @blp.response(201, LandedCostOut)
    @write_view(LandedCostOut)
    def post(self, data: dict[str, Any], receipt_id: str) -> dict[str, Any]:
        """Add freight, port, customs or bank fees to a receipt's lots (by value; the last
        line takes the remainder); 409 naming the lot if any unit has moved."""
        r = add_landed_cost(
            db_session(), landed_cost_command(receipt_id, data), by=principal().name
        )
        fexp = chart.exponent(r.functional_currency)
        return {
            "id": str(r.id),
            "receipt_id": str(r.receipt_id),
            "entry_id": str(r.entry_id),
            "date": r.on,
            "accounting_date": r.accounting_date,
            "counterparty": r.counterparty,
            "description": r.description,
            "amount": format_amount(r.amount, chart.exponent(r.currency)),
            "currency": r.currency,
            "rate": r.rate.rate.text if r.rate else None,
            "rate_date": r.rate.rate_date if r.rate else None,
            "functional_currency": r.functional_currency,
            "functional_amount": format_amount(r.functional_amount, fexp),
            "shares": [
                {
                    "medicine": s.medicine,
                    "lot": s.lot,
                    "quantity": s.quantity,
                    "share": format_amount(s.share, fexp),
                    "value_after": format_amount(s.value_after, fexp),
                }
                for s in r.shares
            ],
        }
