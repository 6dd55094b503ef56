"""Marshmallow schemas of the ledger's HTTP edge: decimals as strings, dates ISO."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from ledger.money import MAX_AMOUNT_MINOR, MAX_QUANTITY_UNITS

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable(value: Any) -> bool:
    """True when a string somewhere in ``value`` cannot be stored: PostgreSQL refuses NUL
    in text (a 5xx instead of a 4xx), and a lone surrogate cannot be encoded as UTF-8."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if _UNSTORABLE.search(v) is not None:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


#: The answer to a field the request does not have (a misspelt ``clientRef`` must not be
#: dropped silently: it would turn a retry into a second dispensing).
UNKNOWN_FIELD = (
    "unknown field: not part of this request (names are case-sensitive; see /api/v1/docs)"
)


class Strict(Schema):
    """The base of every schema of the edge. A request body with a field the schema does
    not have is refused (422 naming it), nested objects included: ``unknown = RAISE``.
    Query strings stay lenient: webargs loads them with ``EXCLUDE`` whatever the schema
    says (a cache-buster or ``format=`` on any page is harmless)."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": UNKNOWN_FIELD}

    @pre_load
    def _refuse_unstorable_text(self, data: Any, **_kw: Any) -> Any:
        if _unstorable(data):
            raise ValidationError("text must not contain NUL characters or lone surrogates")
        return data


class DecimalText(fields.Field[str]):
    """A decimal amount as a JSON string ("3000", "12.50") or a JSON integer; never a float.

    The number of decimals allowed depends on the commodity, so it is checked where the
    commodity is known; here only the shape is checked.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValidationError('must be a decimal string such as "3000" or "12.50"')
        if isinstance(value, int):
            if abs(value) > MAX_AMOUNT_MINOR:
                raise ValidationError("is larger than this service accepts")
            return str(value)
        text = value.strip()
        if not text or len(text) > 40:
            raise ValidationError('must be a decimal string such as "3000" or "12.50"')
        return text


class Quantity(fields.Integer):
    """A whole number of base units: JSON integers only (no "12", no 12.5, no true)."""

    def __init__(self, *, minimum: int = 1, **kw: Any) -> None:
        kw.setdefault("validate", validate.Range(min=minimum, max=MAX_QUANTITY_UNITS))
        super().__init__(strict=True, **kw)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("must be a whole number of units (a JSON integer)")
        out: int = super()._deserialize(value, attr, data, **kwargs)
        return out


class Date(fields.Date):
    """An ISO date, and an error that says how to write one."""

    default_error_messages = {
        "invalid": "Not a valid date: use YYYY-MM-DD",
        "format": '"{input}" cannot be formatted as a date',
    }


#: The answer to a period written some other way than "2026-10".
PERIOD_FORM = "Not a valid period: use YYYY-MM"


class Period(fields.String):
    """A month as ``YYYY-MM`` (its shape is checked where it is parsed: ``parse_period``)."""

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("validate", validate.Length(min=7, max=7, error=PERIOD_FORM))
        super().__init__(**kw)


class PagingArgs(Strict):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default=None, validate=validate.Length(max=2000))


class CodeStr(fields.String):
    def __init__(self, **kw: Any) -> None:
        kw.setdefault("validate", validate.Length(min=1, max=40))
        super().__init__(**kw)


class AccountOut(Strict):
    code = fields.String()
    name = fields.String()
    type = fields.String()
    parent = fields.String(allow_none=True)
    carries = fields.String()
    is_header = fields.Boolean()
    currency = fields.String(allow_none=True)
    pharmacy = fields.String(allow_none=True)


class AccountPage(Strict):
    items = fields.List(fields.Nested(AccountOut))
    next_cursor = fields.String(allow_none=True)


class AsOfArgs(Strict):
    as_of = Date(load_default=None)


class BalanceLineOut(Strict):
    commodity = fields.String()
    lot = fields.String(allow_none=True)
    medicine = fields.String(allow_none=True)
    amount = fields.String()


class BalanceOut(Strict):
    account = fields.String()
    as_of = Date(allow_none=True)
    balances = fields.List(fields.Nested(BalanceLineOut))


