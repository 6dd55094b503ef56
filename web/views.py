"""The pages: sign-in, home, the pharmacist's day (dispense, today, one dispensing,
stock, statements, receipt) and the peer educator's visit list (care). Each view declares who may see it with ``api.access`` (the
API's policy); pages read through the domain packages' functions, and write only through
the JSON API (the page scripts call it with the session and the CSRF header)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
)
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from api.access import (
    SIGN_IN_PATH,
    access,
    principal,
    public,
    session_principal,
    sign_in,
    sign_out,
    visible_educator,
    visible_pharmacy,
)
from api.auth import (
    check_password,
    clear_sign_in_failures,
    record_sign_in_failure,
    sign_in_blocked,
)
from api.dispensing import dispensing_body, return_body
from api.session import db_session
from care.service import DEFAULT_GRACE_DAYS, Scope, overdue_refills
from contracts.patients import get_patient, scheme_on
from dispensing.reads import dispensings, get_dispensing, returns_of
from dispensing.subsidy import subsidy_used
from dispensing.tables import Dispensing
from ledger import clock
from ledger.errors import RdfError
from ledger.money import format_amount
from ledger.queries import exponents
from stock.queries import on_hand
from stock.tables import Medicine, Pharmacy

STATIC = Path(__file__).resolve().parent / "static"
#: Who sees the pharmacy's pages: finance and auditors (any pharmacy, chosen with
#: ``?pharmacy=``), a pharmacist its own; admin always.
READERS = ("finance", "auditor")
#: Who may record dispensings (the API's rule for ``POST /dispensings``).
DISPENSERS = ("finance",)
#: Who sees the visit list (the API's rule for ``GET /care/overdue-refills``): an educator
#: its own patients, a pharmacist its pharmacy's, finance and auditors everybody's.
CARE_READERS = ("finance", "auditor", "educator")
#: Everybody who may sign in to the pages.
SIGNED_IN = (*READERS, "educator")
EXPIRY_WARNING_DAYS = 90
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'; worker-src 'self'; manifest-src 'self'"
)

bp = Blueprint(
    "web",
    __name__,
    url_prefix="/app",
    static_folder="static",
    static_url_path="/static",
    template_folder="templates",
)
root = Blueprint("web_root", __name__)


def security_headers(response: Response) -> Response:
    """``after_request``: the pages' Content-Security-Policy (no inline script)."""
    if request.path == "/" or request.path.startswith("/app"):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@root.route("/")
@public
def index() -> BaseResponse:
    return redirect("/app")


# --------------------------------------------------------------------------- helpers


def _page_pharmacy() -> str | None:
    """The pharmacy a page shows: the pharmacist's own; for others ``?pharmacy=`` (else
    the first pharmacy)."""
    own = visible_pharmacy()
    if own is not None:
        return own
    codes = list(db_session().scalars(select(Pharmacy.code).order_by(Pharmacy.code)))
    asked = request.args.get("pharmacy")
    if asked in codes:
        return asked
    return codes[0] if codes else None


def _amount(minor: int, currency: str) -> str:
    return format_amount(minor, exponents(db_session()).get(currency, 0))


def _nav() -> list[tuple[str, str]]:
    """The signed-in user's pages: (path, label)."""
    who = principal()
    links = [("/app", _("Home"))]
    if who.is_educator:
        return [*links, ("/app/care", _("Visit list"))]
    if who.role in ("pharmacist", "finance", "admin"):
        links.append(("/app/dispense", _("Dispense")))
    links += [
        ("/app/today", _("Today")),
        ("/app/stock", _("Stock")),
        ("/app/statements", _("Statements")),
        ("/app/care", _("Visit list")),
    ]
    if who.role in ("finance", "admin"):
        links += [
            ("/app/finance", _("Fund")),
            ("/app/finance/stock", _("Stock movements")),
            ("/app/finance/settlements", _("Settlements")),
            ("/app/finance/bank", _("Bank")),
            ("/app/finance/currency", _("Currencies")),
            ("/app/finance/close", _("Close")),
        ]
    elif who.role == "auditor":
        links.append(("/app/finance", _("Fund")))
    if who.role in ("finance", "auditor", "admin"):
        links += [("/app/audit", _("Audit")), ("/app/audit/downloads", _("Downloads"))]
    if who.role == "admin":
        links.append(("/app/admin/users", _("Users")))
    return links


def _page(template: str, **values: Any) -> str:
    who = principal()
    return render_template(template, who=who, nav=_nav(), **values)


def _safe_next(target: str | None) -> str:
    if not target:
        return "/app"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/app") or "\\" in target:
        return "/app"
    if parts.path.startswith(SIGN_IN_PATH):
        return "/app"
    return target


