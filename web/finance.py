"""The finance desk: the fund at a glance, stock movements, settlements and claims, the
bank and its reconciliation, the month close. Figures come from the same report functions
as the API (``reports.fund``, ``invoices.reconciliation``); every write goes through the
JSON API (``web/static/apiform.js`` posts the forms with the session and the CSRF header),
so the same validation and the same problem texts hold."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from flask_babel import gettext as _
from sqlalchemy import select

from api.access import access
from api.session import close_checks, db_session
from contracts.tables import SubsidyScheme
from invoices import reconciliation as rec
from invoices.payments import KINDS
from invoices.settlement_tables import Settlement, SubsidyClaim
from ledger import chart, clock
from ledger.errors import RdfError
from ledger.money import format_amount
from ledger.periods import list_periods, unbalanced_entries
from ledger.queries import balance_of, exponents
from ledger.settings import functional_currency
from reports.fund import aged_balances, balance_sheet, fund_health
from reports.statements import cost_recovery_by_month
from stock.lots import take_stock
from stock.tables import Medicine, Pharmacy, Supplier
from web.charts import SVG_CSP, bar_chart, line_chart, stacked_bar_chart
from web.desk import bounds, chosen_month, last_month, months_back, paginate
from web.views import _page

bp = Blueprint("finance", __name__, url_prefix="/app")

#: Who reads the fund at a glance; who writes (admin always may).
READ = ("finance", "auditor")
WRITE = ("finance",)
LINES = 3
CHART_MONTHS = 12


# --------------------------------------------------------------------------- the month


def fund_at_a_glance(month: str) -> dict[str, Any]:
    """The month's figures, each as the API answers it for the same query:
    ``GET /reports/fund-health?from=<first day>&to=<last day>``,
    ``GET /reports/balance-sheet?as_of=<last day>``, ``GET /reports/aged-balances?as_of=``."""
    s = db_session()
    start, end = bounds(month)
    health = fund_health(s, start, end)
    sheet = balance_sheet(s, end)
    aged = aged_balances(s, end)
    cash = []
    stock = []
    for cur in sheet["currencies"]:
        for line in cur["assets"]:
            if line["account"] == chart.BANK_OF_CURRENCY.get(cur["currency"]):
                cash.append({"currency": cur["currency"], "amount": line["amount"]})
            elif chart.header_of(line["account"]) == chart.INVENTORY:
                stock.append(
                    {
                        "location": chart.party_of(line["account"]),
                        "currency": cur["currency"],
                        "amount": line["amount"],
                    }
                )
    return {
        "month": month,
        "from": start,
        "to": end,
        "health": health,
        "cash": cash,
        "stock": stock,
        "receivables": aged["items"],
        "buckets": aged["buckets"],
    }


def _percent(ratio: str | None) -> str:
    return "—" if ratio is None else f"{float(ratio) * 100:.1f} %"


def ageing_series(data: dict[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """The receivables-ageing chart's figures: a bar per counterparty owing in the fund
    currency, a segment per age bucket, each the API's amount (``GET
    /reports/aged-balances?as_of=<last day>``) as it writes it."""
    rows = [r for r in data["receivables"] if r["currency"] == chart.FUND_CURRENCY]
    series = {
        _("%(bucket)s days", bucket=b.replace("_", "-")): [r[b] for r in rows]
        for b in data["buckets"]
    }
    return [r["counterparty"] for r in rows], series


def cash_by_month(months: list[str]) -> dict[str, list[int]]:
    """Each bank account's book balance at the end of each month (minor units)."""
    s = db_session()
    out: dict[str, list[int]] = {}
    for cur, code in sorted(chart.BANK_OF_CURRENCY.items()):
        out[cur] = [balance_of(s, [code], cur, bounds(m)[1]) for m in months]
    return out


@bp.route("/finance")
@access(*READ, page=True)
def fund() -> str:
    month = chosen_month()
    data = fund_at_a_glance(month)
    months = months_back(month, CHART_MONTHS)
    s = db_session()
    first, last = bounds(months[0])[0], bounds(months[-1])[1]
    recovery = [
        (m, None if v is None else float(v)) for m, v in cost_recovery_by_month(s, first, last)
    ]
    exps = exponents(s)
    cash = {
        cur: [format_amount(v, exps[cur]) for v in values]
        for cur, values in cash_by_month(months).items()
    }
    ratios = data["health"]["ratios"]
    return _page(
        "finance/fund.html",
        month=month,
        d=data,
        ratios={k: _percent(v) for k, v in ratios.items()},
        recovery=[(m, "—" if v is None else f"{v:.1f} %") for m, v in recovery],
        cash_months=list(zip(months, *cash.values(), strict=True)),
        cash_currencies=list(cash),
    )


