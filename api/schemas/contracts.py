"""Marshmallow schemas of the contracts HTTP edge. Amounts, prices and percentages travel as
decimal strings (a JSON integer is accepted for amounts and percentages); never a float."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from api.schemas.common import CodeStr, Date, DecimalText, PagingArgs, Strict

CODE_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class RefCode(fields.String):
    """A code of a reference object: 1-24 letters, digits, '-', '_' or '.'."""

    def __init__(self, **kw: Any) -> None:
        kw.setdefault(
            "validate",
            [
                validate.Length(min=1, max=24),
                validate.Regexp(CODE_RE, error="letters, digits, '-', '_' or '.' only"),
            ],
        )
        super().__init__(**kw)


class UnitPriceText(fields.Field[str]):
    """A unit price as a JSON string such as "50" or "0.125" (up to 6 decimals), or an
    integer. Checked exactly by ``ledger.money.parse_unit_price`` in the service."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValidationError('must be a decimal string such as "50" or "0.125"')
        if isinstance(value, str) and (not value.strip() or len(value) > 40):
            raise ValidationError('must be a decimal string such as "50" or "0.125"')
        return value.strip() if isinstance(value, str) else value


# --------------------------------------------------------------------------- price lists


class PriceListIn(Strict):
    code = RefCode(required=True)
    currency = CodeStr(required=True)


class PriceItemIn(Strict):
    medicine = CodeStr(required=True)
    unit_price = UnitPriceText(required=True)


class PriceListVersionIn(Strict):
    effective_from = Date(required=True)
    items = fields.List(
        fields.Nested(PriceItemIn), required=True, validate=validate.Length(min=1, max=5000)
    )


class PriceItemOut(Strict):
    medicine = fields.String()
    unit_price = fields.String()


class PriceListVersionOut(Strict):
    id = fields.String()
    price_list = fields.String()
    effective_from = Date()
    created_at = fields.String()
    items = fields.List(fields.Nested(PriceItemOut))


class PriceListOut(Strict):
    code = fields.String()
    currency = fields.String()
    created_at = fields.String()
    versions = fields.List(fields.Nested(PriceListVersionOut))


class PriceListPage(Strict):
    items = fields.List(fields.Nested(PriceListOut))
    next_cursor = fields.String(allow_none=True)


# --------------------------------------------------------------------------- schemes


class SchemeIn(Strict):
    code = RefCode(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    payer = fields.String(required=True, validate=validate.OneOf(["external", "fund"]))
    percent = DecimalText(required=True)
    cap_per_dispensing = DecimalText(load_default=None, allow_none=True)
    cap_per_patient_month = DecimalText(load_default=None, allow_none=True)
    eligible_medicines = fields.List(
        CodeStr(), load_default=None, allow_none=True, validate=validate.Length(min=1, max=5000)
    )
    cash_rounding = DecimalText(load_default=None, allow_none=True)


class SchemeOut(Strict):
    code = fields.String()
    name = fields.String()
    payer = fields.String()
    percent = fields.String()
    currency = fields.String()
    cap_per_dispensing = fields.String(allow_none=True)
    cap_per_patient_month = fields.String(allow_none=True)
    eligible_medicines = fields.List(fields.String(), allow_none=True)
    cash_rounding = fields.String(allow_none=True)
    account = fields.String(allow_none=True)
    created_at = fields.String()


class SchemePage(Strict):
    items = fields.List(fields.Nested(SchemeOut))
    next_cursor = fields.String(allow_none=True)


# --------------------------------------------------------------------------- patients


class EnrolmentIn(Strict):
    scheme = RefCode(required=True)
    valid_from = Date(required=True)
    valid_to = Date(load_default=None, allow_none=True)


class PatientIn(Strict):
    member_code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    enrolments = fields.List(
        fields.Nested(EnrolmentIn), load_default=list, validate=validate.Length(max=100)
    )


class EnrolmentOut(Strict):
    id = fields.String()
    scheme = fields.String()
    valid_from = Date()
    valid_to = Date(allow_none=True)


class PatientOut(Strict):
    member_code = fields.String()
    created_at = fields.String()
    enrolments = fields.List(fields.Nested(EnrolmentOut))


class PatientPage(Strict):
    items = fields.List(fields.Nested(PatientOut))
    next_cursor = fields.String(allow_none=True)


class PatientListArgs(PagingArgs):
    scheme = RefCode(load_default=None)


# --------------------------------------------------------------------------- contracts


class FeeIn(Strict):
    kind = fields.String(
        required=True, validate=validate.OneOf(["per_dispensing", "per_line", "percent"])
    )
    value = DecimalText(required=True)


class ContractIn(Strict):
    valid_from = Date(required=True)
    valid_to = Date(load_default=None, allow_none=True)
    model = fields.String(required=True, validate=validate.OneOf(["consignment", "purchase"]))
    price_list = RefCode(required=True)
    fee = fields.Nested(FeeIn, required=True)
    wholesale_price_list = RefCode(load_default=None, allow_none=True)
    settlement_cycle = fields.String(
        load_default="monthly", allow_none=True, validate=validate.OneOf(["monthly"])
    )


class ContractEndIn(Strict):
    on = Date(load_default=None, allow_none=True)


class FeeOut(Strict):
    kind = fields.String()
    value = fields.String()


class ContractOut(Strict):
    id = fields.String()
    pharmacy = fields.String()
    valid_from = Date()
    valid_to = Date(allow_none=True)
    model = fields.String()
    price_list = fields.String()
    wholesale_price_list = fields.String(allow_none=True)
    currency = fields.String()
    fee = fields.Nested(FeeOut)
    settlement_cycle = fields.String()
    status = fields.String()
    created_at = fields.String()


class ContractPage(Strict):
    items = fields.List(fields.Nested(ContractOut))
    next_cursor = fields.String(allow_none=True)
