"""HTTP layer of the ledger: accounts, balances, statements, journal entries, trial
balance, periods. Handlers parse, authorise, call and serialise; nothing more."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access import access, principal, public
from api.cursors import decode_cursor, encode_cursor
from api.schemas.common import (
    AccountPage,
    AsOfArgs,
    BalanceOut,
    CloseIn,
    JournalEntryIn,
    JournalEntryOut,
    PagingArgs,
    PeriodOut,
    PeriodPage,
    ReverseIn,
    StatementArgs,
    StatementOut,
    TrialBalanceArgs,
    TrialBalanceOut,
)
from api.session import close_checks, database, db_session
from api.tabular import respond, wants_json
from api.writes import run_write, write_view
from ledger.errors import InvalidRequest
from ledger.journal import entry_view, get_entry, manual_entry, reverse_entry
from ledger.money import format_amount
from ledger.periods import close_period, list_periods, parse_period
from ledger.posting import PostedEntry
from ledger.queries import (
    StatementLine,
    account_codes,
    balances,
    exponents,
    get_account,
)
from ledger.sealing import on_month_closed, seal_pending
from ledger.tables import Account, Lot
from reports import converted
from reports.account_statement import (
    account_statement,
    every_statement_line,
    statement_page,
    statement_report,
)
from reports.trial_balance import trial_balance_figures, trial_balance_report

blp = Blueprint("ledger", __name__, url_prefix="/api/v1", description="The journal")
health = Blueprint("health", __name__, description="Liveness")

BOOKS_READ = ("finance", "auditor")
FINANCE = ("finance",)


@health.route("/healthz")
class Health(MethodView):
    @public
    @health.response(200)
    def get(self) -> Response:
        """Liveness and database reachability (no token needed)."""
        s = db_session()
        try:
            s.execute(select(1))
            db = "ok"
        except Exception:  # noqa: BLE001 - any failure means the database is not ok
            db = "unreachable"
        resp = jsonify({"status": "ok" if db == "ok" else "degraded", "database": db})
        resp.status_code = 200 if db == "ok" else 503
        return resp


def entry_json(entry_id: int) -> dict[str, Any]:
    s = db_session()
    view = entry_view(s, entry_id)
    exps = exponents(s)
    e = view.entry
    kind, _, ident = (e.source or "").partition(":")
    return {
        "id": str(e.id),
        "service_date": e.service_date,
        "accounting_date": e.accounting_date,
        "memo": e.memo,
        "source": e.source,
        "source_document": {"kind": kind, "id": ident} if ident else None,
        "reverses": str(e.reverses_id) if e.reverses_id else None,
        "reversed_by": [str(i) for i in view.reversed_by],
        "created_at": e.created_at.isoformat(),
        "created_by": e.created_by,
        "seal": e.seal,
        "postings": [
            {
                "account": p.account_code,
                "commodity": p.commodity,
                "lot": lot,
                "amount": format_amount(p.amount, exps[p.commodity]),
            }
            for p, lot in view.postings
        ],
    }


@blp.route("/accounts")
class Accounts(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(PagingArgs, location="query")
    @blp.response(200, AccountPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The chart of accounts with its sub-accounts."""
        s = db_session()
        after = decode_cursor(args["cursor"])
        q = select(Account).order_by(Account.code).limit(args["limit"] + 1)
        if after:
            q = q.where(Account.code > str(after))
        rows = list(s.scalars(q))
        more = len(rows) > args["limit"]
        rows = rows[: args["limit"]]
        return {"items": rows, "next_cursor": encode_cursor(rows[-1].code) if more else None}


@blp.route("/accounts/<string:code>/balance")
class AccountBalance(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, BalanceOut)
    def get(self, args: dict[str, Any], code: str) -> dict[str, Any]:
        """Balance per commodity and lot, from kept balances (as of a date if given)."""
        s = db_session()
        acc = get_account(s, code)
        exps = exponents(s)
        lines = balances(s, account_codes(s, acc), args["as_of"])
        meds = dict(
            s.execute(
                select(Lot.id, Lot.commodity).where(
                    Lot.id.in_([b.lot_id for b in lines if b.lot_id])
                )
            ).all()
        )
        return {
            "account": acc.code,
            "as_of": args["as_of"],
            "balances": [
                {
                    "commodity": b.commodity,
                    "lot": b.lot,
                    "medicine": meds.get(b.lot_id) if b.lot_id else None,
                    "amount": format_amount(b.amount, exps[b.commodity]),
                }
                for b in lines
            ],
        }