@bp.errorhandler(RdfError)
def _domain_error(exc: RdfError) -> tuple[str, int]:
    return render_template("error.html", status=exc.status, detail=exc.detail), exc.status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int] | HTTPException:
    if request.path.endswith(".js") or request.path.startswith("/app/static"):
        return exc
    status = exc.code or 500
    detail = _("The page could not be shown.")
    if status == 400:
        detail = _("The form was out of date. Go back, reload the page and try again.")
    elif status == 404:
        detail = _("There is no such page.")
    return render_template("error.html", status=status, detail=detail), status


# --------------------------------------------------------------------------- sign-in


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> BaseResponse | tuple[str, int]:
    failed = blocked = False
    target = _safe_next(request.values.get("next"))
    if request.method == "POST":
        current_app.extensions["csrf"].protect()
        name = request.form.get("username", "").strip()[:100]
        password = request.form.get("password", "")
        address = (request.remote_addr or "?")[:64]
        s = db_session()
        if sign_in_blocked(s, name, address):
            blocked = True
            s.rollback()
        else:
            who = check_password(s, name, password) if name and password else None
            if who is None:
                record_sign_in_failure(s, name, address)
                s.commit()
                failed = True
            else:
                clear_sign_in_failures(s, name)
                s.commit()
                sign_in(who)
                return redirect(target)
    elif session_principal() is not None:
        return redirect(target)
    status = 429 if blocked else 401 if failed else 200
    return render_template("login.html", failed=failed, blocked=blocked, next=target), status


@bp.route("/logout", methods=["POST"])
@access(*SIGNED_IN, pharmacist="own", page=True)
def logout() -> BaseResponse:
    sign_out()
    return redirect(SIGN_IN_PATH)


# --------------------------------------------------------------------------- pages


@bp.route("")
@access(*SIGNED_IN, pharmacist="own", page=True)
def home() -> str:
    if principal().is_educator:
        return _page("home.html", pharmacy=None, educator=visible_educator())
    return _page("home.html", pharmacy=_page_pharmacy())


@bp.route("/dispense")
@access(*DISPENSERS, pharmacist="own", page=True)
def dispense() -> str:
    s = db_session()
    medicines = list(s.scalars(select(Medicine).order_by(Medicine.code)))
    strings = {
        "waiting": _("Waiting to send: %(n)s", n="{n}"),
        "sent": _("Sent"),
        "refused": _("Refused"),
        "pending": _("Waiting"),
        "patient_pays": _("Patient pays"),
        "receipt": _("Receipt"),
        "saved_offline": _("Saved on this phone. It will be sent when the connection returns."),
        "recorded": _("Recorded."),
        "quote_offline": _("The quote needs a connection; the record can still be saved."),
        "budget_exhausted": _(
            "The scheme's budget is spent: the subsidy is cut and the patient pays the rest."
        ),
        "unknown_patient": _("Unknown member code."),
        "no_scheme": _("Not enrolled in a scheme today: pays the full price."),
        "enrolled": _(
            "Enrolled in %(scheme)s (%(percent)s %%).", scheme="{scheme}", percent="{percent}"
        ),
        "cap_left": _("Subsidy left this month: %(left)s", left="{left}"),
        "no_cap": _("No monthly cap."),
        "need_item": _("Add at least one medicine with a quantity."),
        "unknown_medicine": _("Unknown medicine: %(m)s", m="{m}"),
        "sign_in_again": _("Sign in again to send the waiting records."),
        "not_sent_yet": _("Could not reach the server; will try again."),
        "medicine": _("Medicine"),
        "quantity": _("Quantity"),
        "days_supply": _("Days supply"),
        "remove": _("Remove"),
        "patient": _("Patient"),
    }
    return _page(
        "dispense.html",
        pharmacy=_page_pharmacy(),
        medicines=medicines,
        names={m.code: m.name for m in medicines},
        strings=strings,
        today=clock.today().isoformat(),
    )


@bp.route("/dispense/patient")
@access(*DISPENSERS, pharmacist="own", page=True)
def patient_info() -> Response:
    """What the dispense page shows once a member code is known: the scheme in force today
    and what is left of its monthly subsidy cap."""
    s = db_session()
    code = request.args.get("code", "")
    try:
        patient = get_patient(s, code)
    except RdfError:
        return jsonify({"found": False})
    today = clock.today()
    scheme = scheme_on(s, patient, today)
    if scheme is None:
        return jsonify({"found": True, "scheme": None})
    out: dict[str, Any] = {
        "found": True,
        "scheme": scheme.code,
        "scheme_name": scheme.name,
        "percent": f"{scheme.percent_bp / 100:g}",
        "cap_left": None,
    }
    if scheme.cap_per_patient_month is not None:
        month = today.strftime("%Y-%m")
        key = (patient.member_code, scheme.code, month)
        used = subsidy_used(s, [key])[key]
        left = max(scheme.cap_per_patient_month - used, 0)
        out["cap_left"] = _amount(left, "KHR")
        out["currency"] = "KHR"
    return jsonify(out)


