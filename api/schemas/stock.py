"""Marshmallow schemas of the stock HTTP edge: quantities as integers in base units, money as
decimal strings in the fund currency, dates ISO."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from api.schemas.care import DaysSupply
from api.schemas.common import Date, DecimalText, PagingArgs, Quantity, Strict
from ledger import chart
from ledger.clock import iso_utc

Name = lambda n: fields.String(required=True, validate=validate.Length(min=1, max=n))  # noqa: E731


class UtcDateTime(fields.DateTime):
    """A timestamp always written with its UTC offset (SQLite returns naive UTC values)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return iso_utc(value)


class Code(fields.String):
    def __init__(self, **kw: Any) -> None:
        kw.setdefault("validate", validate.Length(min=1, max=24))
        super().__init__(**kw)


class LotText(fields.String):
    def __init__(self, **kw: Any) -> None:
        kw.setdefault("validate", validate.Length(min=1, max=40))
        super().__init__(**kw)


# ----------------------------------------------------------------- reference data


class StockMedicineIn(Strict):
    code = Code(required=True)
    name = Name(200)
    strength = Name(60)
    form = Name(60)
    unit = Name(20)
    therapeutic_class = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=40)
    )
    default_days_supply = DaysSupply(load_default=None, allow_none=True)


class StockMedicineOut(Strict):
    code = fields.String()
    name = fields.String()
    strength = fields.String()
    form = fields.String()
    unit = fields.String()
    therapeutic_class = fields.String(allow_none=True)
    default_days_supply = fields.Integer(allow_none=True)
    created_at = UtcDateTime()


class StockMedicinePage(Strict):
    items = fields.List(fields.Nested(StockMedicineOut))
    next_cursor = fields.String(allow_none=True)


class StockSupplierIn(Strict):
    code = Code(required=True)
    name = Name(200)


class StockSupplierOut(Strict):
    code = fields.String()
    name = fields.String()
    account = fields.Function(lambda s: chart.due_to_supplier(s.code))
    created_at = UtcDateTime()


class StockSupplierPage(Strict):
    items = fields.List(fields.Nested(StockSupplierOut))
    next_cursor = fields.String(allow_none=True)


class StockPharmacyIn(Strict):
    code = Code(required=True)
    name = Name(200)
    province = Name(100)
    district = Name(100)


class StockPharmacyOut(Strict):
    code = fields.String()
    name = fields.String()
    province = fields.String()
    district = fields.String()
    accounts = fields.Function(
        lambda p: {
            "due_from": chart.due_from_pharmacy(p.code),
            "inventory": chart.inventory(p.code),
            "due_to": chart.due_to_pharmacy(p.code),
        }
    )
    created_at = UtcDateTime()


class StockPharmacyPage(Strict):
    items = fields.List(fields.Nested(StockPharmacyOut))
    next_cursor = fields.String(allow_none=True)


# ----------------------------------------------------------------- receipts


class StockReceiptLineIn(Strict):
    medicine = Code(required=True)
    lot = LotText(required=True)
    expiry = Date(required=True)
    quantity = Quantity(required=True)
    #: a purchased line's cost; a donated line carries ``fair_value`` instead (checked by
    #: ``stock.donations.check_funding``: the wrong one, or none, is a 422)
    total_cost = DecimalText(load_default=None)
    fair_value = DecimalText(load_default=None)


class StockFundingIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(["purchased", "donated"]))
    donor = Code(load_default=None)


class StockReceiptIn(Strict):
    supplier = Code(load_default=None)
    location = Code(required=True)
    date = Date(required=True)
    memo = fields.String(load_default=None, validate=validate.Length(min=1, max=500))
    lines = fields.List(
        fields.Nested(StockReceiptLineIn), required=True, validate=validate.Length(min=1, max=200)
    )
    #: the invoice's currency (default: the functional currency) and, for the other
    #: currency, the rate (KHR per USD, <= 6 decimals; default: the one in force)
    currency = fields.String(load_default=None, validate=validate.Length(min=1, max=24))
    rate = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    #: DESIGN.md "Funders": absent = purchased
    funding = fields.Nested(StockFundingIn, load_default=None)


class StockReceiptLineOut(Strict):
    medicine = fields.String()
    lot = fields.String()
    expiry = Date()
    quantity = fields.Integer()
    total_cost = fields.String()
    #: the lot's value in the functional currency (``value_currency``)
    value = fields.String()
    fair_value = fields.String()


class StockFundingOut(Strict):
    kind = fields.String()
    donor = fields.String()


class StockReceiptOut(Strict):
    id = fields.String()
    entry_id = fields.String()
    supplier = fields.String(allow_none=True)
    location = fields.String()
    date = Date()
    accounting_date = Date()
    currency = fields.String()
    total_cost = fields.String()
    lines = fields.List(fields.Nested(StockReceiptLineOut))
    rate = fields.String(allow_none=True)
    rate_date = Date(allow_none=True)
    value_currency = fields.String()
    total_value = fields.String()
    #: only on a donated receipt (then lines carry ``fair_value`` and ``total_fair_value``)
    funding = fields.Nested(StockFundingOut)
    total_fair_value = fields.String()


