"""Who is calling and what they may do (deny by default): the one authorisation policy
of the API and the pages.

Authorisation is declarative: each view carries an ``@access(...)`` naming the roles that
may call it and, for pharmacists, that the object must be their own pharmacy's. A
``before_request`` hook refuses any route without a declaration, and a test walks the URL
map so no route can be added without one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request

from api.auth import Principal, authenticate
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

    def admits(self, principal: Principal) -> bool:
        if principal.role == "admin":
            return True
        if principal.role == "pharmacist":
            return self.pharmacist == "own"
        return principal.role in self.roles


def access(*roles: str, pharmacist: str | None = None) -> Callable[[F], F]:
    """Declare the roles that may call a view (admin always may)."""
    assert pharmacist in (None, "own")
    rule = Access(frozenset(roles), pharmacist)

    def deco(fn: F) -> F:
        fn._rdf_access = rule  # type: ignore[attr-defined]
        return fn

    return deco


def public(fn: F) -> F:
    """Declare a view that needs no token (health check)."""
    fn._rdf_access = Access(frozenset(), None, public=True)  # type: ignore[attr-defined]
    return fn


#: Views made by libraries, which we cannot decorate: the OpenAPI document is public.
PUBLIC_ENDPOINTS = {"api-docs.openapi_json", "static"}


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


def authorise_request() -> Response | None:
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
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return problem(401, "Unauthorized", "send 'Authorization: Bearer <token>'", "unauthorized")
    limiter = current_app.extensions.get("rdf_auth_limiter")
    addr = request.remote_addr or "?"
    if limiter is not None and limiter.blocked(addr):
        return problem(
            429,
            "Too many bad tokens",
            "too many invalid tokens from this address; wait a minute",
            "too-many-requests",
        )
    s = db_session()
    who = authenticate(s, token.strip())
    s.rollback()
    if who is None:
        if limiter is not None:
            limiter.failed(addr)
        return problem(
            401, "Unauthorized", "the token is unknown, expired or revoked", "unauthorized"
        )
    g.rdf_principal = who
    if rule is None or not rule.admits(who):
        return problem(
            403,
            "Forbidden",
            f"the role {who.role!r} may not {request.method} {request.path}",
            "forbidden",
        )
    return None
