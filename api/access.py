"""Who is calling and what they may do (deny by default): the one authorisation policy
of the API and the pages.

Authorisation is declarative: each view carries an ``@access(...)`` naming the roles that
may call it and, for pharmacists, that the object must be their own pharmacy's. A
``before_request`` hook refuses any route without a declaration, and a test walks the URL
map so no route can be added without one.

Two ways in, one policy: a bearer token (``Authorization: Bearer …``, the API's clients)
or the signed-in session of the pages (``/app``; :func:`sign_in` stores it). The JSON API
accepts the session too, so the pages' scripts call it; a write made with the session
must carry the CSRF token (form field ``csrf_token`` or header ``X-CSRFToken``). A page
(``@access(..., page=True)``) asked without either way in sends the browser to the
sign-in page instead of answering 401.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from flask import Flask, Response, current_app, g, redirect, request, session
from werkzeug.wrappers import Response as BaseResponse

from api.auth import Principal
from api.authcache import AuthCache
from api.problems import problem
from api.session import db_session
from ledger.db import sqlite_read_only
from ledger.errors import Forbidden, NotFound

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Access:
    """Who may call a view. ``admin`` may call everything except public views need nobody."""

    roles: frozenset[str]
    #: "own": a pharmacist may call it only for its own pharmacy's objects (the handler
    #: checks with ``ensure_pharmacy``); None: pharmacists are not admitted at all.
    pharmacist: str | None = None
    public: bool = False
    #: a page: without a principal, send the browser to the sign-in page (not a 401)
    page: bool = False

    def admits(self, principal: Principal) -> bool:
        if principal.role == "admin":
            return True
        if principal.role == "pharmacist":
            return self.pharmacist == "own"
        return principal.role in self.roles


def access(*roles: str, pharmacist: str | None = None, page: bool = False) -> Callable[[F], F]:
    """Declare the roles that may call a view (admin always may); ``page``: a page of the
    web app (anonymous callers are sent to the sign-in page)."""
    assert pharmacist in (None, "own")
    rule = Access(frozenset(roles), pharmacist, page=page)

    def deco(fn: F) -> F:
        fn._rdf_access = rule  # type: ignore[attr-defined]
        return fn

    return deco


def public(fn: F) -> F:
    """Declare a view that needs no token (health check)."""
    fn._rdf_access = Access(frozenset(), None, public=True)  # type: ignore[attr-defined]
    return fn


#: Views made by libraries, which we cannot decorate: the OpenAPI document is public, and
#: so are static files (the app's and the pages' own).
PUBLIC_ENDPOINTS = {"api-docs.openapi_json", "static", "web.static", "docs.page", "docs.asset"}
#: Where a page sends an anonymous browser.
SIGN_IN_PATH = "/app/login"
#: The session key holding the signed-in user's id.
SESSION_USER = "rdf_user"
#: The session key holding the stamp of the password it was signed in with: a session
#: ends when the password changes (``api.authcache.password_stamp``).
SESSION_PASSWORD = "rdf_pw"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def auth_cache() -> AuthCache:
    cache: AuthCache = current_app.extensions["rdf_auth_cache"]
    return cache


def sign_in(who: Principal) -> None:
    """Start a signed-in session for ``who``: whatever the session held is dropped first
    (no fixation: the cookie after sign-in carries nothing of the one before), and the
    CSRF token is made afresh. The session remembers the password's stamp: it ends when
    the password is changed."""
    s = db_session()
    known = auth_cache().by_user(s.connection(), who.user_id)
    s.rollback()
    session.clear()
    session[SESSION_USER] = who.user_id
    session[SESSION_PASSWORD] = known.password_stamp if known is not None else None
    session.permanent = False


def sign_out() -> None:
    session.clear()


def session_principal() -> Principal | None:
    """The principal of the signed-in session, or None (also when the user was revoked,
    has expired or its password was changed since the session was signed in).

    Read through the per-process cache (``api.authcache``) in the request's own
    transaction, which the handler then goes on with."""
    user_id = session.get(SESSION_USER)
    if not isinstance(user_id, int):
        return None
    known = auth_cache().by_user(db_session().connection(), user_id)
    who = None
    if known is not None and session.get(SESSION_PASSWORD) == known.password_stamp:
        who = known.now_valid()
    if who is None:
        db_session().rollback()
        session.clear()
    return who


def access_for(app: Flask, endpoint: str, method: str) -> Access | None:
    if endpoint in PUBLIC_ENDPOINTS:
        return Access(frozenset(), None, public=True)
    view = app.view_functions.get(endpoint)
    if view is None:
        return None
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        meth = getattr(view_class, method.lower(), None)
        if meth is None and method == "HEAD":
            meth = getattr(view_class, "get", None)
        return getattr(meth, "_rdf_access", None)
    return getattr(view, "_rdf_access", None)


def principal() -> Principal:
    p: Principal | None = g.get("rdf_principal")
    if p is None:  # pragma: no cover - the before_request hook guarantees it
        raise Forbidden("no principal")
    return p


def ensure_pharmacy(code: str) -> None:
    """For a pharmacist, an object of another pharmacy does not exist (404)."""
    p = principal()
    if p.is_pharmacist and p.pharmacy != code:
        raise NotFound(f"no pharmacy {code!r}")


def visible_pharmacy() -> str | None:
    """The pharmacy a caller is confined to (pharmacists), or None (sees all)."""
    p = principal()
    return p.pharmacy if p.is_pharmacist else None


def visible_educator() -> str | None:
    """The peer educator a caller is confined to (educators: their own patients), or None."""
    p = principal()
    return p.educator if p.is_educator else None


def authorise_request() -> BaseResponse | None:
    """``before_request``: authenticate the bearer token and apply the view's ``@access``."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        sqlite_read_only.set(True)
    else:
        sqlite_read_only.set(False)
    if request.endpoint is None:
        return None  # 404/405 handled by Flask
    rule = access_for(current_app, request.endpoint, request.method)
    if rule is not None and rule.public:
        return None
    if "Authorization" not in request.headers:
        who = session_principal()
        if who is None:
            if rule is not None and rule.page:
                return redirect(f"{SIGN_IN_PATH}?next={quote(request.full_path.rstrip('?'))}")
            return problem(
                401, "Unauthorized", "send 'Authorization: Bearer <token>'", "unauthorized"
            )
        g.rdf_principal = who
        if request.method not in SAFE_METHODS:
            current_app.extensions["csrf"].protect()  # a 400 without the right token
        return _admit(rule, who)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return problem(401, "Unauthorized", "send 'Authorization: Bearer <token>'", "unauthorized")
    # The request's own transaction (not rolled back: the handler goes on with it, which
    # saves a BEGIN and a ROLLBACK per request).
    s = db_session()
    who = auth_cache().by_token(s.connection(), token.strip())
    if who is None:
        s.rollback()  # the limiter writes apart (on SQLite, not behind this transaction)
        # Only unknown tokens are counted and slowed: a valid one was admitted above,
        # whatever others sent from the same address (api/ratelimit.py).
        limiter = current_app.extensions.get("rdf_auth_limiter")
        if limiter is not None and limiter.refuse_or_count(
            request.remote_addr or "?", token.strip()
        ):
            return problem(
                429,
                "Too many bad tokens",
                "too many unknown tokens from this address or with this token; wait a minute",
                "too-many-requests",
            )
        return problem(
            401, "Unauthorized", "the token is unknown, expired or revoked", "unauthorized"
        )
    g.rdf_principal = who
    return _admit(rule, who)


def _admit(rule: Access | None, who: Principal) -> Response | None:
    if rule is None or not rule.admits(who):
        return problem(
            403,
            "Forbidden",
            f"the role {who.role!r} may not {request.method} {request.path}",
            "forbidden",
        )
    return None
