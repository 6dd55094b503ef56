"""Marshmallow schemas of the invoices HTTP edge: money as decimal strings, dates ISO."""

from __future__ import annotations

from marshmallow import fields, validate

from api.schemas.common import Date, DecimalText, PagingArgs, Period, Strict
from invoices.payments import APPLIES_TO_KINDS, DIRECTIONS, KINDS
from reports.aging import BUCKETS


class CounterpartyIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    code = fields.String(required=True, validate=validate.Length(min=1, max=200))


class AppliesToIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(APPLIES_TO_KINDS))
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class PaymentIn(Strict):
    date = Date(required=True)
    direction = fields.String(required=True, validate=validate.OneOf(DIRECTIONS))
    counterparty = fields.Nested(CounterpartyIn, required=True)
    amount = DecimalText(required=True)
    currency = fields.String(required=True, validate=validate.Length(min=1, max=24))
    reference = fields.String(required=True, validate=validate.Length(min=1, max=200))
    applies_to = fields.Nested(AppliesToIn, load_default=None, allow_none=True)
    #: KHR per USD (<= 6 decimals) when the currency paid differs from the settled balance's
    rate = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    #: the currency of the balance settled (default: see invoices.payments.settled_currency)
    settles = fields.String(load_default=None, validate=validate.Length(min=1, max=24))


class CounterpartyOut(Strict):
    kind = fields.String()
    code = fields.String()


class AppliesToOut(Strict):
    kind = fields.String()
    id = fields.String()
    verified = fields.Boolean()
    amount_due = fields.String()
    paid_total = fields.String()
    outstanding = fields.String()
    status = fields.String()


class CounterpartyBalanceOut(Strict):
    account = fields.String()
    currency = fields.String()
    balance = fields.String()
    due = fields.String()
    position = fields.String()


class SettledOut(Strict):
    currency = fields.String()
    amount = fields.String()
    rate = fields.String()
    rate_stated = fields.Boolean()
    rate_date = Date(allow_none=True)


class LegOut(Strict):
    account = fields.String()
    currency = fields.String()
    amount = fields.String()


class PaymentLineRefOut(Strict):
    id = fields.String()
    statement_id = fields.String()
    match_kind = fields.String()


class PaymentOut(Strict):
    id = fields.String()
    date = Date()
    accounting_date = Date(allow_none=True)
    direction = fields.String()
    counterparty = fields.Nested(CounterpartyOut)
    amount = fields.String()
    currency = fields.String()
    reference = fields.String()
    applies_to = fields.Nested(AppliesToOut, allow_none=True)
    entry_id = fields.String(allow_none=True)
    created_at = fields.String()
    created_by = fields.String()
    counterparty_balance = fields.Nested(CounterpartyBalanceOut)
    settled = fields.Nested(SettledOut, allow_none=True)
    legs = fields.List(fields.Nested(LegOut))
    bank_line = fields.Nested(PaymentLineRefOut, allow_none=True)
    status = fields.String()


class PaymentPage(Strict):
    items = fields.List(fields.Nested(PaymentOut))
    next_cursor = fields.String(allow_none=True)


class PaymentArgs(PagingArgs):
    direction = fields.String(load_default=None, validate=validate.OneOf(DIRECTIONS))
    counterparty_kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    counterparty_code = fields.String(load_default=None, validate=validate.Length(max=200))
    currency = fields.String(load_default=None, validate=validate.Length(min=1, max=24))
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)
    applies_to_kind = fields.String(load_default=None, validate=validate.OneOf(APPLIES_TO_KINDS))
    applies_to_id = fields.String(load_default=None, validate=validate.Length(max=64))
    matched = fields.Boolean(load_default=None)


class BankLineOut(Strict):
    id = fields.String()
    statement_id = fields.String()
    line_number = fields.Integer()
    date = Date()
    amount = fields.String()
    currency = fields.String()
    reference = fields.String()
    description = fields.String()
    status = fields.String()
    payment_id = fields.String(allow_none=True)
    match_kind = fields.String(allow_none=True)


class BankStatementOut(Strict):
    id = fields.String()
    filename = fields.String(allow_none=True)
    content_sha256 = fields.String()
    imported_at = fields.String()
    imported_by = fields.String()
    line_count = fields.Integer()
    matched_count = fields.Integer()
    open_count = fields.Integer()
    lines = fields.List(fields.Nested(BankLineOut))


class MatchIn(Strict):
    payment_id = fields.String(required=True, validate=validate.Length(min=1, max=20))


class UnmatchIn(Strict):
    pass


class PaymentBriefOut(Strict):
    id = fields.String()
    date = Date()
    direction = fields.String()
    counterparty = fields.Nested(CounterpartyOut)
    amount = fields.String()
    currency = fields.String()
    reference = fields.String()


class MatchedPairOut(Strict):
    bank_line = fields.Nested(BankLineOut)
    payment = fields.Nested(PaymentBriefOut)
    match_kind = fields.String()


class ReconCurrencyOut(Strict):
    currency = fields.String()
    bank_account = fields.String()
    bank_balance = fields.String()
    book_balance = fields.String()
    difference = fields.String()
    unmatched_bank_lines_total = fields.String()
    unmatched_payments_total = fields.String()
    unexplained = fields.String()


