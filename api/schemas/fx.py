"""Marshmallow schemas of two currencies: rates, exchanges, landed costs."""

from __future__ import annotations

from marshmallow import fields, validate

from api.schemas.common import Date, DecimalText, PagingArgs, Strict


class FxRateIn(Strict):
    date = Date(required=True)
    base = fields.String(load_default="USD", validate=validate.Length(min=1, max=24))
    quote = fields.String(load_default="KHR", validate=validate.Length(min=1, max=24))
    #: KHR per 1 USD, a decimal string with at most 6 decimals, > 0
    rate = fields.Raw(required=True)


class FxRateOut(Strict):
    date = Date()
    base = fields.String()
    quote = fields.String()
    rate = fields.String()
    created_at = fields.String()
    created_by = fields.String()


class FxRateArgs(PagingArgs):
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)


class FxRatePage(Strict):
    items = fields.List(fields.Nested(FxRateOut))
    next_cursor = fields.String(allow_none=True)


class FxRateInForceOut(FxRateOut):
    #: the date asked about (the rate is the latest recorded on or before it)
    on = Date()


class MoneyIn(Strict):
    currency = fields.String(required=True, validate=validate.Length(min=1, max=24))
    amount = DecimalText(required=True)


class MoneyOut(Strict):
    currency = fields.String()
    amount = fields.String()


class FxExchangeIn(Strict):
    date = Date(required=True)
    sell = fields.Nested(MoneyIn, required=True)
    buy = fields.Nested(MoneyIn, required=True)
    reference = fields.String(load_default=None, validate=validate.Length(min=1, max=200))


class FxExchangeOut(Strict):
    id = fields.String()
    entry_id = fields.String()
    date = Date()
    accounting_date = Date()
    sell = fields.Nested(MoneyOut)
    buy = fields.Nested(MoneyOut)
    #: KHR per USD implied by the two amounts, 6 decimals
    rate = fields.String()
    reference = fields.String(allow_none=True)


class LandedCostIn(Strict):
    date = Date(required=True)
    #: a supplier code (a forwarder or customs broker is kept as a supplier)
    counterparty = fields.String(required=True, validate=validate.Length(min=1, max=24))
    amount = DecimalText(required=True)
    currency = fields.String(required=True, validate=validate.Length(min=1, max=24))
    rate = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    description = fields.String(required=True, validate=validate.Length(min=1, max=500))


class LandedShareOut(Strict):
    medicine = fields.String()
    lot = fields.String()
    quantity = fields.Integer()
    share = fields.String()
    value_after = fields.String()


class LandedCostOut(Strict):
    id = fields.String()
    receipt_id = fields.String()
    entry_id = fields.String()
    date = Date()
    accounting_date = Date()
    counterparty = fields.String()
    description = fields.String()
    amount = fields.String()
    currency = fields.String()
    rate = fields.String(allow_none=True)
    rate_date = Date(allow_none=True)
    functional_currency = fields.String()
    functional_amount = fields.String()
    shares = fields.List(fields.Nested(LandedShareOut))
