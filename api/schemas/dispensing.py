"""Schemas of the dispensing API (API.md, "Dispensing")."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from api.schemas.care import DaysSupply
from api.schemas.common import Date, PagingArgs, Quantity, Strict

MAX_BATCH = 1000


class ItemIn(Strict):
    medicine = fields.String(required=True, validate=validate.Length(min=1, max=24))
    quantity = Quantity(required=True)
    days_supply = DaysSupply(load_default=None, allow_none=True)


class DispensingIn(Strict):
    pharmacy = fields.String(required=True, validate=validate.Length(min=1, max=24))
    patient = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=40)
    )
    service_date = Date(required=True)
    client_ref = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=120)
    )
    items = fields.List(
        fields.Nested(ItemIn), required=True, validate=validate.Length(min=1, max=100)
    )


class BatchIn(Strict):
    dispensings = fields.List(fields.Raw(), required=True)

    @validates_schema
    def _size(self, data: dict[str, Any], **kwargs: Any) -> None:
        n = len(data.get("dispensings") or [])
        if n == 0:
            raise ValidationError("send at least one dispensing", "dispensings")
        if n > MAX_BATCH:
            raise ValidationError(
                f"at most {MAX_BATCH} dispensings per batch (got {n})", "dispensings"
            )


class LotOut(Strict):
    lot = fields.String()
    quantity = fields.Integer()
    value = fields.String()


class LineOut(Strict):
    medicine = fields.String()
    quantity = fields.Integer()
    unit_price = fields.String()
    price = fields.String()
    subsidy = fields.String()
    copayment = fields.String()
    cost = fields.String()
    days_supply = fields.Integer(allow_none=True)
    lots = fields.List(fields.Nested(LotOut))
    #: only when a scheme's budget cut the subsidy: the cut of this line
    budget_cut = fields.String()


class ReturnLineOut(Strict):
    medicine = fields.String()
    quantity = fields.Integer()
    price = fields.String()
    subsidy = fields.String()
    copayment = fields.String()
    cost = fields.String()
    lots = fields.List(fields.Nested(LotOut))


class ReturnOut(Strict):
    id = fields.String()
    dispensing_id = fields.String()
    pharmacy = fields.String()
    date = fields.String()
    accounting_date = fields.String()
    currency = fields.String()
    lines = fields.List(fields.Nested(ReturnLineOut))
    total_price = fields.String()
    total_subsidy = fields.String()
    total_copayment = fields.String()
    total_cost = fields.String()
    fee = fields.String()
    entry_id = fields.String()


class DispensingOut(Strict):
    id = fields.String()
    pharmacy = fields.String()
    patient = fields.String(allow_none=True)
    service_date = fields.String()
    accounting_date = fields.String()
    currency = fields.String()
    client_ref = fields.String(allow_none=True)
    model = fields.String()
    scheme = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(LineOut))
    total_price = fields.String()
    total_subsidy = fields.String()
    total_copayment = fields.String()
    fee = fields.String()
    entry_id = fields.String()
    returns = fields.List(fields.Nested(ReturnOut))
    #: only when a scheme's budget cut the subsidy (then each line has its ``budget_cut``)
    budget_exhausted = fields.Boolean()


class BatchResultOut(Strict):
    index = fields.Integer()
    status = fields.Integer()
    client_ref = fields.String(allow_none=True)
    replayed = fields.Boolean()
    dispensing = fields.Dict(allow_none=True)
    problem = fields.Dict(allow_none=True)


class BatchOut(Strict):
    results = fields.List(fields.Nested(BatchResultOut))
    created = fields.Integer()
    replayed = fields.Integer()
    failed = fields.Integer()


class ReturnItemIn(Strict):
    medicine = fields.String(required=True, validate=validate.Length(min=1, max=24))
    quantity = Quantity(required=True)


class ReturnIn(Strict):
    items = fields.List(
        fields.Nested(ReturnItemIn), required=True, validate=validate.Length(min=1, max=100)
    )
    date = Date(load_default=None)


class ListArgs(PagingArgs):
    pharmacy = fields.String(load_default=None, validate=validate.Length(min=1, max=24))
    patient = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)


class DispensingPage(Strict):
    items = fields.List(fields.Nested(DispensingOut))
    next_cursor = fields.String(allow_none=True)