# ----------------------------------------------------------------- transfers, write-offs


class StockTransferLineIn(Strict):
    medicine = Code(required=True)
    quantity = Quantity(required=True)
    lot = LotText(load_default=None, allow_none=True)


class StockTransferIn(Strict):
    from_ = Code(required=True, data_key="from")
    to = Code(required=True)
    date = Date(required=True)
    memo = fields.String(load_default=None, validate=validate.Length(min=1, max=500))
    lines = fields.List(
        fields.Nested(StockTransferLineIn), required=True, validate=validate.Length(min=1, max=200)
    )


class StockLotTakeOut(Strict):
    lot = fields.String()
    expiry = Date()
    quantity = fields.Integer()
    value = fields.String()


class StockTakenLineOut(Strict):
    medicine = fields.String()
    quantity = fields.Integer()
    lot = fields.String(allow_none=True)
    value = fields.String()
    lots = fields.List(fields.Nested(StockLotTakeOut))


class StockTransferOut(Strict):
    id = fields.String()
    entry_id = fields.String()
    from_ = fields.String(data_key="from")
    to = fields.String()
    date = Date()
    accounting_date = Date()
    currency = fields.String()
    lines = fields.List(fields.Nested(StockTakenLineOut))


class StockWriteOffLineIn(Strict):
    medicine = Code(required=True)
    lot = LotText(required=True)
    quantity = Quantity(required=True)


class StockWriteOffIn(Strict):
    location = Code(required=True)
    date = Date(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(["expired", "damaged", "lost"]))
    memo = fields.String(load_default=None, validate=validate.Length(min=1, max=500))
    lines = fields.List(
        fields.Nested(StockWriteOffLineIn), required=True, validate=validate.Length(min=1, max=200)
    )


class StockWriteOffOut(Strict):
    id = fields.String()
    entry_id = fields.String()
    location = fields.String()
    date = Date()
    accounting_date = Date()
    reason = fields.String()
    currency = fields.String()
    lines = fields.List(fields.Nested(StockTakenLineOut))


# ----------------------------------------------------------------- counts


class StockCountLineIn(Strict):
    medicine = Code(required=True)
    lot = LotText(required=True)
    counted = Quantity(required=True, minimum=0)


class StockCountIn(Strict):
    location = Code(required=True)
    date = Date(required=True)
    memo = fields.String(load_default=None, validate=validate.Length(min=1, max=500))
    lines = fields.List(
        fields.Nested(StockCountLineIn), required=True, validate=validate.Length(min=1, max=500)
    )


class StockCountLineOut(Strict):
    medicine = fields.String()
    lot = fields.String()
    expiry = Date()
    book = fields.Integer()
    counted = fields.Integer()
    difference = fields.Integer()
    value = fields.String()


class StockCountOut(Strict):
    id = fields.String()
    entry_id = fields.String(allow_none=True)
    location = fields.String()
    date = Date()
    accounting_date = Date(allow_none=True)
    currency = fields.String()
    lines = fields.List(fields.Nested(StockCountLineOut))
    differences = fields.List(fields.Nested(StockCountLineOut))


# ----------------------------------------------------------------- reading


class StockOnHandArgs(Strict):
    location = Code(load_default=None)
    medicine = Code(load_default=None)
    as_of = Date(load_default=None)


class StockOnHandOut(Strict):
    location = fields.String()
    medicine = fields.String()
    lot = fields.String()
    expiry = Date()
    quantity = fields.Integer()
    value = fields.String()
    currency = fields.String()


class StockExpiringArgs(Strict):
    within_days = fields.Integer(
        load_default=90, strict=False, validate=validate.Range(min=0, max=3650)
    )
    location = Code(load_default=None)


class StockExpiringOut(StockOnHandOut):
    days_left = fields.Integer()


class StockMovementArgs(PagingArgs):
    location = Code(load_default=None)
    medicine = Code(required=True)
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)


class StockCardLineOut(Strict):
    date = Date()
    service_date = Date()
    entry_id = fields.String()
    source = fields.String(allow_none=True)
    memo = fields.String()
    lot = fields.String()
    quantity = fields.Integer()
    value = fields.String()
    balance_quantity = fields.Integer()
    balance_value = fields.String()


class StockQuantityValueOut(Strict):
    quantity = fields.Integer()
    value = fields.String()


class StockCardOut(Strict):
    location = fields.String()
    medicine = fields.String()
    currency = fields.String()
    from_ = Date(data_key="from")
    to = Date()
    opening = fields.Nested(StockQuantityValueOut)
    closing = fields.Nested(StockQuantityValueOut)
    items = fields.List(fields.Nested(StockCardLineOut))
    next_cursor = fields.String(allow_none=True)
