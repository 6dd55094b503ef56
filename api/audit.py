"""HTTP layer of tamper evidence and the audit trail: ``/audit/verify``, ``/audit/events``."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from api.access import access
from api.audit_trail import list_events
from api.cursors import decode_cursor, encode_cursor
from api.schemas.common import Date, PagingArgs, Strict
from api.session import database, db_session
from ledger.errors import InvalidRequest
from ledger.sealing import verify

blp = Blueprint(
    "audit", __name__, url_prefix="/api/v1", description="Tamper evidence and audit trail"
)


class CheckpointOut(Strict):
    count = fields.Integer()
    last_seal = fields.String()


class VerifyOut(Strict):
    ok = fields.Boolean(required=True)
    entries_checked = fields.Integer(required=True)
    first_bad_entry = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    last_seal = fields.String(allow_none=True)
    first_bad_seq = fields.Integer(allow_none=True)
    checkpoint = fields.Nested(CheckpointOut)
    unsealed = fields.Integer()
    problems = fields.List(fields.String())


class EventArgs(PagingArgs):
    user = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    what = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "Only events whose method is this (POST, DELETE; any case) or "
            "whose path contains it (/settlements, /periods/2026-11)."
        },
    )
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)


class EventOut(Strict):
    id = fields.String()
    at = fields.DateTime()
    user_id = fields.String(allow_none=True)
    user_name = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    token_hash_prefix = fields.String(allow_none=True)
    method = fields.String()
    path = fields.String()
    status = fields.Integer()
    remote_addr = fields.String(allow_none=True)
    object_ref = fields.String(allow_none=True)


class EventPageOut(Strict):
    items = fields.List(fields.Nested(EventOut))
    next_cursor = fields.String(allow_none=True)


@blp.route("/audit/verify")
class Verify(MethodView):
    @access("finance", "auditor")
    @blp.response(200, VerifyOut)
    def get(self) -> dict[str, Any]:
        """Seal what is pending, then recompute the whole chain against its checkpoint."""
        db_session().rollback()  # hold no snapshot while the sealer writes
        checks = current_app.extensions.get("rdf_verify_checks", ())
        return verify(database().sessionmaker, checks).as_json()


@blp.route("/audit/events")
class Events(MethodView):
    @access("auditor")
    @blp.arguments(EventArgs, location="query")
    @blp.response(200, EventPageOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The audit trail, newest first: every write request and document download."""
        after = decode_cursor(args["cursor"])
        if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
            raise InvalidRequest("the cursor is not valid", errors={"cursor": ["invalid cursor"]})
        if args["from_"] and args["to"] and args["to"] < args["from_"]:
            raise InvalidRequest(
                "'to' is before 'from'", errors={"to": ["must not be before from"]}
            )
        page = list_events(
            db_session(),
            limit=args["limit"],
            before_id=after,
            user=args["user"],
            what=args["what"],
            from_=args["from_"],
            to=args["to"],
        )
        return {
            "items": [
                {
                    **{c: getattr(e, c) for c in EventOut._declared_fields},
                    "id": str(e.id),
                    "user_id": str(e.user_id) if e.user_id is not None else None,
                }
                for e in page.items
            ],
            "next_cursor": encode_cursor(page.next_after) if page.next_after else None,
        }
