"""The finance desk's two-currency page (``/app/finance/currency``, DESIGN.md "Two
currencies"): the rate in force and the history of rates (added, never edited), exchanges at
the bank, and landed costs added to a receipt. Figures are read through the same services
as the API (``ledger.fx_rates``); every write goes through the JSON API (``POST /fx-rates``,
``/fx/exchanges``, ``/stock/receipts/{id}/landed-costs``; ``web/static/apiform.js``), so the
same commands, validation, policy and problem texts hold."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from sqlalchemy import select

from api.access import access
from api.session import db_session
from ledger import chart, clock
from ledger.fx import BASE, QUOTE
from ledger.fx_rates import list_rates, rate_on
from ledger.fx_tables import FxExchange, LandedCost
from ledger.money import format_amount
from ledger.settings import functional_currency
from stock.tables import StockMovement, Supplier
from web.desk import paginate
from web.views import _page

bp = Blueprint("currency", __name__, url_prefix="/app")

#: Who uses the page (admin always may): finance writes rates, exchanges and landed costs.
WRITE = ("finance",)
#: How many rates the history reads, and how many receipts the landed-cost picker offers.
RATES_READ = 5000
RECEIPTS = 50


def _money(amount: int, currency: str) -> str:
    return format_amount(amount, chart.exponent(currency))


def _receipts() -> list[dict[str, Any]]:
    """The latest receipts, newest first: what a landed cost may be added to."""
    s = db_session()
    rows = s.scalars(
        select(StockMovement)
        .where(StockMovement.kind == "receipt", StockMovement.entry_id.is_not(None))
        .order_by(StockMovement.id.desc())
        .limit(RECEIPTS)
    )
    return [
        {
            "id": str(mv.id),
            "date": mv.event_on.isoformat(),
            "supplier": mv.supplier or "—",
            "location": mv.location,
        }
        for mv in rows
    ]


def _landed(receipt_id: str) -> list[dict[str, Any]]:
    """The landed costs already added to a receipt, oldest first."""
    if not receipt_id.isdigit():
        return []
    fund = functional_currency(db_session())
    return [
        {
            "date": lc.on_date.isoformat(),
            "counterparty": lc.counterparty,
            "description": lc.description,
            "amount": _money(lc.amount, lc.currency),
            "currency": lc.currency,
            "rate": lc.rate,
            "functional": _money(lc.functional_amount, fund),
        }
        for lc in db_session().scalars(
            select(LandedCost)
            .where(LandedCost.receipt_id == int(receipt_id))
            .order_by(LandedCost.id)
        )
    ]


@bp.route("/finance/currency")
@access(*WRITE, page=True)
def currency() -> str:
    s = db_session()
    today = clock.today()
    fund = functional_currency(s)
    in_force = rate_on(s, today)
    rates = [
        {"date": r.on_date.isoformat(), "rate": r.rate, "by": r.created_by}
        for r in reversed(list_rates(s, limit=RATES_READ))
    ]
    exchanges = [
        {
            "date": x.on_date.isoformat(),
            "sold": _money(x.sell_amount, x.sell_currency),
            "sell_currency": x.sell_currency,
            "bought": _money(x.buy_amount, x.buy_currency),
            "buy_currency": x.buy_currency,
            "rate": x.rate,
            "reference": x.reference or "",
        }
        for x in s.scalars(select(FxExchange).order_by(FxExchange.id.desc()))
    ]
    receipts = _receipts()
    asked = request.args.get("receipt", "")
    chosen = next((r for r in receipts if r["id"] == asked), receipts[0] if receipts else None)
    return _page(
        "finance/currency.html",
        today=today.isoformat(),
        fund=fund,
        base=BASE,
        quote=QUOTE,
        currencies=sorted(chart.CURRENCY_EXPONENTS),
        in_force=in_force,
        rates=paginate(rates, "rates_page"),
        exchanges=paginate(exchanges, "exchanges_page"),
        receipts=receipts,
        chosen=chosen,
        landed=_landed(chosen["id"]) if chosen else [],
        suppliers=list(s.scalars(select(Supplier.code).order_by(Supplier.code))),
    )
