"""RDF Ledger: the Flask application factory and the ``flask --app app`` commands.

``create_app(config)`` builds the service: configuration from the environment, the
database, the OpenAPI-documented blueprints, the access rules, and one mapper from every
error to ``application/problem+json``.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import Flask, Response, request
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

import commands
from api.access import authorise_request
from api.audit import blp as audit_blp
from api.audit_trail import record_response
from api.authcache import AuthCache
from api.care import blp as care_blp
from api.contracts import blp as contracts_blp
from api.dispensing import blp as dispensing_blp
from api.docs import RdfApi, document_formats
from api.docs import docs as docs_blueprint
from api.fhir import blp as fhir_blp
from api.financial_reports import blp as financial_reports_blp
from api.funders import blp as funders_blp
from api.fx import blp as fx_blp
from api.headers import hsts_wanted, security_headers
from api.invoices import blp as invoices_blp
from api.ledger import blp as ledger_blp
from api.ledger import health
from api.limits import (
    MAX_BODY_BYTES,
    BodyLimit,
    check_body,
    refuse_oversized,
    remember_body_types,
)
from api.problems import flatten_messages, problem, problem_from
from api.ratelimit import BadTokenLimiter
from api.reports import blp as reports_blp
from api.session import close_session
from api.settlements import blp as settlements_blp
from api.stock import blp as stock_blp
from contracts import refdata as contracts_refdata
from contracts.pricing import PricingError
from dispensing.verify import dispensing_problems
from invoices.settlements import CLOSE_CHECKS as SETTLEMENT_CLOSE_CHECKS
from ledger import refdata as ledger_refdata
from ledger.db import Database
from ledger.errors import RdfError
from ledger.periods import CloseCheck
from ledger.refcache import Loader
from ledger.sealing import (
    DEFAULT_INTERVAL_MS,
    SEAL_MODES,
    Sealer,
    VerifyCheck,
    seal_after_commit,
)
from stock.verify import movement_problems
from web import init_web

log = logging.getLogger("rdf")

#: What every database's reference snapshot holds (``ledger.refcache``): each package's
#: part, by name. Wired into the ``Database`` made by :func:`attach_database`.
REFERENCE_PARTS: Mapping[str, Loader] = {
    "ledger": ledger_refdata.load,
    "contracts": contracts_refdata.load,
}

#: The checks a month close runs besides the ledger's own (``ledger.periods.close_period``),
#: by name, in order; kept as ``app.extensions["rdf_close_checks"]``.
CLOSE_CHECKS: Mapping[str, CloseCheck] = {
    **SETTLEMENT_CLOSE_CHECKS,
}

#: The checks of source documents against the journal that ``/audit/verify`` (and
#: ``flask verify``) run after the chain and the kept figures, by name; kept as
#: ``app.extensions["rdf_verify_checks"]``.
VERIFY_CHECKS: Mapping[str, VerifyCheck] = {
    "dispensings": dispensing_problems,
    "stock movements": movement_problems,
}


class ConfigError(click.ClickException, RuntimeError):
    """The environment does not let the service start: ``flask`` commands print it as one
    line (``Error: …``), without a traceback."""


def default_database_url(instance_path: str) -> str:
    return f"sqlite:///{Path(instance_path) / 'rdf.sqlite3'}"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application. ``config`` overrides settings (tests pass their database)."""
    app = Flask(__name__, instance_relative_config=True)
    env = os.environ.get("RDF_ENV", "production")
    app.config.update(
        RDF_ENV=env,
        DATABASE_URL=os.environ.get("DATABASE_URL") or default_database_url(app.instance_path),
        SECRET_KEY=os.environ.get("RDF_SECRET_KEY"),
        FUND_NAME=os.environ.get("RDF_FUND_NAME", "RDF Ledger demonstration fund"),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        API_TITLE="RDF Ledger",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
        # Records per transaction in POST /dispensings/batch (1: one at a time).
        RDF_BATCH_CHUNK=int(os.environ.get("RDF_BATCH_CHUNK") or 100),
        # How many reverse proxies in front may be believed about the client's address
        # (X-Forwarded-For); 0: none, the socket's peer is the client.
        RDF_TRUSTED_PROXIES=os.environ.get("RDF_TRUSTED_PROXIES") or "0",
        # The pages' session cookie; CSRF is checked by the access policy (api.access),
        # only for writes made with the session (bearer-token calls carry no cookie).
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=env != "development",
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
    )
    if config:
        app.config.update(config)
    if not app.config["SECRET_KEY"]:
        if app.config["RDF_ENV"] == "development" or app.config.get("TESTING"):
            app.config["SECRET_KEY"] = "development-only-" + secrets.token_hex(8)
        else:
            raise ConfigError(
                "RDF_SECRET_KEY must be set (or RDF_ENV=development for a local demo)"
            )
    app.config.setdefault("RDF_HSTS", hsts_wanted(app))
    proxies = str(app.config["RDF_TRUSTED_PROXIES"])
    if not proxies.isdigit():
        raise ConfigError(f"RDF_TRUSTED_PROXIES must be a number of proxies, not {proxies!r}")
    if int(proxies):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(proxies))  # type: ignore[method-assign]
    app.wsgi_app = BodyLimit(app.wsgi_app, MAX_BODY_BYTES)  # type: ignore[method-assign]
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    app.extensions["rdf_close_checks"] = tuple(CLOSE_CHECKS.values())
    app.extensions["rdf_verify_checks"] = tuple(VERIFY_CHECKS.values())
    attach_database(app, app.config["DATABASE_URL"])

    api = RdfApi(
        app,
        spec_kwargs={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    register_blueprints(app, api)
    document_formats(api.spec)
    remember_body_types(app, api.spec.to_dict())
    app.register_blueprint(docs_blueprint)
    app.before_request(refuse_oversized)
    CSRFProtect(app)
    app.before_request(authorise_request)
    app.before_request(refuse_nul)
    app.before_request(check_body)
    app.after_request(lambda response: record_response(app, request, response))
    app.after_request(security_headers)
    app.teardown_appcontext(close_session)
    register_error_handlers(app)
    register_commands(app)
    init_web(app)  # the pages under /app (web/)
    return app


def attach_database(app: Flask, url: str) -> Database:
    """Point the app at a database: its engine, the sealer that follows commits, and a fresh
    bad-token limiter (the test suite reuses one app across many databases).

    The sealer (``ledger.sealing.Sealer``) runs as ``RDF_SEAL_MODE`` says (app config, else
    the environment): ``background`` by default, ``inline`` by default under ``TESTING`` (so
    a test sees an entry sealed when its write returns); ``RDF_SEAL_INTERVAL_MS`` (200) is
    how often the background sealer may run. The sealer of a database being replaced is
    stopped first, so its thread does not outlive its database."""
    mode = str(
        app.config.get("RDF_SEAL_MODE")
        or os.environ.get("RDF_SEAL_MODE")
        or ("inline" if app.config.get("TESTING") else "background")
    )
    interval = app.config.get("RDF_SEAL_INTERVAL_MS")
    if interval is None:
        interval = os.environ.get("RDF_SEAL_INTERVAL_MS") or DEFAULT_INTERVAL_MS
    if mode not in SEAL_MODES or int(interval) < 0:
        raise ValueError(
            f"RDF_SEAL_MODE {mode!r} / RDF_SEAL_INTERVAL_MS {interval!r}: "
            f"the mode is one of {SEAL_MODES}, the interval >= 0"
        )
    previous = app.extensions.get("rdf_after_commit")
    if isinstance(previous, Sealer):
        previous.stop()
    app.config["DATABASE_URL"] = url
    db = Database(url, reference_parts=REFERENCE_PARTS)
    app.extensions["rdf_db"] = db
    app.extensions["rdf_auth_limiter"] = BadTokenLimiter(db.sessionmaker)
    app.extensions["rdf_auth_cache"] = AuthCache()
    app.extensions["rdf_after_commit"] = seal_after_commit(
        db.sessionmaker, mode=mode, interval_ms=int(interval)
    )
    return db


def register_blueprints(app: Flask, api: Api) -> None:
    """Every package's HTTP layer; each view declares who may call it (``@access``)."""
    app.register_blueprint(health)
    for blp in (
        ledger_blp,
        stock_blp,
        contracts_blp,
        dispensing_blp,
        invoices_blp,
        financial_reports_blp,
        settlements_blp,
        reports_blp,
        audit_blp,
        funders_blp,
        care_blp,
        fhir_blp,
        fx_blp,
    ):
        api.register_blueprint(blp)


def refuse_nul() -> Response | None:
    """``before_request``: a NUL character names nothing and searches for nothing, on both
    databases (PostgreSQL cannot hold one in text; SQLite would silently find nothing). In
    the path it is a 404, as any unknown id; in a query parameter a 422."""
    if "\x00" in request.path:
        return problem(
            404, "Not Found", "no such resource: the path holds a NUL character", "not-found"
        )
    where = next((k for k, v in request.args.items(multi=True) if "\x00" in k or "\x00" in v), None)
    if where is None:
        return None
    return problem(
        422,
        "Unprocessable value",
        f"the NUL character is not allowed in {where!r}",
        "invalid-request",
        {where: ["must not contain the NUL character"]},
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(RdfError)
    def _rdf(exc: RdfError) -> Response:
        return problem_from(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages")
        if messages:
            flat = flatten_messages(messages)
            # webargs groups by location ("json", "query"): drop that level for clients.
            errors = {
                k.split(".", 1)[1]
                if k.split(".", 1)[0] in ("json", "query", "path", "headers", "form", "files")
                and "." in k
                else k: v
                for k, v in flat.items()
            }
            first = next(iter(errors.items()))
            detail = (
                f"{first[0]}: {first[1][0]}"
                if status == 422
                else ("the body is not valid JSON" if status == 400 else str(first[1][0]))
            )
            return problem(
                status,
                exc.name,
                detail,
                "invalid-request" if status == 422 else "bad-request",
                errors,
            )
        detail = exc.description or exc.name
        if status == 413:
            detail = f"the request body is larger than {MAX_BODY_BYTES} bytes"
        return problem(status, exc.name, detail, exc.name.lower().replace(" ", "-"))

    @app.errorhandler(PricingError)
    def _pricing(exc: PricingError) -> Response:
        return problem(422, "The dispensing cannot be priced", str(exc), "pricing")

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError) -> Response:
        log.warning("integrity error on %s %s: %s", request.method, request.path, exc.orig)
        return problem(
            409,
            "Refused by the database",
            "the database refused this change because it would break a rule of the books",
            "constraint-violation",
        )

    @app.errorhandler(DataError)
    def _data(exc: DataError) -> Response:
        # SQLSTATE class 22 (and psycopg's own check): a value the database cannot hold,
        # e.g. a NUL character in a query parameter. Bad input, not an outage: a 503 would
        # tell the client to send it again forever.
        log.warning("data error on %s %s: %s", request.method, request.path, exc.orig)
        return problem(
            422,
            "Unprocessable value",
            "a value in the request cannot be stored or searched for (e.g. a NUL character)",
            "invalid-request",
        )

    @app.errorhandler(DBAPIError)
    def _dbapi(exc: DBAPIError) -> Response:
        log.exception("database error on %s %s", request.method, request.path)
        return problem(
            503,
            "Database unavailable",
            "the database could not complete the request; try again",
            "database",
        )

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(
            500,
            "Internal Server Error",
            "an unexpected error occurred; it has been logged",
            "internal",
        )


def register_commands(app: Flask) -> None:
    commands.register(app)
