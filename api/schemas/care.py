"""Schemas of the care API (API.md "Care")."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from api.schemas.common import PagingArgs, Quantity, Strict
from care.service import DEFAULT_GRACE_DAYS, MAX_GRACE_DAYS
from ledger.clock import iso_utc


class DaysSupply(Quantity):
    """Days of treatment: a JSON integer from 1 to 365."""

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("validate", validate.Range(min=1, max=365))
        super().__init__(**kw)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("must be a whole number of days (a JSON integer, 1 to 365)")
        return super()._deserialize(value, attr, data, **kwargs)


class Code(fields.String):
    def __init__(self, **kw: Any) -> None:
        kw.setdefault("validate", validate.Length(min=1, max=24))
        super().__init__(**kw)


class EducatorIn(Strict):
    code = Code(required=True)
    name = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=200)
    )
    network = fields.String(required=True, validate=validate.Length(min=1, max=100))
    district = fields.String(required=True, validate=validate.Length(min=1, max=100))


class UtcDateTime(fields.Field[Any]):
    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else iso_utc(value)


class EducatorOut(Strict):
    code = fields.String()
    name = fields.String(allow_none=True)
    network = fields.String()
    district = fields.String()
    created_at = UtcDateTime()


class EducatorPage(Strict):
    items = fields.List(fields.Nested(EducatorOut))
    next_cursor = fields.String(allow_none=True)


class AssignmentIn(Strict):
    educator = Code(required=True)
    valid_from = fields.Date(required=True)


class AssignmentBrief(Strict):
    patient = fields.String()
    educator = fields.String()
    valid_from = fields.String()
    valid_to = fields.String(allow_none=True)


class AssignmentOut(AssignmentBrief):
    previous = fields.Nested(AssignmentBrief, allow_none=True)


class ScopeArgs(Strict):
    educator = Code(load_default=None)
    pharmacy = Code(load_default=None)


class AdherenceArgs(ScopeArgs):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)
    patient = fields.String(load_default=None, validate=validate.Length(min=1, max=40))


class OverdueArgs(ScopeArgs):
    as_of = fields.Date(load_default=None)
    grace_days = fields.Integer(
        load_default=DEFAULT_GRACE_DAYS, validate=validate.Range(min=0, max=MAX_GRACE_DAYS)
    )


class AdherenceRow(Strict):
    patient = fields.String()
    therapeutic_class = fields.String()
    days_covered = fields.Integer()
    days_in_window = fields.Integer()
    pdc = fields.String(allow_none=True)
    counted_from = fields.Date(allow_none=True)
    carried_in = fields.Boolean()
    educator = fields.String(allow_none=True)
    pharmacy = fields.String(allow_none=True)


class AdherenceOut(Strict):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    items = fields.List(fields.Nested(AdherenceRow))


class OverdueRow(Strict):
    patient = fields.String()
    therapeutic_class = fields.String()
    ran_out_on = fields.Date()
    days_overdue = fields.Integer()
    educator = fields.String(allow_none=True)
    pharmacy = fields.String(allow_none=True)


class ScorecardArgs(Strict):
    period = fields.String(required=True, validate=validate.Length(min=7, max=7))


class ScorecardRow(Strict):
    pharmacy = fields.String()
    dispensings = fields.Integer()
    patients = fields.Integer()
    mean_pdc = fields.String(allow_none=True)
    stock_out_days = fields.Integer()
    expiry_losses = fields.String()
    currency = fields.String()
    remitted_on = fields.Date(allow_none=True)
    days_to_remit = fields.Integer(allow_none=True)


class ScorecardOut(Strict):
    period = fields.String()
    items = fields.List(fields.Nested(ScorecardRow))


class FhirDispenseArgs(Strict):
    pharmacy = Code(load_default=None)
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)


__all__ = ["DaysSupply", "PagingArgs"]
