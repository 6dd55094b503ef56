"""The finance forms without JavaScript: a plain HTML form post (with its CSRF field) is
turned into the very JSON API call ``web/static/apiform.js`` would make, and that call is
dispatched in this process: the same validation, the same policy (``api.access`` admits
the API route again, CSRF included), the same idempotent write with its audit event, the
same problem text on refusal. Success answers a redirect to the page (its status region
says what was done, ``flash``); a refusal shows the page again with the API's problem text
at the form and the API's status code.

With JavaScript, ``apiform.js`` intercepts the submit and calls the API itself; these
routes are then never asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, flash, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response as BaseResponse

from api.access import access
from api.audit_trail import event_committed
from web import finance

bp = Blueprint("desk_forms", __name__, url_prefix="/app")

#: An argument of an API path (a bank line's id, a month): nothing that could leave it.
ARG = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Field names (their last part) the API reads as whole numbers / booleans: the server
#: side of apiform.js's ``data-type="int"`` and ``data-type="bool"``.
INTS = frozenset({"quantity"})
BOOLS = frozenset({"force"})


@dataclass(frozen=True)
class Form:
    """A page's form: the API path it posts to (``{arg}`` from the form's URL), what the
    page says when it was done, and the page (a view of :mod:`web.finance`)."""

    api: str
    done: Any
    page: Callable[[], str]
    endpoint: str
    multipart: bool = False


FORMS: dict[str, Form] = {
    "receive": Form("/api/v1/stock/receipts", _l("Received."), finance.stock, "finance.stock"),
    "transfer": Form("/api/v1/stock/transfers", _l("Transferred."), finance.stock, "finance.stock"),
    "write-off": Form(
        "/api/v1/stock/write-offs", _l("Written off."), finance.stock, "finance.stock"
    ),
    "settle": Form(
        "/api/v1/settlements", _l("Settled."), finance.settlements, "finance.settlements"
    ),
    "claim": Form(
        "/api/v1/subsidy-claims", _l("Claimed."), finance.settlements, "finance.settlements"
    ),
    "import": Form(
        "/api/v1/bank-statements", _l("Imported."), finance.bank, "finance.bank", multipart=True
    ),
    "match": Form(
        "/api/v1/bank-statements/lines/{arg}/match", _l("Matched."), finance.bank, "finance.bank"
    ),
    "unmatch": Form(
        "/api/v1/bank-statements/lines/{arg}/unmatch",
        _l("Unmatched."),
        finance.bank,
        "finance.bank",
    ),
    "payment": Form("/api/v1/payments", _l("Payment recorded."), finance.bank, "finance.bank"),
    "close": Form("/api/v1/periods/{arg}/close", _l("Closed."), finance.close, "finance.close"),
}


@bp.app_template_global("form_action")
def form_action(name: str, arg: str | None = None) -> str:
    """The URL a page's form posts to without JavaScript; it keeps the page's query (the
    month shown) so the page comes back as it was."""
    assert name in FORMS
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("month", "line")}
    if arg is not None:
        return url_for("desk_forms.submit_arg", name=name, arg=arg, **args)
    return url_for("desk_forms.submit", name=name, **args)


def json_body(form: MultiDict[str, str]) -> dict[str, Any]:
    """The JSON body of a form as apiform.js builds it: dotted names are paths
    (``lines.0.quantity``), empty fields are left out, ``INTS`` become numbers when they
    are, ``BOOLS`` (checkboxes) true when sent; lines left empty are dropped."""
    out: dict[str, Any] = {}
    for name, raw in form.items(multi=False):
        if name in ("csrf_token", "preview"):
            continue
        value: Any = raw.strip()
        leaf = name.rsplit(".", 1)[-1]
        if leaf in BOOLS:
            value = value not in ("", "0", "false", "off")
        elif value == "":
            continue
        elif leaf in INTS and re.fullmatch(r"-?\d{1,18}", value):
            value = int(value)
        _put(out, name.split("."), value)
    return _lists(out)  # type: ignore[no-any-return]


def _put(node: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            return
        node = child
    node[keys[-1]] = value


def _lists(node: Any) -> Any:
    """``{"0": {...}, "2": {...}}`` → ``[{...}, {...}]`` (in index order, gaps closed)."""
    if not isinstance(node, dict):
        return node
    done = {k: _lists(v) for k, v in node.items()}
    if done and all(k.isdigit() for k in done):
        return [done[k] for k in sorted(done, key=int) if done[k] not in ({}, None)]
    return done


def call_api(
    path: str, *, body: Any = None, files: dict[str, FileStorage] | None = None
) -> Response:
    """POST to the JSON API in this process, as the signed-in user's browser would: the
    session cookie and the CSRF token of this request; the API's policy, validation and
    audit apply as to any call."""
    headers = {
        "Accept": "application/json",
        "X-CSRFToken": request.form.get("csrf_token", ""),
    }
    for name in ("Cookie", "Referer", "User-Agent", "Accept-Language"):
        if name in request.headers:
            headers[name] = request.headers[name]
    builder = EnvironBuilder(
        path=path,
        method="POST",
        base_url=request.host_url,
        headers=list(headers.items()),
        environ_base={"REMOTE_ADDR": request.remote_addr or "127.0.0.1"},
        **(
            {"data": {k: (f.stream, f.filename or "file", f.mimetype) for k, f in files.items()}}
            if files is not None
            else {"json": body if body is not None else {}}
        ),
    )
    try:
        with current_app.request_context(builder.get_environ()):
            answer = current_app.full_dispatch_request()
    finally:
        builder.close()
    # The API call carried (or wrote) the audit event of this act: the page's own POST is
    # not recorded a second time.
    event_committed()
    return answer


def problem_text(answer: Response) -> str:
    """The API's problem as apiform.js shows it: the detail, then each field's error."""
    try:
        problem = json.loads(answer.get_data(as_text=True))
    except ValueError:
        return str(answer.status_code)
    if not isinstance(problem, dict):
        return str(answer.status_code)
    text = str(problem.get("detail") or problem.get("title") or answer.status_code)
    parts: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, list) and all(isinstance(x, str) for x in node):
            parts.append(f"{path}: {' '.join(node)}")
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k))

    walk(problem.get("errors"), "")
    if parts and parts[0] not in text:
        text += f" ({'; '.join(parts)})"
    return text


def _submit(name: str, arg: str | None) -> BaseResponse | tuple[str, int]:
    form = FORMS.get(name)
    if form is None or ("{arg}" in form.api) != (arg is not None):
        return Response("no such form", status=404)
    if arg is not None and not ARG.fullmatch(arg):
        return Response("no such form", status=404)
    if name == "transfer" and request.form.get("preview"):
        return form.page(), 200  # the FEFO preview: the page again, nothing posted
    path = form.api.format(arg=arg)
    if form.multipart:
        answer = call_api(path, files=dict(request.files.items()))
    else:
        answer = call_api(path, body=json_body(request.form))
    if answer.status_code >= 400:
        g.form_problem = (name, arg, problem_text(answer))
        return form.page(), answer.status_code
    message = str(form.done)
    try:
        made = json.loads(answer.get_data(as_text=True))
    except ValueError:
        made = None
    if isinstance(made, dict) and made.get("id") is not None:
        message += f" #{made['id']}"
    flash(message, "done")
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k == "month"}
    return redirect(url_for(form.endpoint, **args), code=303)


@bp.route("/finance/forms/<string:name>", methods=["POST"])
@access(*finance.WRITE, page=True)
def submit(name: str) -> BaseResponse | tuple[str, int]:
    return _submit(name, None)


@bp.route("/finance/forms/<string:name>/<string:arg>", methods=["POST"])
@access(*finance.WRITE, page=True)
def submit_arg(name: str, arg: str) -> BaseResponse | tuple[str, int]:
    return _submit(name, arg)


@bp.app_template_global("form_problem")
def _problem_for(name: str, arg: str | None = None) -> str | None:
    """The API's problem text for this form after a refused post, else None."""
    problem = g.get("form_problem")
    if problem is None or problem[0] != name or problem[1] != (None if arg is None else str(arg)):
        return None
    return str(problem[2])
