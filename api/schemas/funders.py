"""Marshmallow schemas of the funders' HTTP edge (API.md "Funders"): donors, budgets, the
donor report."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from api.schemas.common import Date, DecimalText, Strict
from api.schemas.stock import Code, Name, UtcDateTime


class DonorIn(Strict):
    code = Code(required=True)
    name = Name(200)


class DonorOut(Strict):
    code = fields.String()
    name = fields.String()
    account = fields.String()
    created_at = UtcDateTime()


class DonorPage(Strict):
    items = fields.List(fields.Nested(DonorOut))
    next_cursor = fields.String(allow_none=True)


class BudgetIn(Strict):
    #: "YYYY-MM" or "YYYY" (checked by ``contracts.budgets.check_period``: 422 otherwise)
    period = fields.String(required=True, validate=validate.Length(min=1, max=20))
    amount = DecimalText(required=True)


class BudgetOut(Strict):
    scheme = fields.String()
    period = fields.String()
    amount = fields.String()
    used = fields.String()
    remaining = fields.String()
    currency = fields.String()
    version = fields.String()
    created_at = UtcDateTime()


class DonationArgs(Strict):
    donor = Code(load_default=None)
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)
    format = fields.String(load_default=None)


class FigureOut(Strict):
    units = fields.Integer()
    value = fields.String()


def _figures() -> dict[str, fields.Field[Any]]:
    names = (
        "opening",
        "received",
        "transferred_in",
        "transferred_out",
        "dispensed",
        "returned",
        "written_off",
        "count_difference",
        "other",
        "on_hand",
    )
    return {n: fields.Nested(FigureOut) for n in names}


PlaceOut = Strict.from_dict({"location": fields.String(), **_figures()}, name="DonationPlaceOut")
TotalsOut = Strict.from_dict(_figures(), name="DonationTotalsOut")


class DonationLotOut(Strict):
    medicine = fields.String()
    lot = fields.String()
    expiry = Date()
    donor = fields.String()
    places = fields.List(fields.Nested(PlaceOut))
    totals = fields.Nested(TotalsOut)


class DonationReportOut(Strict):
    donor = fields.String(allow_none=True)
    from_ = Date(data_key="from", allow_none=True)
    to = Date(allow_none=True)
    currency = fields.String()
    lots = fields.List(fields.Nested(DonationLotOut))