@bp.route("/finance/charts/<string:name>.svg")
@access(*READ, page=True)
def chart_svg(name: str) -> Response:
    """A chart of the fund page as SVG (its figures are a table on the page)."""
    month = chosen_month()
    s = db_session()
    months = months_back(month, CHART_MONTHS)
    if name == "cost-recovery":
        first, last = bounds(months[0])[0], bounds(months[-1])[1]
        values = [
            None if v is None else round(float(v), 1)
            for _m, v in cost_recovery_by_month(s, first, last)
        ]
        svg = line_chart(_("Cost recovery (%)"), months, {_("Cost recovery"): values})
    elif name == "cash":
        exps = exponents(s)
        series = {
            cur: [v / 10 ** exps[cur] for v in values]
            for cur, values in cash_by_month(months).items()
        }
        svg = line_chart(_("Cash at the end of each month"), months, series)
    elif name == "stock":
        data = fund_at_a_glance(month)
        fund = functional_currency(s)
        rows = [r for r in data["stock"] if r["currency"] == fund]
        svg = bar_chart(
            _("Stock value by location (%(currency)s)", currency=fund),
            [r["location"] for r in rows],
            [float(r["amount"]) for r in rows],
            _("Stock value"),
        )
    elif name == "ageing":
        labels, series = ageing_series(fund_at_a_glance(month))
        svg = stacked_bar_chart(
            _("Receivables by age (%(currency)s)", currency=chart.FUND_CURRENCY),
            labels,
            series,
        )
    else:
        abort(404)
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = SVG_CSP
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


# --------------------------------------------------------------------------- stock


def _places() -> list[str]:
    codes = list(db_session().scalars(select(Pharmacy.code).order_by(Pharmacy.code)))
    return [chart.CENTRAL, *codes]


def _asked_lines() -> list[dict[str, str]]:
    """The transfer's lines as the preview form sent them (``lines.N.medicine`` ...)."""
    out = []
    for i in range(LINES):
        out.append(
            {
                f: request.values.get(f"lines.{i}.{f}", "").strip()[:40]
                for f in ("medicine", "quantity", "lot")
            }
        )
    return out


def fefo_preview(
    location: str, lines: list[dict[str, str]], on: date
) -> tuple[list[dict[str, Any]], str | None]:
    """The lots a transfer would take (first expiry first out), by ``stock.lots.take_stock``
    as the transfer itself picks them; nothing is written (the session is rolled back)."""
    s = db_session()
    pending: dict[int, tuple[int, int]] = {}
    out: list[dict[str, Any]] = []
    exp = exponents(s)[functional_currency(s)]
    try:
        for line in lines:
            if not line["medicine"] or not line["quantity"]:
                continue
            try:
                quantity = int(line["quantity"])
            except ValueError:
                return out, _("The quantity must be a whole number.")
            takes = take_stock(
                s,
                location=location,
                medicine=line["medicine"],
                quantity=quantity,
                on=on,
                lot_code=line["lot"] or None,
                pending=pending,
            )
            for t in takes:
                out.append(
                    {
                        "medicine": line["medicine"],
                        "lot": t.lot_code,
                        "expiry": t.expiry_on.isoformat(),
                        "quantity": t.quantity,
                        "value": format_amount(t.value, exp),
                    }
                )
    except RdfError as exc:
        return out, exc.detail
    finally:
        s.rollback()
    return out, None


@bp.route("/finance/stock")
@access(*WRITE, page=True)
def stock() -> str:
    s = db_session()
    today = clock.today()
    preview: list[dict[str, Any]] | None = None
    problem = None
    asked = _asked_lines()
    source = request.values.get("from", "")
    if request.values.get("preview") and source:
        preview, problem = fefo_preview(source, asked, today)
    return _page(
        "finance/stock.html",
        today=today.isoformat(),
        suppliers=list(s.scalars(select(Supplier).order_by(Supplier.code))),
        places=_places(),
        medicines=list(s.scalars(select(Medicine).order_by(Medicine.code))),
        lines=LINES,
        asked=asked,
        source=source,
        target=request.values.get("to", ""),
        preview=preview,
        problem=problem,
    )


# --------------------------------------------------------------------------- settlements


