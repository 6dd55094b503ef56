"""The authorisation matrix: every route of the app × every kind of caller.

Driven by the URL map and the policy each view declares with ``@access`` (``ledger.web``),
so routes added by any package are covered the day they land. For each route and method:

* a declaration must exist (deny by default is not enough: a route must say who it is for);
* anonymous, revoked, expired and malformed tokens get 401;
* a role the policy does not admit gets 403;
* an admitted role never gets 401, 403 or 500;
* a pharmacist asking about another pharmacy's object (or a missing one) gets 404;
* an educator is admitted only where the route names the ``educator`` role (care).

Path parameters are filled from :data:`PARAM_VALUES`; a parameter that names a pharmacy
(``<pharmacy>``, or ``<code>`` right after ``/pharmacies/``) is tried with the owning
pharmacy, another pharmacy and a missing one. :data:`ROUTE_OVERRIDES` gives a route other
values where the generic ones do not fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from api.access import PUBLIC_ENDPOINTS, Access, access_for
from api.auth import revoke
from api.ratelimit import BadTokenLimiter
from tests.support import bearer, create_pharmacy, create_user_token

OWN, OTHER, MISSING = "P1", "P2", "PZZ9"
ROLES_OF_STAFF = ("admin", "finance", "auditor")

#: Values for path parameters by name (anything not listed gets "1").
PARAM_VALUES: dict[str, str] = {
    "code": "1010",
    "entry_id": "1",
    "id": "1",
    "period": "2026-10",
    "member_code": "M-00001",
    "scheme": "HEF",
    "medicine": "MET500",
    "supplier": "S1",
    "location": "CENTRAL",
}

#: Per-route values, by rule string: {"<rule>": {"param": "value"}}.
ROUTE_OVERRIDES: dict[str, dict[str, str]] = {}

#: Per-route query strings, for routes that refuse a request without them (422) before
#: they look at the object: the ownership rule is then what answers.
ROUTE_QUERY: dict[str, str] = {
    "/api/v1/statements/pharmacies/<string:code>": "period=2026-10",
    "/api/v1/statements/accounts/<string:code>": "from=2026-10-01&to=2026-10-31",
}

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Caller:
    name: str
    role: str | None  # None: no valid token
    pharmacy: str | None
    header: dict[str, str]


def _params(rule: Rule) -> list[str]:
    return [name for _conv, _args, name in _converters(rule)]


def _converters(rule: Rule) -> list[tuple[str, str, str]]:
    return re.findall(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>", rule.rule)


def pharmacy_params(rule: Rule) -> set[str]:
    """Parameters that name a pharmacy: ``<pharmacy…>``, or any parameter right after a
    ``/pharmacies/`` segment."""
    out = {name for name in _params(rule) if "pharmacy" in name}
    for m in re.finditer(r"/pharmacies/<(?:[^>:]+:)?(\w+)>", rule.rule):
        out.add(m.group(1))
    return out


def build_path(rule: Rule, pharmacy: str | None) -> str:
    values = dict(PARAM_VALUES)
    values.update(ROUTE_OVERRIDES.get(rule.rule, {}))
    for name in pharmacy_params(rule):
        values[name] = pharmacy or OWN

    def fill(m: re.Match[str]) -> str:
        converter, name = m.group(1), m.group(3)
        if converter in ("int", "integer"):
            return values.get(name, "1") if values.get(name, "1").isdigit() else "1"
        return quote(values.get(name, "1"), safe="")

    path = re.sub(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>", fill, rule.rule)
    query = ROUTE_QUERY.get(rule.rule)
    return f"{path}?{query}" if query else path


def routes(app: Flask) -> list[tuple[Rule, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule, method))
    return out


def call(client: FlaskClient, method: str, path: str, header: dict[str, str]) -> int:
    kwargs: dict[str, object] = {"headers": header}
    if method in WRITE_METHODS:
        kwargs["json"] = {}
    return int(client.open(path, method=method, **kwargs).status_code)  # type: ignore[arg-type]


@pytest.fixture
def callers(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> list[Caller]:
    for code in (OWN, OTHER):
        create_pharmacy(app, client, tokens["finance"], code)
    client.post(
        "/api/v1/peer-educators",
        json={"code": "E1", "network": "MoPoTsyo", "district": "Ta Khmau"},
        headers=bearer(tokens["finance"]),
    )
    educator = create_user_token(app, "ed-own", "educator", educator="E1")
    own = create_user_token(app, "ph-own", "pharmacist", OWN)
    other = create_user_token(app, "ph-other", "pharmacist", OTHER)
    revoked = create_user_token(app, "ph-revoked", "pharmacist", OWN)
    expired = create_user_token(
        app, "fin-expired", "finance", expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    with app.extensions["rdf_db"].session() as s:
        revoke(s, "ph-revoked")
        s.commit()
    # Many bad tokens from one test address are the point here, not abuse.
    app.extensions["rdf_auth_limiter"] = BadTokenLimiter(
        app.extensions["rdf_db"].sessionmaker, limit=10**9, credential_limit=10**9
    )
    return [
        Caller("admin", "admin", None, bearer(tokens["admin"])),
        Caller("finance", "finance", None, bearer(tokens["finance"])),
        Caller("auditor", "auditor", None, bearer(tokens["auditor"])),
        Caller("pharmacist-own", "pharmacist", OWN, bearer(own)),
        Caller("pharmacist-other", "pharmacist", OTHER, bearer(other)),
        Caller("educator", "educator", None, bearer(educator)),
        Caller("anonymous", None, None, {}),
        Caller("revoked", None, None, bearer(revoked)),
        Caller("expired", None, None, bearer(expired)),
        Caller("malformed", None, None, {"Authorization": "Bearer rdf_not-a-token"}),
        Caller("not-bearer", None, None, {"Authorization": "Basic YWRtaW46YWRtaW4="}),
    ]


def test_every_route_declares_who_may_call_it(app: Flask) -> None:
    undeclared = [
        f"{method} {rule.rule}"
        for rule, method in routes(app)
        if rule.endpoint not in PUBLIC_ENDPOINTS and access_for(app, rule.endpoint, method) is None
    ]
    assert undeclared == []


def test_the_only_public_routes_are_the_health_check_the_api_description_and_sign_in(
    app: Flask,
) -> None:
    public = sorted(
        f"{method} {rule.rule}"
        for rule, method in routes(app)
        if (a := access_for(app, rule.endpoint, method)) is not None and a.public
    )
    assert {"GET /api/v1/openapi.json", "GET /healthz"} <= set(public)
    assert set(public) <= {
        "GET /api/v1/openapi.json",
        "GET /healthz",
        "GET /static/<path:filename>",
        "GET /api/v1/docs",  # the interactive reading of the API description
        "GET /api/v1/docs/<name>",
        # the pages (web/): the way to them, the sign-in page, their static files and
        # their service worker
        "GET /",
        "GET /app/login",
        "POST /app/login",
        "GET /app/static/<path:filename>",
        "GET /app/sw.js",
    }


def expected_failure(rule_access: Access, caller: Caller, foreign: bool) -> int | None:
    """The status the policy demands, or None when any non-error answer is fine. A page
    asked without any credentials sends the browser to the sign-in page (302)."""
    if caller.role is None:
        return 302 if rule_access.page and not caller.header else 401
    if caller.role == "admin":
        return None
    if caller.role == "pharmacist":
        if rule_access.pharmacist != "own":
            return 403
        return 404 if foreign else None
    return None if caller.role in rule_access.roles else 403


def test_every_route_answers_every_caller_as_the_policy_says(
    app: Flask, client: FlaskClient, callers: list[Caller]
) -> None:
    failures: list[str] = []
    checked = 0
    for rule, method in routes(app):
        rule_access = access_for(app, rule.endpoint, method)
        if rule_access is None or rule_access.public:
            continue
        has_pharmacy = bool(pharmacy_params(rule))
        for caller in callers:
            objects = [OWN, OTHER, MISSING] if has_pharmacy and caller.role else [OWN]
            for obj in objects:
                path = build_path(rule, obj)
                status = call(client, method, path, caller.header)
                checked += 1
                foreign = has_pharmacy and caller.pharmacy is not None and obj != caller.pharmacy
                want = expected_failure(rule_access, caller, foreign)
                if want is not None and status != want:
                    failures.append(f"{caller.name} {method} {path}: {status}, expected {want}")
                elif (want is None and status in (401, 403)) or status >= 500:
                    failures.append(f"{caller.name} {method} {path}: {status}, must be admitted")
    assert checked > 0
    assert failures == [], "\n".join(failures)