#: How a statement's commodity is chosen when none is asked for (OpenAPI description).
STATEMENT_COMMODITY = (
    "Default: the account's own currency (1020 is USD); else the one commodity it holds; "
    "else the fund currency when it holds it or nothing; else 422 naming the commodities."
)


class StatementArgs(PagingArgs):
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)
    commodity = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=24),
        metadata={"description": STATEMENT_COMMODITY},
    )


class StatementLineOut(Strict):
    date = Date()
    service_date = Date()
    entry_id = fields.String()
    memo = fields.String()
    source = fields.String(allow_none=True)
    lot = fields.String(allow_none=True)
    amount = fields.String()
    debit = fields.String()
    credit = fields.String()
    balance = fields.String()


class StatementOut(Strict):
    account = fields.String()
    name = fields.String()
    commodity = fields.String()
    from_ = Date(data_key="from")
    to = Date()
    opening = fields.String()
    closing = fields.String()
    total_debit = fields.String()
    total_credit = fields.String()
    items = fields.List(fields.Nested(StatementLineOut))
    next_cursor = fields.String(allow_none=True)


class PostingIn(Strict):
    account = fields.String(required=True, validate=validate.Length(min=1, max=40))
    commodity = fields.String(required=True, validate=validate.Length(min=1, max=24))
    amount = DecimalText(required=True)
    lot = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=80))


class JournalEntryIn(Strict):
    date = Date(required=True)
    memo = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    postings = fields.List(
        fields.Nested(PostingIn), required=True, validate=validate.Length(min=2, max=500)
    )


class PostingOut(Strict):
    account = fields.String()
    commodity = fields.String()
    lot = fields.String(allow_none=True)
    amount = fields.String()


class SourceOut(Strict):
    kind = fields.String()
    id = fields.String()


class JournalEntryOut(Strict):
    id = fields.String()
    service_date = Date()
    accounting_date = Date()
    memo = fields.String()
    source = fields.String(allow_none=True)
    source_document = fields.Nested(SourceOut, allow_none=True)
    reverses = fields.String(allow_none=True)
    reversed_by = fields.List(fields.String())
    created_at = fields.String()
    created_by = fields.String()
    seal = fields.String(allow_none=True)
    postings = fields.List(fields.Nested(PostingOut))


class ReverseIn(Strict):
    date = Date(load_default=None)
    memo = fields.String(load_default=None, validate=validate.Length(min=1, max=2000))


class TrialBalanceArgs(Strict):
    as_of = Date(load_default=None)
    commodity = fields.String(load_default=None, validate=validate.Length(min=1, max=24))
    #: convert every balance into this currency at the as-of rate (?in=KHR|USD)
    in_ = fields.String(data_key="in", load_default=None, validate=validate.Length(min=1, max=24))


class TrialBalanceRowOut(Strict):
    account = fields.String()
    name = fields.String()
    type = fields.String()
    commodity = fields.String()
    debit = fields.String()
    credit = fields.String()


class CommodityTotalOut(Strict):
    commodity = fields.String()
    debit = fields.String()
    credit = fields.String()


class TrialBalanceOut(Strict):
    as_of = Date(allow_none=True)
    commodity = fields.String(allow_none=True)
    rows = fields.List(fields.Nested(TrialBalanceRowOut))
    totals = fields.List(fields.Nested(CommodityTotalOut))
    total_debit = fields.String(allow_none=True)
    total_credit = fields.String(allow_none=True)
    balanced = fields.Boolean()
    in_ = fields.String(data_key="in", allow_none=True)
    rate = fields.String(allow_none=True)
    rate_date = Date(allow_none=True)
    exchange_differences = fields.String(allow_none=True)


class PeriodOut(Strict):
    period = fields.String()
    status = fields.String()
    closed_at = fields.String(allow_none=True)
    closed_by = fields.String(allow_none=True)
    forced = fields.Boolean()
    reason = fields.String(allow_none=True)
    merkle_root = fields.String(allow_none=True)
    last_seal = fields.String(allow_none=True)


class PeriodPage(Strict):
    items = fields.List(fields.Nested(PeriodOut))
    next_cursor = fields.String(allow_none=True)


class CloseIn(Strict):
    force = fields.Boolean(load_default=False)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