@bp.route("/finance/settlements")
@access(*WRITE, page=True)
def settlements() -> str:
    s = db_session()
    exps = exponents(s)
    rows = [
        {
            "id": r.id,
            "pharmacy": r.pharmacy,
            "period": r.period,
            "status": r.status,
            "currency": r.currency,
            "net_due": format_amount(r.net_due, exps[r.currency]),
        }
        for r in s.scalars(select(Settlement).order_by(Settlement.id.desc()))
    ]
    claims = [
        {
            "id": c.id,
            "scheme": c.scheme,
            "period": c.period,
            "currency": c.currency,
            "total": format_amount(c.total, exps[c.currency]),
        }
        for c in s.scalars(select(SubsidyClaim).order_by(SubsidyClaim.id.desc()))
    ]
    return _page(
        "finance/settlements.html",
        month=chosen_month(last_month()),
        pharmacies=list(s.scalars(select(Pharmacy.code).order_by(Pharmacy.code))),
        schemes=list(s.scalars(select(SubsidyScheme.code).order_by(SubsidyScheme.code))),
        settlements=paginate(rows, "settlements_page"),
        claims=paginate(claims, "claims_page"),
    )


# --------------------------------------------------------------------------- bank


@bp.route("/finance/bank")
@access(*WRITE, page=True)
def bank() -> str:
    s = db_session()
    month = chosen_month(last_month())
    out = rec.reconciliation(s, month)
    s.rollback()
    line_id = request.args.get("line")
    from_line = next((ln for ln in out["unmatched_bank_lines"] if ln["id"] == line_id), None)
    counterparties = {
        "pharmacy": list(s.scalars(select(Pharmacy.code).order_by(Pharmacy.code))),
        "scheme": list(s.scalars(select(SubsidyScheme.code).order_by(SubsidyScheme.code))),
        "supplier": list(s.scalars(select(Supplier.code).order_by(Supplier.code))),
    }
    return _page(
        "finance/bank.html",
        month=month,
        r=out,
        matched=paginate(out["matched"], "matched_page"),
        lines=paginate(out["unmatched_bank_lines"], "lines_page"),
        payments=paginate(out["unmatched_payments"], "payments_page"),
        open_payments=out["unmatched_payments"],
        from_line=from_line,
        kinds=KINDS,
        counterparties=counterparties,
    )


# --------------------------------------------------------------------------- close


def checklist(month: str) -> list[dict[str, Any]]:
    """What ``POST /periods/{month}/close`` checks, each with its state, read without
    closing: earlier months closed, the month over, every entry balanced, then the
    close checks of the app (settlements ...)."""
    s = db_session()
    start, end = bounds(month)
    periods = list_periods(s)
    earlier_open = [p.period for p in periods if p.period < month and p.status != "closed"]
    status = next((p.status for p in periods if p.period == month), "open")
    items: list[dict[str, Any]] = [
        {
            "name": _("The months before are closed"),
            "ok": not earlier_open,
            "problems": earlier_open,
            "todo": _("Close %(months)s first.", months=", ".join(earlier_open)),
        },
        {
            "name": _("The month has ended"),
            "ok": clock.today() > end,
            "problems": [],
            "todo": _("Wait until %(day)s has passed.", day=end.isoformat()),
        },
    ]
    bad = unbalanced_entries(s, start, end)
    items.append(
        {
            "name": _("Every entry balances"),
            "ok": not bad,
            "problems": [str(b) for b in bad[:20]],
            "todo": _("Reverse and correct the entries named."),
        }
    )
    for check in close_checks():
        problems = list(check(s, month))
        items.append(
            {
                "name": _("Every pharmacy's month is settled"),
                "ok": not problems,
                "problems": problems,
                "todo": _("Settle these pharmacies on the Settlements page."),
            }
            if getattr(check, "__name__", "") == "unsettled_in_month"
            else {
                "name": getattr(check, "__name__", "check"),
                "ok": not problems,
                "problems": problems,
                "todo": "",
            }
        )
    out = rec.reconciliation(s, month)
    open_lines = len(out["unmatched_bank_lines"])
    items.append(
        {
            "name": _("The bank is reconciled (advice)"),
            "ok": open_lines == 0,
            "problems": [_("%(n)s bank lines unmatched", n=open_lines)] if open_lines else [],
            "todo": _("Match or explain them on the Bank page."),
        }
    )
    s.rollback()
    return [dict(item, status=status) for item in items]


@bp.route("/finance/close")
@access(*WRITE, page=True)
def close() -> str:
    s = db_session()
    periods = list_periods(s)
    first_open = next((p.period for p in periods if p.status != "closed"), last_month())
    month = chosen_month(first_open)
    status = next((p for p in periods if p.period == month), None)
    return _page(
        "finance/close.html",
        month=month,
        checks=checklist(month),
        period=status,
        periods=paginate(list(reversed(periods)), "periods_page"),
        fund=current_app.config["FUND_NAME"],
    )