@bp.route("/today")
@access(*READERS, pharmacist="own", page=True)
def today() -> str:
    s = db_session()
    pharmacy = _page_pharmacy()
    day = clock.today()
    rows = list(
        s.scalars(
            select(Dispensing)
            .where(Dispensing.pharmacy == pharmacy, Dispensing.service_date == day)
            .order_by(Dispensing.id)
        )
    )
    totals: dict[str, list[int]] = {}
    for d in rows:
        t = totals.setdefault(d.currency, [0, 0, 0])
        t[0] += d.total_price
        t[1] += d.total_subsidy
        t[2] += d.total_copayment
    return _page(
        "today.html",
        pharmacy=pharmacy,
        day=day,
        rows=[
            {
                "id": d.id,
                "patient": d.patient or "—",
                "currency": d.currency,
                "price": _amount(d.total_price, d.currency),
                "subsidy": _amount(d.total_subsidy, d.currency),
                "copayment": _amount(d.total_copayment, d.currency),
            }
            for d in rows
        ],
        totals=[
            (c, _amount(p, c), _amount(sub, c), _amount(cop, c))
            for c, (p, sub, cop) in sorted(totals.items())
        ],
    )


def _dispensing_data(s: Any, dispensing_id: int) -> dict[str, Any]:
    """A dispensing as the API answers it (``GET /dispensings/{id}``), with its returns."""
    (found,) = dispensings(s, [dispensing_id])
    body = dispensing_body(found)
    body["returns"] = [return_body(r) for r in returns_of(s, dispensing_id)]
    return body


@bp.route("/dispensings/<string:dispensing_id>")
@access(*READERS, pharmacist="own", page=True)
def one_dispensing(dispensing_id: str) -> str:
    s = db_session()
    d = get_dispensing(s, dispensing_id, visible_pharmacy())
    data = _dispensing_data(s, d.id)
    returned: dict[str, int] = {}
    for r in data.get("returns", []):
        for line in r["lines"]:
            returned[line["medicine"]] = returned.get(line["medicine"], 0) + line["quantity"]
    who = principal()
    may_return = who.role in ("pharmacist", "finance", "admin")
    return _page(
        "dispensing.html",
        d=data,
        returned=returned,
        may_return=may_return,
        return_key=f"web-return-{uuid.uuid4().hex}",
    )


@bp.route("/dispensings/<string:dispensing_id>/receipt")
@access(*READERS, pharmacist="own", page=True)
def receipt(dispensing_id: str) -> str:
    s = db_session()
    d = get_dispensing(s, dispensing_id, visible_pharmacy())
    pharmacy = s.get(Pharmacy, d.pharmacy)
    return _page(
        "receipt.html",
        d=_dispensing_data(s, d.id),
        pharmacy_name=pharmacy.name if pharmacy is not None else d.pharmacy,
        fund=current_app.config["FUND_NAME"],
    )


@bp.route("/stock")
@access(*READERS, pharmacist="own", page=True)
def stock() -> str:
    s = db_session()
    pharmacy = _page_pharmacy()
    day = clock.today()
    soon = day + timedelta(days=EXPIRY_WARNING_DAYS)
    names = {code: name for code, name in s.execute(select(Medicine.code, Medicine.name))}
    rows = on_hand(s, location=pharmacy) if pharmacy else []
    return _page(
        "stock.html",
        pharmacy=pharmacy,
        rows=[
            {
                "medicine": r.medicine,
                "name": names.get(r.medicine, ""),
                "lot": r.lot,
                "expiry": r.expiry_on.isoformat(),
                "quantity": r.quantity,
                "expired": r.expiry_on < day,
                "soon": day <= r.expiry_on <= soon,
            }
            for r in rows
            if r.quantity > 0
        ],
        days=EXPIRY_WARNING_DAYS,
    )


def _months(first: date, last: date) -> list[str]:
    out = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


@bp.route("/statements")
@access(*READERS, pharmacist="own", page=True)
def statements() -> str:
    s = db_session()
    pharmacy = _page_pharmacy()
    day = clock.today()
    first = s.scalar(
        select(func.min(Dispensing.service_date)).where(Dispensing.pharmacy == pharmacy)
    )
    months = list(reversed(_months(first or day, day))) if pharmacy else []
    return _page("statements.html", pharmacy=pharmacy, months=months)


@bp.route("/care")
@access(*CARE_READERS, pharmacist="own", page=True)
def care() -> str:
    """The visit list as of today: the patients whose supply ran out more than the grace
    days ago, most overdue first (an educator's own, a pharmacist's pharmacy's)."""
    day = clock.today()
    scope = Scope(educator=visible_educator(), pharmacy=visible_pharmacy())
    rows = overdue_refills(db_session(), day, DEFAULT_GRACE_DAYS, scope)
    return _page(
        "care.html", day=day, grace_days=DEFAULT_GRACE_DAYS, rows=rows, educator=scope.educator
    )


@bp.route("/sw.js")
@public
def service_worker() -> Response:
    """The service worker, served from ``/app/`` so that its scope is the whole app."""
    response = send_from_directory(STATIC, "sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response
