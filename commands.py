"""``flask --app app …`` commands: migrate, users and tokens, demo data."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from sqlalchemy import create_engine, pool, select

import demo
from api.auth import create_user, revoke, rotate_token, set_password
from ledger import chart, clock
from ledger.db import Database, sqlite_read_only
from ledger.errors import RdfError
from ledger.sealing import ChainBroken, seal_pending, verify
from ledger.settings import set_functional_currency
from ledger.tables import Account, User
from reports.exports import export_beancount

ROOT = Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str) -> None:
    """Run every Alembic migration up to head on ``url``."""
    command.upgrade(alembic_config(url), "heads")


def current_revisions(url: str) -> set[str]:
    """The Alembic revisions the database at ``url`` is at (empty: never migrated)."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as c:
            return set(MigrationContext.configure(c).get_current_heads())
    finally:
        engine.dispose()


def applied_between(url: str, before: set[str], after: set[str]) -> list[str]:
    """The revisions (oldest first) that took the schema from ``before`` to ``after``."""
    script = ScriptDirectory.from_config(alembic_config(url))
    done_before: set[str] = set()
    for head in before:
        done_before.update(r.revision for r in script.iterate_revisions(head, "base"))
    out = []
    for head in after:
        for r in script.iterate_revisions(head, "base"):
            if r.revision not in done_before and r.revision not in out:
                out.append(r.revision)
    return sorted(out)


def expiry(days: int | None) -> datetime | None:
    """``--expires-in DAYS`` as a moment (None: the token does not expire)."""
    return None if days is None else clock.now() + timedelta(days=days)


EXPIRES_IN = click.option(
    "--expires-in",
    "days",
    type=click.IntRange(min=1, max=3650),
    default=None,
    help="the token stops working after DAYS days (default: never; rotate to renew)",
)


def _db() -> Database:
    db: Database = current_app.extensions["rdf_db"]
    return db


