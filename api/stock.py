"""HTTP layer of stock: medicines, suppliers, pharmacies, receipts, transfers, write-offs,
counts, stock on hand, expiring lots and stock cards.

Finance writes; finance and auditors read everything; a pharmacist reads only its own
pharmacy (its stock, its pharmacy record, the medicine list). Handlers parse, authorise,
build the typed command (``stock.commands``), call the stock use case and serialise its
result. A transfer's purchase-model terms are gathered here from ``contracts`` and handed to
stock as a value (``SaleTerms``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import access, principal, visible_pharmacy
from api.cursors import decode_cursor, encode_cursor
from api.funders import donated_receipt_body
from api.schemas.common import PagingArgs
from api.schemas.stock import (
    StockCardOut,
    StockCountIn,
    StockCountOut,
    StockExpiringArgs,
    StockExpiringOut,
    StockMedicineIn,
    StockMedicineOut,
    StockMedicinePage,
    StockMovementArgs,
    StockOnHandArgs,
    StockOnHandOut,
    StockPharmacyIn,
    StockPharmacyOut,
    StockPharmacyPage,
    StockReceiptIn,
    StockReceiptOut,
    StockSupplierIn,
    StockSupplierOut,
    StockSupplierPage,
    StockTransferIn,
    StockTransferOut,
    StockWriteOffIn,
    StockWriteOffOut,
)
from api.session import db_session, fund_currency
from api.tabular import respond
from api.writes import write_view
from contracts.terms import sale_terms
from ledger import chart, clock
from ledger.errors import InvalidRequest
from ledger.money import format_amount
from reports.tabular import Col, Report, Section
from stock import movements, queries, refdata
from stock.commands import (
    Count,
    CountLineIn,
    MoveLineIn,
    NewMedicine,
    NewPharmacy,
    NewSupplier,
    ReceiptLineIn,
    Receive,
    Transfer,
    WriteOff,
)
from stock.errors import ReferenceNotFound
from stock.tables import Medicine, Pharmacy, Supplier

blp = Blueprint(
    "stock",
    __name__,
    url_prefix="/api/v1",
    description="Medicines, suppliers, pharmacies and stock (finance writes)",
)

FINANCE = ("finance",)
BOOKS_READ = ("finance", "auditor")


def _page(table: Any, args: dict[str, Any], only: str | None = None) -> dict[str, Any]:
    rows, last = refdata.list_reference(
        db_session(),
        table,
        after=decode_cursor(args["cursor"]),
        limit=args["limit"],
        only=only,
    )
    return {"items": rows, "next_cursor": encode_cursor(last) if last else None}


# --------------------------------------------------------------------------- reference data


@blp.route("/medicines")
class Medicines(MethodView):
    @access(*FINANCE)
    @blp.arguments(StockMedicineIn)
    @blp.response(201, StockMedicineOut)
    @write_view(StockMedicineOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a medicine (also a commodity counted in its base unit)."""
        return refdata.create_medicine(db_session(), NewMedicine(**data))

    @access(*BOOKS_READ, pharmacist="own")
    @blp.arguments(PagingArgs, location="query")
    @blp.response(200, StockMedicinePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Medicines in code order (paginated)."""
        return _page(Medicine, args)


@blp.route("/medicines/<string:code>")
class MedicineOne(MethodView):
    @access(*BOOKS_READ, pharmacist="own")
    @blp.response(200, StockMedicineOut)
    def get(self, code: str) -> Any:
        """One medicine."""
        return refdata.get_reference(db_session(), Medicine, code)


@blp.route("/suppliers")
class Suppliers(MethodView):
    @access(*FINANCE)
    @blp.arguments(StockSupplierIn)
    @blp.response(201, StockSupplierOut)
    @write_view(StockSupplierOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a supplier and its account 2000-{code}."""
        return refdata.create_supplier(db_session(), NewSupplier(**data))

    @access(*BOOKS_READ)
    @blp.arguments(PagingArgs, location="query")
    @blp.response(200, StockSupplierPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Suppliers in code order (paginated)."""
        return _page(Supplier, args)


@blp.route("/suppliers/<string:code>")
class SupplierOne(MethodView):
    @access(*BOOKS_READ)
    @blp.response(200, StockSupplierOut)
    def get(self, code: str) -> Any:
        """One supplier."""
        return refdata.get_reference(db_session(), Supplier, code)


@blp.route("/pharmacies")
class Pharmacies(MethodView):
    @access(*FINANCE)
    @blp.arguments(StockPharmacyIn)
    @blp.response(201, StockPharmacyOut)
    @write_view(StockPharmacyOut)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a pharmacy and its accounts 1200-, 1400- and 2100-{code}."""
        return refdata.create_pharmacy(db_session(), NewPharmacy(**data))

    @access(*BOOKS_READ, pharmacist="own")
    @blp.arguments(PagingArgs, location="query")
    @blp.response(200, StockPharmacyPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Pharmacies in code order (a pharmacist sees its own only)."""
        return _page(Pharmacy, args, only=visible_pharmacy())


@blp.route("/pharmacies/<string:code>")
class PharmacyOne(MethodView):
    @access(*BOOKS_READ, pharmacist="own")
    @blp.response(200, StockPharmacyOut)
    def get(self, code: str) -> Any:
        """One pharmacy (a pharmacist: its own only)."""
        own = visible_pharmacy()
        if own is not None and own != code:
            raise ReferenceNotFound(f"no pharmacy {code!r}")
        return refdata.get_reference(db_session(), Pharmacy, code)


# --------------------------------------------------------------------------- movements


def _taken_lines(result: movements.MoveResult) -> list[dict[str, Any]]:
    exp = result.exponent
    return [
        {
            "medicine": line.medicine,
            "quantity": line.quantity,
            "lot": line.lots[0].lot_code if len(line.lots) == 1 else None,
            "value": format_amount(line.value, exp),
            "lots": [
                {
                    "lot": t.lot_code,
                    "expiry": t.expiry_on,
                    "quantity": t.quantity,
                    "value": format_amount(t.value, exp),
                }
                for t in line.lots
            ],
        }
        for line in result.lines
    ]


@blp.route("/stock/receipts")
class Receipts(MethodView):
    @access(*FINANCE)
    @blp.arguments(StockReceiptIn)
    @blp.response(201, StockReceiptOut)
    @write_view(StockReceiptOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Receive lots from a supplier (or a donor) into a place (units and cost, per lot);
        a receipt invoiced in the other currency values its lots in the functional currency."""
        funding = data.get("funding") or {"kind": "purchased", "donor": None}
        cmd = Receive(
            supplier=data["supplier"],
            location=data["location"],
            on=data["date"],
            lines=tuple(ReceiptLineIn(**line) for line in data["lines"]),
            memo=data["memo"],
            currency=data["currency"],
            rate=data["rate"],
            funding=funding["kind"],
            donor=funding["donor"],
        )
        r = movements.receive(db_session(), cmd, by=principal().name)
        if r.funding == "donated":
            return donated_receipt_body(r)
        out: dict[str, Any] = {
            "id": str(r.id),
            "entry_id": str(r.entry_id),
            "supplier": r.supplier,
            "location": r.location,
            "date": r.on,
            "accounting_date": r.accounting_date,
            "currency": r.currency,
            "total_cost": format_amount(r.total_cost, r.exponent),
            "lines": [
                {
                    "medicine": line.medicine,
                    "lot": line.lot,
                    "expiry": line.expiry_on,
                    "quantity": line.quantity,
                    "total_cost": format_amount(line.cost, r.exponent),
                }
                for line in r.lines
            ],
        }
        if r.rate is not None and r.value_currency is not None:
            vexp = chart.exponent(r.value_currency)
            for shown, line in zip(out["lines"], r.lines, strict=True):
                shown["value"] = format_amount(
                    line.cost if line.value is None else line.value, vexp
                )
            out |= {
                "rate": r.rate.rate.text,
                "rate_date": r.rate.rate_date,
                "value_currency": r.value_currency,
                "total_value": format_amount(r.total_value, vexp),
            }
        return out


@blp.route("/stock/transfers")
class Transfers(MethodView):
    @access(*FINANCE)
    @blp.arguments(StockTransferIn)
    @blp.response(201, StockTransferOut)
    @write_view(StockTransferOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Move stock between places, lots first-expiry-first-out unless named; 409 if short."""
        s = db_session()
        cmd = Transfer(
            from_location=data["from_"],
            to_location=data["to"],
            on=data["date"],
            lines=tuple(MoveLineIn(**line) for line in data["lines"]),
            memo=data["memo"],
        )
        sale = sale_terms(s, cmd.to_location, cmd.on, [line.medicine for line in cmd.lines])
        r = movements.transfer(s, cmd, by=principal().name, sale=sale)
        return {
            "id": str(r.id),
            "entry_id": str(r.entry_id),
            "from_": r.location,
            "to": r.to_location,
            "date": r.on,
            "accounting_date": r.accounting_date,
            "currency": r.currency,
            "lines": _taken_lines(r),
        }


@blp.route("/stock/write-offs")
class WriteOffs(MethodView):
    @access(*FINANCE)
    @blp.arguments(StockWriteOffIn)
    @blp.response(201, StockWriteOffOut)
    @write_view(StockWriteOffOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Write named lots off (expired, damaged, lost): units and value to 5200."""
        cmd = WriteOff(
            location=data["location"],
            on=data["date"],
            reason=data["reason"],
            lines=tuple(MoveLineIn(**line) for line in data["lines"]),
            memo=data["memo"],
        )
        r = movements.write_off(db_session(), cmd, by=principal().name)
        return {
            "id": str(r.id),
            "entry_id": str(r.entry_id),
            "location": r.location,
            "date": r.on,
            "accounting_date": r.accounting_date,
            "reason": r.reason,
            "currency": r.currency,
            "lines": _taken_lines(r),
        }


@blp.route("/stock/counts")
class Counts(MethodView):
    @access(*FINANCE)
    @blp.arguments(StockCountIn)
    @blp.response(201, StockCountOut)
    @write_view(StockCountOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Post a physical count per lot; differences go to 5400 (both ways)."""
        cmd = Count(
            location=data["location"],
            on=data["date"],
            lines=tuple(CountLineIn(**line) for line in data["lines"]),
            memo=data["memo"],
        )
        r = movements.count(db_session(), cmd, by=principal().name)
        lines = [
            {
                "medicine": c.medicine,
                "lot": c.lot,
                "expiry": c.expiry_on,
                "book": c.book,
                "counted": c.counted,
                "difference": c.difference,
                "value": format_amount(c.value, r.exponent),
            }
            for c in r.lines
        ]
        return {
            "id": str(r.id),
            "entry_id": str(r.entry_id) if r.entry_id is not None else None,
            "location": r.location,
            "date": r.on,
            "accounting_date": r.accounting_date,
            "currency": r.currency,
            "lines": lines,
            "differences": [line for line in lines if line["difference"] != 0],
        }


# --------------------------------------------------------------------------- reading


def _location_filter(location: str | None) -> str | None:
    """A pharmacist sees its own pharmacy's stock only (another place does not exist)."""
    own = visible_pharmacy()
    if own is None:
        return location
    if location is not None and location != own:
        raise ReferenceNotFound(f"no location {location!r}")
    return own


def _row(r: queries.OnHandRow, exp: int, currency: str) -> dict[str, Any]:
    return {
        "location": r.location,
        "medicine": r.medicine,
        "lot": r.lot,
        "expiry": r.expiry_on,
        "quantity": r.quantity,
        "value": format_amount(r.value, exp),
        "currency": currency,
    }


@blp.route("/stock/on-hand")
class OnHand(MethodView):
    @access(*BOOKS_READ, pharmacist="own")
    @blp.arguments(StockOnHandArgs, location="query")
    @blp.response(200, StockOnHandOut(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Stock per place and lot from the books (as of a date if given)."""
        s = db_session()
        rows = queries.on_hand(
            s,
            location=_location_filter(args["location"]),
            medicine=args["medicine"],
            as_of=args["as_of"],
        )
        cur = fund_currency()
        exp = refdata.fund_exponent(s, cur)
        out = [_row(r, exp, cur) for r in rows]
        return respond(  # type: ignore[no-any-return]
            lambda: Report(
                "Stock on hand",
                [
                    Section(
                        "On hand",
                        [
                            Col("location"),
                            Col("medicine"),
                            Col("lot"),
                            Col("expiry", "date"),
                            Col("quantity", "quantity"),
                            Col("value", "money", exponent=exp),
                        ],
                        [
                            [
                                r["location"],
                                r["medicine"],
                                r["lot"],
                                r["expiry"],
                                r["quantity"],
                                r["value"],
                            ]
                            for r in out
                        ],
                    )
                ],
            ),
            out,
            filename="stock-on-hand",
        )


@blp.route("/stock/expiring")
class Expiring(MethodView):
    @access(*BOOKS_READ, pharmacist="own")
    @blp.arguments(StockExpiringArgs, location="query")
    @blp.response(200, StockExpiringOut(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Lots on hand expiring within N days of today (expired ones too), per place."""
        s = db_session()
        today = clock.today()
        rows = queries.expiring(
            s,
            within_days=args["within_days"],
            today=today,
            location=_location_filter(args["location"]),
        )
        cur = fund_currency()
        exp = refdata.fund_exponent(s, cur)
        return [dict(_row(r, exp, cur), days_left=(r.expiry_on - today).days) for r in rows]


@blp.route("/stock/movements")
class Movements(MethodView):
    @access(*BOOKS_READ, pharmacist="own")
    @blp.arguments(StockMovementArgs, location="query")
    @blp.response(200, StockCardOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """A stock card: opening, each movement with running quantity and value, closing."""
        s = db_session()
        location = _location_filter(args["location"])
        if location is None:
            raise InvalidRequest(
                "name the location of the stock card",
                errors={"location": ["required (CENTRAL or a pharmacy code)"]},
            )
        today = clock.today()
        start = args["from_"] or date(today.year, today.month, 1)
        end = args["to"] or today
        if end < start:
            raise InvalidRequest(
                "'to' is before 'from'", errors={"to": ["must not be before from"]}
            )
        cur = decode_cursor(args["cursor"])
        after = running = None
        if cur:
            try:
                after = (str(cur[0]), int(cur[1]), int(cur[2]))
                running = (int(cur[3]), int(cur[4]))
            except (TypeError, ValueError, IndexError) as exc:
                raise InvalidRequest(
                    "the cursor is not one this service gave out",
                    errors={"cursor": ["invalid cursor"]},
                ) from exc
        card = queries.stock_card(
            s,
            location=location,
            medicine=args["medicine"],
            start=start,
            end=end,
            after=after,
            running=running,
            limit=args["limit"],
        )
        exp = refdata.fund_exponent(s, fund_currency())
        fmt = lambda v: format_amount(v, exp)  # noqa: E731
        last = card.lines[-1] if card.lines else None
        next_cursor = None
        if card.more and last is not None:
            next_cursor = encode_cursor(
                [
                    last.accounting_date.isoformat(),
                    last.entry_id,
                    last.lot_id,
                    last.running_quantity,
                    last.running_value,
                ]
            )
        return {
            "location": card.location,
            "medicine": card.medicine,
            "currency": fund_currency(),
            "from_": card.start,
            "to": card.end,
            "opening": {"quantity": card.opening_quantity, "value": fmt(card.opening_value)},
            "closing": {"quantity": card.closing_quantity, "value": fmt(card.closing_value)},
            "items": [
                {
                    "date": line.accounting_date,
                    "service_date": line.service_date,
                    "entry_id": str(line.entry_id),
                    "source": line.source,
                    "memo": line.memo,
                    "lot": line.lot,
                    "quantity": line.quantity,
                    "value": fmt(line.value),
                    "balance_quantity": line.running_quantity,
                    "balance_value": fmt(line.running_value),
                }
                for line in card.lines
            ],
            "next_cursor": next_cursor,
        }
