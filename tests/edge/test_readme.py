"""The README as a new user follows it (23.5, 23.6, 23.8): commands in a form that works in a
fresh shell, make targets that do what it says, curl examples on routes that exist, current
figures, and an operating section that states the limits."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.exceptions import MethodNotAllowed, NotFound

from api.limits import MAX_JSON_DEPTH

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def make_dry_run(*args: str) -> str:
    if shutil.which("make") is None:
        pytest.fail("make is needed (the README's two commands are make targets)")
    done = subprocess.run(
        ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_run_takes_a_port_and_defaults_to_5000() -> None:
    assert "--port 5077" in make_dry_run("run", "PORT=5077")
    assert "--port 5000" in make_dry_run("run")


def test_make_flask_runs_the_projects_flask_with_the_environment_stated() -> None:
    out = make_dry_run("flask", "ARGS=export-beancount --to books.beancount")
    assert ".venv/bin/flask --app app export-beancount --to books.beancount" in out
    assert "RDF_ENV=${RDF_ENV:-development}" in out


def test_make_test_runs_what_the_readme_says() -> None:
    out = make_dry_run("test")
    for tool in ("ruff check", "ruff format --check", "lint-imports", "mypy", "pytest"):
        assert tool in out, tool
        assert tool in README.split("## A first session")[0] or tool in README, tool


def test_every_flask_command_of_the_readme_has_a_form_that_works_in_a_fresh_shell() -> None:
    for line in README.splitlines():
        for m in re.finditer(r"(\S*)flask --app app", line):
            assert m.group(1).endswith(".venv/bin/"), line
    assert 'make flask ARGS="rotate-token' in README


def test_the_readme_says_what_the_service_does_without_pointing_outside_the_repository() -> None:
    assert "../shared" not in README and "DESIGN.md" not in README
    assert "revolving drug fund" in README and "double-entry" in README


def test_the_readme_figures_are_the_current_ones() -> None:
    for stale in ("35–40", "~27 ms", "55–83/s", "669–714"):  # earlier sessions' figures
        assert stale not in README, stale
    results = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    fifth = results.split("### Fifth session")[1].split("\n### ")[0]
    for figure in ("225–248", "1,893–2,034", "437 ms"):
        assert figure in README and figure in fifth, figure


def test_the_operating_section_states_limits_headers_tokens_and_throttling() -> None:
    operating = README.split("## Operating")[1].split("\n## ")[0]
    for needle in (
        "1 MiB",
        f"{MAX_JSON_DEPTH} ",
        "415",
        "nosniff",
        "no-store",
        "Content-Security-Policy",
        "Strict-Transport-Security",
        "Referrer-Policy",
        "--expires-in",
        "429",
        "RDF_TRUSTED_PROXIES",
        "/api/v1/docs",
    ):
        assert needle in operating, needle
    assert "rotate-token NAME --expires-in" in README


def test_the_curl_examples_name_routes_that_exist(app: Flask) -> None:
    """Every ``$B/api/v1/…`` of the README routes to a view for its method."""
    adapter = app.url_map.bind("localhost")
    seen = 0
    for block in re.findall(r"```sh\n(.*?)```", README, re.DOTALL):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            for url in re.findall(r"\$B(/[^\s\"'?]*)", line):
                path = re.sub(r"\$\w+", "1", url)
                method = "POST" if " -d " in line or "-X POST" in line else "GET"
                try:
                    adapter.match(path, method=method)
                except (NotFound, MethodNotAllowed) as exc:
                    pytest.fail(f"{method} {path} of the README: {exc}")
                seen += 1
    assert seen >= 8
    for route in ("/dispensings", "/returns", "/exports/beancount", "format=csv", "format=xlsx"):
        assert route in README, route
    assert "| python3 -m json.tool" in README