def register(app: Flask) -> None:
    @app.cli.command("db-upgrade")
    def db_upgrade() -> None:
        """Create or upgrade the schema (Alembic migrations); says what it applied."""
        url = current_app.config["DATABASE_URL"]
        before = current_revisions(url)
        upgrade(url)
        applied = applied_between(url, before, current_revisions(url))
        if not applied:
            click.echo("schema is up to date (nothing to apply)")
        elif not before:
            click.echo(
                f"created the schema: applied {len(applied)} revisions ({', '.join(applied)})"
            )
        else:
            click.echo(f"upgraded the schema: applied {', '.join(applied)}")

    @app.cli.command("create-user")
    @click.argument("name")
    @click.option(
        "--role",
        required=True,
        type=click.Choice(["admin", "finance", "auditor", "pharmacist", "educator"]),
    )
    @click.option("--pharmacy", default=None, help="pharmacy code (pharmacists only)")
    @click.option("--educator", default=None, help="peer educator code (educators only)")
    @EXPIRES_IN
    def create_user_cmd(
        name: str, role: str, pharmacy: str | None, educator: str | None, days: int | None
    ) -> None:
        """Create a user; prints its token as the last line (shown only once)."""

        with _db().session() as s:
            if pharmacy is not None:
                if s.get(Account, chart.due_from_pharmacy(pharmacy)) is None:
                    raise click.ClickException(f"no pharmacy {pharmacy!r}")
            try:
                _user, token = create_user(
                    s, name, role, pharmacy, expires_at=expiry(days), educator=educator
                )
            except RdfError as exc:
                raise click.ClickException(exc.detail) from exc
            s.commit()
        until = f" (expires in {days} days)" if days else ""
        click.echo(f"created {role} {name}{until}; token:")
        click.echo(token)

    @app.cli.command("rotate-token")
    @click.argument("name")
    @EXPIRES_IN
    def rotate_token_cmd(name: str, days: int | None) -> None:
        """Give a user a new token (the old one stops working); prints it last."""

        with _db().session() as s:
            if s.scalar(select(User.id).where(User.name == name)) is None:
                raise click.ClickException(f"no user named {name!r}")
            token = rotate_token(s, name, expires_at=expiry(days))
            s.commit()
        until = f" (expires in {days} days)" if days else ""
        click.echo(f"new token for {name}{until}:")
        click.echo(token)

    @app.cli.command("revoke-token")
    @click.argument("name")
    def revoke_token_cmd(name: str) -> None:
        """Revoke a user's token at once."""

        with _db().session() as s:
            revoke(s, name)
            s.commit()
        click.echo(f"revoked the token of {name}")

    @app.cli.command("set-password")
    @click.argument("name")
    def set_password_cmd(name: str) -> None:
        """Set a user's password for the pages, read from standard input (one line)."""
        password = sys.stdin.readline().rstrip("\r\n")
        with _db().session() as s:
            try:
                set_password(s, name, password)
            except RdfError as exc:
                raise click.ClickException(exc.detail) from exc
            s.commit()
        click.echo(f"password set for {name}")

    @app.cli.command("seal")
    def seal_cmd() -> None:
        """Seal every committed entry not sealed yet (waits for a running sealer)."""

        try:
            n = seal_pending(_db().sessionmaker, blocking=True)
        except ChainBroken as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"sealed {n} entries")

    @app.cli.command("verify")
    def verify_cmd() -> None:
        """Recompute the hash chain; prints the report as JSON, exits 1 when not ok."""

        report = verify(_db().sessionmaker, current_app.extensions.get("rdf_verify_checks", ()))
        click.echo(json.dumps(report.as_json(), indent=2))
        if not report.ok:
            raise SystemExit(1)

    @app.cli.command("export-beancount")
    @click.option(
        "--to",
        "path",
        required=True,
        type=click.Path(dir_okay=False, writable=True),
        help="file to write ('-' for standard output)",
    )
    @click.option(
        "--from",
        "start",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        help="first accounting date (opening balances are booked on it)",
    )
    @click.option(
        "--to-date",
        "end",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        help="last accounting date (inclusive)",
    )
    def export_beancount_cmd(path: str, start: Any, end: Any) -> None:
        """Write the journal as a Beancount 3 file, streamed (memory does not grow)."""

        first = start.date() if start else None
        last = end.date() if end else None
        if first and last and last < first:
            raise click.BadParameter("must not be before --from", param_hint="--to-date")
        sqlite_read_only.set(True)
        with click.open_file(path, "w", encoding="utf-8") as out, _db().session() as s:

            def write(text: str) -> None:
                out.write(text)

            export_beancount(
                s,
                write,
                start=first,
                end=last,
                title=current_app.config["FUND_NAME"],
            )
        if path != "-":
            click.echo(f"wrote {path}", err=True)

    @app.cli.command("set-functional-currency")
    @click.argument("currency")
    def set_functional_currency_cmd(currency: str) -> None:
        """Choose the fund's functional currency (KHR or USD) before anything is posted."""
        with _db().session() as s:
            try:
                done = set_functional_currency(s, currency, by="flask set-functional-currency")
            except RdfError as exc:
                raise click.ClickException(exc.detail) from exc
            s.commit()
        if done.changed:
            click.echo(f"the functional currency is now {done.currency}")
        else:
            click.echo(f"the functional currency is already {done.currency}; nothing changed")

    @app.cli.command("seed-demo")
    @click.option("--if-empty", is_flag=True, help="do nothing if the books have entries")
    def seed_demo_cmd(if_empty: bool) -> None:
        """Load a realistic small fund and print one token per role."""
        """Load a realistic small fund and print one token per role (and, when
        RDF_ENV=development, a password per user for the pages)."""

        development = current_app.config["RDF_ENV"] == "development"

        with _db().session() as s:
            if if_empty and demo.has_data(s):
                click.echo("the books already hold data; demo not loaded")
                click.echo(
                    "tokens are shown only once; for a new one: "
                    'make flask ARGS="rotate-token finance" '
                    "(or admin, auditor, pharmacist-<code>)"
                )
                return
            tokens = demo.seed(s)
            passwords = demo.seed_passwords(s) if development else {}
            s.commit()
        for role, (name, token) in tokens.items():
            click.echo(f"{role:<11} {name:<16} {token}")
        if passwords:
            click.echo("passwords for the pages at /app (development only):")
            for name, password in passwords.items():
                click.echo(f"  {name:<16} {password}")