@blp.route("/accounts/<string:code>/statement")
class AccountStatement(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(StatementArgs, location="query")
    @blp.response(200, StatementOut)
    def get(self, args: dict[str, Any], code: str) -> Any:
        """Opening balance, postings with running balance, closing balance (paginated;
        CSV/XLSX by Accept or ?format=: all lines, no pagination)."""
        if wants_json():
            return statement_json(db_session(), code, args)
        out = statement_json(db_session(), code, args, paged=False)
        return respond(lambda: statement_report(out), out, filename=f"statement-{code}")


def _statement_cursor(cur: Any) -> bool:
    """True when ``cur`` has the shape of a statement cursor: [date, posting id, running]."""
    if not (isinstance(cur, list) and len(cur) == 3 and isinstance(cur[0], str)):
        return False
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in cur[1:]):
        return False
    try:
        date.fromisoformat(cur[0])
    except ValueError:
        return False
    return True


def statement_json(
    s: Session, code: str, args: dict[str, Any], *, paged: bool = True
) -> dict[str, Any]:
    """The account statement answer (:func:`reports.account_statement.account_statement`).
    ``paged=False``: ``items`` is an iterator over every line of the range (read a page at a
    time), ``next_cursor`` is None."""
    st = account_statement(
        s, code, commodity=args.get("commodity"), start=args.get("from_"), end=args.get("to")
    )
    fmt = lambda v: format_amount(v, st.exponent)  # noqa: E731

    def item(r: StatementLine) -> dict[str, Any]:
        return {
            "date": r.accounting_date,
            "service_date": r.service_date,
            "entry_id": str(r.entry_id),
            "memo": r.memo,
            "source": r.source,
            "lot": r.lot,
            "amount": fmt(r.amount),
            "debit": fmt(max(r.amount, 0)),
            "credit": fmt(max(-r.amount, 0)),
            "balance": fmt(r.running),
        }

    items: Any
    next_cursor = None
    if paged:
        limit = args.get("limit", 100)
        cur = decode_cursor(args.get("cursor"))
        if cur and not _statement_cursor(cur):  # a cursor signed for another list
            raise InvalidRequest(
                "the cursor is not one this statement gave out",
                errors={"cursor": ["invalid cursor"]},
            )
        after, running = (None, None) if not cur else ((cur[0], cur[1]), int(cur[2]))
        rows = statement_page(s, st, after=after, running=running, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        if more:
            next_cursor = encode_cursor(
                [rows[-1].accounting_date.isoformat(), rows[-1].posting_id, rows[-1].running]
            )
        items = [item(r) for r in rows]
    else:
        items = (item(r) for r in every_statement_line(s, st))
    return {
        "account": st.account,
        "name": st.name,
        "commodity": st.commodity,
        "from_": st.start,
        "to": st.end,
        "opening": fmt(st.opening),
        "closing": fmt(st.closing),
        "total_debit": fmt(st.total_debit),
        "total_credit": fmt(st.total_credit),
        "items": items,
        "next_cursor": next_cursor,
    }


def _posted(entry: PostedEntry) -> dict[str, Any]:
    return entry_json(entry.id)


@blp.route("/journal-entries")
class JournalEntries(MethodView):
    @access(*FINANCE)
    @blp.arguments(JournalEntryIn)
    @blp.response(201, JournalEntryOut)
    @write_view(JournalEntryOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Post a manual entry; 422 if it does not balance per commodity."""
        return _posted(manual_entry(db_session(), data, by=principal().name))


@blp.route("/journal-entries/<string:entry_id>")
class JournalEntry(MethodView):
    @access(*BOOKS_READ)
    @blp.response(200, JournalEntryOut)
    def get(self, entry_id: str) -> dict[str, Any]:
        """An entry, its postings and its source document."""
        return entry_json(get_entry(db_session(), entry_id).id)


@blp.route("/journal-entries/<string:entry_id>/reverse")
class ReverseEntry(MethodView):
    @access(*FINANCE)
    @blp.arguments(ReverseIn)
    @blp.response(201, JournalEntryOut)
    @write_view(JournalEntryOut)
    def post(self, data: dict[str, Any], entry_id: str) -> dict[str, Any]:
        """Post the entry that reverses this one exactly."""
        posted = reverse_entry(
            db_session(), entry_id, on=data["date"], memo=data["memo"], by=principal().name
        )
        return _posted(posted)


@blp.route("/reports/trial-balance")
class TrialBalance(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(TrialBalanceArgs, location="query")
    @blp.response(200, TrialBalanceOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Per account and commodity: debit, credit; totals per commodity are equal
        (also CSV/XLSX by Accept or ?format=)."""
        out = trial_balance_any(args)
        return respond(lambda: trial_balance_report(out), out, filename="trial-balance")


def trial_balance_any(args: dict[str, Any]) -> dict[str, Any]:
    """The trial balance as asked: per commodity, or converted into one currency (``in``)."""
    if args.get("in_") is None:
        return trial_balance_json(args["as_of"], args["commodity"])
    if args["commodity"] is not None:
        raise InvalidRequest(
            "ask for one commodity or for the books converted into one currency, not both",
            errors={"in": ["not with commodity"]},
        )
    return converted.trial_balance_in(db_session(), args["as_of"], args["in_"])


def trial_balance_json(as_of: date | None, commodity: str | None) -> dict[str, Any]:
    """The trial balance answer (:func:`reports.trial_balance.trial_balance_figures`)."""
    tb = trial_balance_figures(db_session(), as_of, commodity)
    exps = tb.exponents
    out: dict[str, Any] = {
        "as_of": as_of,
        "commodity": commodity,
        "rows": [
            {
                "account": r.account,
                "name": r.name,
                "type": r.type,
                "commodity": r.commodity,
                "debit": format_amount(r.debit, exps[r.commodity]),
                "credit": format_amount(r.credit, exps[r.commodity]),
            }
            for r in tb.rows
        ],
        "totals": [
            {
                "commodity": c,
                "debit": format_amount(d, exps[c]),
                "credit": format_amount(cr, exps[c]),
            }
            for c, (d, cr) in tb.totals.items()
        ],
        "balanced": tb.balanced,
        "total_debit": None,
        "total_credit": None,
    }
    if commodity is not None:
        d, cr = tb.totals.get(commodity, (0, 0))
        out["total_debit"] = format_amount(d, exps[commodity])
        out["total_credit"] = format_amount(cr, exps[commodity])
    return out


@blp.route("/periods")
class Periods(MethodView):
    @access(*BOOKS_READ)
    @blp.arguments(PagingArgs, location="query")
    @blp.response(200, PeriodPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Months from the first entry's month on, with their status."""
        items = list_periods(db_session())
        after = decode_cursor(args["cursor"])
        if after:
            items = [p for p in items if p.period > str(after)]
        page = items[: args["limit"]]
        more = len(items) > args["limit"]
        return {
            "items": [p.__dict__ for p in page],
            "next_cursor": encode_cursor(page[-1].period) if more else None,
        }


@blp.route("/periods/<string:period>/close")
class ClosePeriod(MethodView):
    @access(*FINANCE)
    @blp.arguments(CloseIn)
    @blp.response(200, PeriodOut)
    def post(self, data: dict[str, Any], period: str) -> Response:
        """Close a month: 409 if an earlier month is open or its checks fail."""
        parse_period(period)
        db_session().rollback()
        seal_pending(database().sessionmaker, blocking=True)

        def work() -> dict[str, Any]:
            s = db_session()
            row = close_period(
                s,
                period,
                by=principal().name,
                force=data["force"],
                reason=data["reason"],
                on_closed=on_month_closed,
                checks=close_checks(),
            )
            view = next(p for p in list_periods(s) if p.period == row.period)
            return view.__dict__

        return run_write(work, PeriodOut().dump, status=200)
