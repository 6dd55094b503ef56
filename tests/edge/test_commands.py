"""The commands as a new user meets them (22.10, 23.5, 23.6): token expiry on create-user and
rotate-token, db-upgrade says what it applied, a second seed-demo says how to get a token,
and a missing RDF_SECRET_KEY is one line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ledger.tables import User
from tests.support import bearer, make_app

ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).parent / "flask"


def expires_at(app: Flask, name: str) -> datetime | None:
    with app.extensions["rdf_db"].session() as s:
        when: datetime | None = s.scalar(select(User.expires_at).where(User.name == name))
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def test_create_user_and_rotate_token_take_expires_in_days(app: Flask, client: FlaskClient) -> None:
    runner = app.test_cli_runner()
    out = runner.invoke(args=["create-user", "temp", "--role", "auditor", "--expires-in", "30"])
    assert out.exit_code == 0, out.output
    token = out.output.strip().splitlines()[-1]
    left = expires_at(app, "temp")
    assert left is not None
    assert timedelta(days=29) < left - datetime.now(UTC) <= timedelta(days=30)
    assert client.get("/api/v1/periods", headers=bearer(token)).status_code == 200

    out = runner.invoke(args=["rotate-token", "temp", "--expires-in", "7"])
    assert out.exit_code == 0, out.output
    new = out.output.strip().splitlines()[-1]
    left = expires_at(app, "temp")
    assert left is not None and left - datetime.now(UTC) <= timedelta(days=7)
    assert client.get("/api/v1/periods", headers=bearer(new)).status_code == 200
    assert client.get("/api/v1/periods", headers=bearer(token)).status_code == 401

    # Rotating without --expires-in gives a token that does not expire.
    out = runner.invoke(args=["rotate-token", "temp"])
    assert out.exit_code == 0 and expires_at(app, "temp") is None

    bad = runner.invoke(args=["create-user", "x", "--role", "auditor", "--expires-in", "0"])
    assert bad.exit_code != 0
    unknown = runner.invoke(args=["rotate-token", "nobody"])
    assert unknown.exit_code != 0 and "no user named 'nobody'" in unknown.output


def test_db_upgrade_says_what_it_applied_on_an_empty_database(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        runner = app.test_cli_runner()
        first = runner.invoke(args=["db-upgrade"])
        assert first.exit_code == 0, first.output
        assert "up to date" not in first.output
        assert "applied" in first.output and "0001" in first.output
        again = runner.invoke(args=["db-upgrade"])
        assert "up to date" in again.output and "0001" not in again.output
    finally:
        app.extensions["rdf_db"].dispose()


def test_a_second_seed_demo_says_how_to_get_a_token(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo", "--if-empty"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["seed-demo", "--if-empty"])
    assert second.exit_code == 0
    assert "rotate-token" in second.output


def run_flask(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RDF_SECRET_KEY", "RDF_ENV")}
    env.update(RDF_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    return subprocess.run(
        [str(FLASK), "--app", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_missing_secret_is_one_line_for_commands_and_the_server(tmp_path: Path) -> None:
    for args in (("create-user", "x", "--role", "admin"), ("run", "--port", "5099")):
        done = run_flask(*args, tmp_path=tmp_path)
        assert done.returncode != 0
        assert "Traceback" not in done.stderr, done.stderr
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        assert lines == [
            "Error: RDF_SECRET_KEY must be set (or RDF_ENV=development for a local demo)"
        ], done.stderr
