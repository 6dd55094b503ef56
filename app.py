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

from flask import Flask, Response, request
from flask_smorest import Api
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException

from api.access import authorise_request
from api.audit_trail import record_response
from api.problems import flatten_messages, problem, problem_from
from api.ratelimit import BadTokenLimiter
from api.session import close_session
from contracts.pricing import PricingError
from ledger.db import Database
from ledger.errors import RdfError
from ledger.sealing import DEFAULT_INTERVAL_MS, SEAL_MODES, Sealer, seal_after_commit

log = logging.getLogger("rdf")

MAX_BODY_BYTES = 1024 * 1024


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
        FUND_CURRENCY="KHR",
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        API_TITLE="RDF Ledger",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
        # Records per transaction in POST /dispensings/batch (1: one at a time).
        RDF_BATCH_CHUNK=int(os.environ.get("RDF_BATCH_CHUNK") or 100),
    )
    if config:
        app.config.update(config)
    if not app.config["SECRET_KEY"]:
        if app.config["RDF_ENV"] == "development" or app.config.get("TESTING"):
            app.config["SECRET_KEY"] = "development-only-" + secrets.token_hex(8)
        else:
            raise RuntimeError(
                "RDF_SECRET_KEY must be set (or RDF_ENV=development for a local demo)"
            )
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    attach_database(app, app.config["DATABASE_URL"])

    api = Api(
        app,
        spec_kwargs={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    register_blueprints(app, api)
    app.before_request(authorise_request)
    app.before_request(refuse_nul)
    app.after_request(lambda response: record_response(app, request, response))
    app.teardown_appcontext(close_session)
    register_error_handlers(app)
    register_commands(app)
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
    db = Database(url)
    app.extensions["rdf_db"] = db
    app.extensions["rdf_auth_limiter"] = BadTokenLimiter()
    app.extensions["rdf_after_commit"] = seal_after_commit(
        db.sessionmaker, mode=mode, interval_ms=int(interval)
    )
    return db


def register_blueprints(app: Flask, api: Api) -> None:
    """Every package's HTTP layer; each view declares who may call it (``@access``)."""
    from api.audit import blp as audit_blp
    from api.care import blp as care_blp
    from api.contracts import blp as contracts_blp
    from api.dispensing import blp as dispensing_blp
    from api.fhir import blp as fhir_blp
    from api.invoices import blp as invoices_blp
    from api.ledger import blp as ledger_blp
    from api.ledger import health
    from api.reports import blp as reports_blp
    from api.settlements import blp as settlements_blp
    from api.stock import blp as stock_blp

    app.register_blueprint(health)
    for blp in (
        ledger_blp,
        stock_blp,
        contracts_blp,
        dispensing_blp,
        invoices_blp,
        settlements_blp,
        reports_blp,
        audit_blp,
        care_blp,
        fhir_blp,
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
    from commands import register

    register(app)
