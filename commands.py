"""``flask --app app …`` commands: migrate, users and tokens, demo data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app

from ledger.db import Database
from ledger.errors import RdfError

ROOT = Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str) -> None:
    """Run every Alembic migration up to head on ``url``."""
    command.upgrade(alembic_config(url), "heads")


def _db() -> Database:
    db: Database = current_app.extensions["rdf_db"]
    return db


def register(app: Flask) -> None:
    @app.cli.command("db-upgrade")
    def db_upgrade() -> None:
        """Create or upgrade the schema (Alembic migrations)."""
        upgrade(current_app.config["DATABASE_URL"])
        click.echo("schema is up to date")

    @app.cli.command("create-user")
    @click.argument("name")
    @click.option(
        "--role",
        required=True,
        type=click.Choice(["admin", "finance", "auditor", "pharmacist", "educator"]),
    )
    @click.option("--pharmacy", default=None, help="pharmacy code (pharmacists only)")
    @click.option("--educator", default=None, help="peer educator code (educators only)")
    def create_user_cmd(name: str, role: str, pharmacy: str | None, educator: str | None) -> None:
        """Create a user; prints its token as the last line (shown only once)."""
        from api.auth import create_user

        with _db().session() as s:
            if pharmacy is not None:
                from ledger.tables import Account

                if s.get(Account, f"1200-{pharmacy}") is None:
                    raise click.ClickException(f"no pharmacy {pharmacy!r}")
            try:
                _user, token = create_user(s, name, role, pharmacy, educator=educator)
            except RdfError as exc:
                raise click.ClickException(exc.detail) from exc
            s.commit()
        click.echo(f"created {role} {name}; token:")
        click.echo(token)

    @app.cli.command("rotate-token")
    @click.argument("name")
    def rotate_token_cmd(name: str) -> None:
        """Give a user a new token (the old one stops working); prints it last."""
        from api.auth import rotate_token

        with _db().session() as s:
            token = rotate_token(s, name)
            s.commit()
        click.echo(f"new token for {name}:")
        click.echo(token)

    @app.cli.command("revoke-token")
    @click.argument("name")
    def revoke_token_cmd(name: str) -> None:
        """Revoke a user's token at once."""
        from api.auth import revoke

        with _db().session() as s:
            revoke(s, name)
            s.commit()
        click.echo(f"revoked the token of {name}")

    @app.cli.command("seal")
    def seal_cmd() -> None:
        """Seal every committed entry not sealed yet (waits for a running sealer)."""
        from ledger.sealing import ChainBroken, seal_pending

        try:
            n = seal_pending(_db().sessionmaker, blocking=True)
        except ChainBroken as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"sealed {n} entries")

    @app.cli.command("verify")
    def verify_cmd() -> None:
        """Recompute the hash chain; prints the report as JSON, exits 1 when not ok."""
        import json

        from ledger.sealing import verify

        report = verify(_db().sessionmaker)
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
        from ledger.db import sqlite_read_only
        from reports.exports import export_beancount

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

    @app.cli.command("seed-demo")
    @click.option("--if-empty", is_flag=True, help="do nothing if the books have entries")
    def seed_demo_cmd(if_empty: bool) -> None:
        """Load a realistic small fund and print one token per role."""
        import demo

        with _db().session() as s:
            if if_empty and demo.has_data(s):
                click.echo("the books already hold data; demo not loaded")
                return
            tokens = demo.seed(s)
            s.commit()
        for role, (name, token) in tokens.items():
            click.echo(f"{role:<11} {name:<16} {token}")