class ReconciliationArgs(Strict):
    period = Period(required=True)


class ReconciliationOut(Strict):
    period = fields.String()
    as_of = Date()
    matched = fields.List(fields.Nested(MatchedPairOut))
    unmatched_bank_lines = fields.List(fields.Nested(BankLineOut))
    unmatched_payments = fields.List(fields.Nested(PaymentBriefOut))
    currencies = fields.List(fields.Nested(ReconCurrencyOut))


class ReportAsOfArgs(Strict):
    as_of = Date(load_default=None)
    #: convert every balance into this currency at the as-of rate (?in=KHR|USD)
    in_ = fields.String(data_key="in", load_default=None, validate=validate.Length(min=1, max=24))


class ReportRangeArgs(Strict):
    from_ = Date(data_key="from", required=True)
    to = Date(required=True)
    in_ = fields.String(data_key="in", load_default=None, validate=validate.Length(min=1, max=24))


class AgedRowOut(Strict):
    account = fields.String()
    counterparty_kind = fields.String()
    counterparty = fields.String()
    name = fields.String()
    currency = fields.String()
    days_0_30 = fields.String(attribute=BUCKETS[0], data_key=BUCKETS[0])
    days_31_60 = fields.String(attribute=BUCKETS[1], data_key=BUCKETS[1])
    days_61_90 = fields.String(attribute=BUCKETS[2], data_key=BUCKETS[2])
    days_over_90 = fields.String(attribute=BUCKETS[3], data_key=BUCKETS[3])
    total = fields.String()


class AgedOut(Strict):
    as_of = Date()
    #: with ?in=: the currency converted into, the rate and the date it was recorded for
    in_ = fields.String(data_key="in", allow_none=True)
    rate = fields.String(allow_none=True)
    rate_date = Date(allow_none=True)
    buckets = fields.List(fields.String())
    items = fields.List(fields.Nested(AgedRowOut))


class AmountLineOut(Strict):
    account = fields.String()
    name = fields.String()
    amount = fields.String()


class BalanceSheetCurrencyOut(Strict):
    currency = fields.String()
    assets = fields.List(fields.Nested(AmountLineOut))
    liabilities = fields.List(fields.Nested(AmountLineOut))
    equity = fields.List(fields.Nested(AmountLineOut))
    current_surplus = fields.String()
    total_assets = fields.String()
    total_liabilities = fields.String()
    total_equity = fields.String()
    exchange_differences = fields.String()
    balanced = fields.Boolean()


class BalanceSheetOut(Strict):
    as_of = Date(allow_none=True)
    in_ = fields.String(data_key="in", allow_none=True)
    rate = fields.String(allow_none=True)
    rate_date = Date(allow_none=True)
    currencies = fields.List(fields.Nested(BalanceSheetCurrencyOut))


class IncomeCurrencyOut(Strict):
    currency = fields.String()
    income = fields.List(fields.Nested(AmountLineOut))
    expenses = fields.List(fields.Nested(AmountLineOut))
    total_income = fields.String()
    total_expenses = fields.String()
    surplus = fields.String()


class IncomeStatementOut(Strict):
    from_ = Date(data_key="from")
    to = Date()
    in_ = fields.String(data_key="in", allow_none=True)
    rate = fields.String(allow_none=True)
    rate_date = Date(allow_none=True)
    currencies = fields.List(fields.Nested(IncomeCurrencyOut))


class FundRatiosOut(Strict):
    cost_recovery = fields.String(allow_none=True)
    capital_preservation = fields.String(allow_none=True)
    months_of_stock = fields.String(allow_none=True)
    expiry_loss_share = fields.String(allow_none=True)
    count_loss_share = fields.String(allow_none=True)


class FundFiguresOut(Strict):
    revenue = fields.String()
    cost_of_medicines = fields.String()
    fees = fields.String()
    expiry_losses = fields.String()
    fund_subsidies = fields.String()
    count_differences = fields.String()
    total_cost = fields.String()
    equity_now = fields.String()
    capital_contributed = fields.String()
    inventory_value = fields.String()
    average_monthly_cost_of_medicines = fields.String()
    exchange_differences = fields.String()


class PriceCostOut(Strict):
    price_list = fields.String()
    medicine = fields.String()
    unit_price = fields.String()
    replacement_cost = fields.String(allow_none=True)
    replacement_cost_on = Date(allow_none=True)
    price_to_cost = fields.String(allow_none=True)
    below_cost = fields.Boolean(allow_none=True)


class FundHealthOut(Strict):
    from_ = Date(data_key="from")
    to = Date()
    currency = fields.String()
    in_ = fields.String(data_key="in", allow_none=True)
    rate = fields.String(allow_none=True)
    rate_date = Date(allow_none=True)
    months = fields.Integer()
    ratios = fields.Nested(FundRatiosOut)
    figures = fields.Nested(FundFiguresOut)
    price_vs_replacement_cost = fields.List(fields.Nested(PriceCostOut))
    sold_below_cost = fields.List(fields.String())
    #: DESIGN.md "Funders": donated cost, cost recovery without it, the replacement gap
    donated = fields.Dict()
