"""HTTP layer of contracts: price lists, subsidy schemes, patients, pharmacy contracts.
Handlers parse, authorise, call the contracts use cases (``contracts.pricelists``,
``schemes``, ``patients``, ``agreements``) and serialise; the reads fetch what a page shows in
a fixed number of queries, never one per row.

Who may do what: finance writes; finance and auditor read everything; a pharmacist reads its
own pharmacy's contracts and the price lists they use (another's: 404), and may look a patient
up by member code (it needs it to dispense), but may not list all patients or schemes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import access, ensure_pharmacy, principal, visible_pharmacy
from api.cursors import decode_cursor, encode_cursor
from api.schemas.common import PagingArgs
from api.schemas.contracts import (
    ContractEndIn,
    ContractIn,
    ContractOut,
    ContractPage,
    EnrolmentIn,
    PatientIn,
    PatientListArgs,
    PatientOut,
    PatientPage,
    PriceListIn,
    PriceListOut,
    PriceListPage,
    PriceListVersionIn,
    PriceListVersionOut,
    SchemeIn,
    SchemeOut,
    SchemePage,
)
from api.session import db_session, fund_currency
from api.writes import write_view
from contracts import agreements, patients, pricelists, schemes
from contracts.checks import format_percent
from contracts.pricelists import PricedVersion
from contracts.tables import Contract, Patient, PriceList, SubsidyScheme
from ledger import chart
from ledger.errors import NotFound
from ledger.money import format_amount
from stock.refdata import pharmacy_exists

blp = Blueprint(
    "contracts",
    __name__,
    url_prefix="/api/v1",
    description="Price lists, subsidy schemes, patients and pharmacy contracts",
)

BOOKS_READ = ("finance", "auditor")
FINANCE = ("finance",)


# --------------------------------------------------------------------------- serialisers


def _exp() -> int:
    return chart.exponent(fund_currency())


def _version_json(pv: PricedVersion) -> dict[str, Any]:
    v = pv.version
    return {
        "id": str(v.id),
        "price_list": v.price_list,
        "effective_from": v.effective_from,
        "created_at": v.created_at.isoformat(),
        "items": [{"medicine": m, "unit_price": p} for m, p in pv.items.items()],
    }


def _price_lists_json(rows: Sequence[PriceList]) -> list[dict[str, Any]]:
    versions = pricelists.versions_of(db_session(), [pl.code for pl in rows])
    return [
        {
            "code": pl.code,
            "currency": pl.currency,
            "created_at": pl.created_at.isoformat(),
            "versions": [_version_json(v) for v in versions[pl.code]],
        }
        for pl in rows
    ]


def _money(v: int | None) -> str | None:
    return None if v is None else format_amount(v, _exp())


def _schemes_json(rows: Sequence[SubsidyScheme]) -> list[dict[str, Any]]:
    medicines = schemes.medicines_of_schemes(db_session(), rows)
    return [
        {
            "code": s.code,
            "name": s.name,
            "payer": s.payer,
            "percent": format_percent(s.percent_bp),
            "currency": fund_currency(),
            "cap_per_dispensing": _money(s.cap_per_dispensing),
            "cap_per_patient_month": _money(s.cap_per_patient_month),
            "eligible_medicines": medicines[s.code],
            "cash_rounding": _money(s.cash_rounding),
            "account": s.account,
            "created_at": s.created_at.isoformat(),
        }
        for s in rows
    ]


def _patients_json(rows: Sequence[Patient]) -> list[dict[str, Any]]:
    enrolments = patients.enrolments_of_patients(db_session(), [p.id for p in rows])
    return [
        {
            "member_code": p.member_code,
            "created_at": p.created_at.isoformat(),
            "enrolments": [
                {
                    "id": str(e.id),
                    "scheme": e.scheme,
                    "valid_from": e.valid_from,
                    "valid_to": e.valid_to,
                }
                for e in enrolments[p.id]
            ],
        }
        for p in rows
    ]


def _contract_json(c: Contract) -> dict[str, Any]:
    fee_value = c.fee_value if c.fee_kind == "percent" else format_amount(int(c.fee_value), _exp())
    return {
        "id": str(c.id),
        "pharmacy": c.pharmacy,
        "valid_from": c.valid_from,
        "valid_to": c.valid_to,
        "model": c.model,
        "price_list": c.price_list,
        "wholesale_price_list": c.wholesale_price_list,
        "currency": fund_currency(),
        "fee": {"kind": c.fee_kind, "value": fee_value},
        "settlement_cycle": c.settlement_cycle,
        "status": agreements.effective_status(c),
        "created_at": c.created_at.isoformat(),
    }


def _page(rows: list[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(key(rows[-1])) if more and rows else None)


# --------------------------------------------------------------------------- price lists


@blp.route("/price-lists")
class PriceLists(MethodView):
    @access(*BOOKS_READ, pharmacist="own")
    @blp.arguments(PagingArgs, location="query")
    @blp.response(200, PriceListPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Price lists with their versions; a pharmacist sees the ones its contracts use."""
        s = db_session()
        after = decode_cursor(args["cursor"])
        own = visible_pharmacy()
        found = pricelists.list_price_lists(
            s,
            after=str(after) if after else None,
            limit=args["limit"],
            only=None if own is None else agreements.price_lists_of_pharmacy(s, own),
        )
        rows, cursor = _page(found, args["limit"], lambda r: r.code)
        return {"items": _price_lists_json(rows), "next_cursor": cursor}

    @access(*FINANCE)
    @blp.arguments(PriceListIn)
    @blp.response(201, PriceListOut)
    @write_view(PriceListOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a price list in a currency; 409 if the code is taken."""
        pl = pricelists.create_price_list(db_session(), data["code"], data["currency"])
        return _price_lists_json([pl])[0]


@blp.route("/price-lists/<string:code>")
class PriceListOne(MethodView):
    @access(*BOOKS_READ, pharmacist="own")
    @blp.response(200, PriceListOut)
    def get(self, code: str) -> dict[str, Any]:
        """A price list with every version and its items."""
        own = visible_pharmacy()
        s = db_session()
        if own is not None and code not in agreements.price_lists_of_pharmacy(s, own):
            raise NotFound(f"no price list {code!r}")
        return _price_lists_json([pricelists.get_price_list(s, code)])[0]


@blp.route("/price-lists/<string:code>/versions")
class PriceListVersions(MethodView):
    @access(*FINANCE)
    @blp.arguments(PriceListVersionIn)
    @blp.response(201, PriceListVersionOut)
    @write_view(PriceListVersionOut)
    def post(self, data: dict[str, Any], code: str) -> dict[str, Any]:
        """Add a complete version effective from a date; 409 if that date has one already."""
        v = pricelists.add_price_list_version(
            db_session(), code, data["effective_from"], data["items"], by=principal().name
        )
        return _version_json(PricedVersion(v, pricelists.version_items(db_session(), v.id)))


# --------------------------------------------------------------------------- schemes


@blp.route("/subsidy-schemes")
class Schemes(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(PagingArgs, location="query")
    @blp.response(200, SchemePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Subsidy schemes."""
        after = decode_cursor(args["cursor"])
        found = schemes.list_schemes(
            db_session(), after=str(after) if after else None, limit=args["limit"]
        )
        rows, cursor = _page(found, args["limit"], lambda r: r.code)
        return {"items": _schemes_json(rows), "next_cursor": cursor}

    @access(*FINANCE)
    @blp.arguments(SchemeIn)
    @blp.response(201, SchemeOut)
    @write_view(SchemeOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a scheme; an external payer's gets the sub-account 1300-{code}."""
        return _schemes_json([schemes.create_scheme(db_session(), data)])[0]


@blp.route("/subsidy-schemes/<string:code>")
class SchemeOne(MethodView):
    @access(*BOOKS_READ)
    @blp.response(200, SchemeOut)
    def get(self, code: str) -> dict[str, Any]:
        """A subsidy scheme."""
        return _schemes_json([schemes.get_scheme(db_session(), code)])[0]


# --------------------------------------------------------------------------- patients


@blp.route("/patients")
class Patients(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(PatientListArgs, location="query")
    @blp.response(200, PatientPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """All patients by member code (finance, auditor); ``?scheme=`` filters."""
        after = decode_cursor(args["cursor"])
        found = patients.list_patients(
            db_session(),
            after=str(after) if after else None,
            limit=args["limit"],
            scheme=args["scheme"] or None,
        )
        rows, cursor = _page(found, args["limit"], lambda r: r.member_code)
        return {"items": _patients_json(rows), "next_cursor": cursor}

    @access(*FINANCE)
    @blp.arguments(PatientIn)
    @blp.response(201, PatientOut)
    @write_view(PatientOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Register a patient by pseudonymous member code, with enrolments."""
        p = patients.create_patient(db_session(), data["member_code"], data["enrolments"])
        return _patients_json([p])[0]


@blp.route("/patients/<string:member_code>")
class PatientOne(MethodView):
    @access(*BOOKS_READ, pharmacist="own")
    @blp.response(200, PatientOut)
    def get(self, member_code: str) -> dict[str, Any]:
        """A patient and its enrolments (pharmacists too: they need it to dispense)."""
        return _patients_json([patients.get_patient(db_session(), member_code)])[0]


@blp.route("/patients/<string:member_code>/enrolments")
class PatientEnrolments(MethodView):
    @access(*FINANCE)
    @blp.arguments(EnrolmentIn)
    @blp.response(201, PatientOut)
    @write_view(PatientOut)
    def post(self, data: dict[str, Any], member_code: str) -> dict[str, Any]:
        """Enrol a patient in a scheme; 422 if it overlaps an enrolment in that scheme."""
        return _patients_json([patients.add_enrolment(db_session(), member_code, data)])[0]


# --------------------------------------------------------------------------- contracts


@blp.route("/pharmacies/<string:code>/contracts")
class Contracts(MethodView):
    @access(*BOOKS_READ, pharmacist="own")
    @blp.arguments(PagingArgs, location="query")
    @blp.response(200, ContractPage)
    def get(self, args: dict[str, Any], code: str) -> dict[str, Any]:
        """A pharmacy's contracts, oldest first."""
        ensure_pharmacy(code)
        s = db_session()
        if not pharmacy_exists(s, code):
            raise NotFound(f"no pharmacy {code!r}")
        after = decode_cursor(args["cursor"])
        found = agreements.list_contracts(
            s, code, after=int(after) if after else None, limit=args["limit"]
        )
        rows, cursor = _page(found, args["limit"], lambda r: r.id)
        return {"items": [_contract_json(r) for r in rows], "next_cursor": cursor}

    @access(*FINANCE)
    @blp.arguments(ContractIn)
    @blp.response(201, ContractOut)
    @write_view(ContractOut)
    def post(self, data: dict[str, Any], code: str) -> dict[str, Any]:
        """Contract a pharmacy; 409 if it overlaps another contract of that pharmacy."""
        c = agreements.create_contract(db_session(), code, data, by=principal().name)
        return _contract_json(c)


@blp.route("/pharmacies/<string:code>/contracts/<int:contract_id>")
class ContractOne(MethodView):
    @access(*BOOKS_READ, pharmacist="own")
    @blp.response(200, ContractOut)
    def get(self, code: str, contract_id: int) -> dict[str, Any]:
        """One contract of a pharmacy."""
        ensure_pharmacy(code)
        return _contract_json(agreements.get_contract(db_session(), code, contract_id))


def _status_view(action: str, summary: str) -> type[MethodView]:
    class StatusChange(MethodView):
        @access(*FINANCE)
        @blp.arguments(ContractEndIn)
        @blp.response(200, ContractOut)
        @write_view(ContractOut, status=200)
        def post(self, data: dict[str, Any], code: str, contract_id: int) -> dict[str, Any]:
            c = agreements.set_contract_status(
                db_session(), code, contract_id, action, data.get("on")
            )
            return _contract_json(c)

    StatusChange.post.__doc__ = summary
    StatusChange.__name__ = f"Contract{action.title()}"
    return StatusChange


blp.route("/pharmacies/<string:code>/contracts/<int:contract_id>/suspend")(
    _status_view("suspend", "Suspend an active contract: dispensings are refused (409).")
)
blp.route("/pharmacies/<string:code>/contracts/<int:contract_id>/resume")(
    _status_view("resume", "Resume a suspended contract.")
)
blp.route("/pharmacies/<string:code>/contracts/<int:contract_id>/end")(
    _status_view("end", "End a contract on a date (default today): later dispensings get 409.")
)
