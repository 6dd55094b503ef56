"""Browser tests: ONE live server (werkzeug in a thread, a SQLite file seeded with the demo
fund) and ONE headless Chromium (Debian's ``chromium``, driven by Playwright's Python
package with ``executable_path``: no browser is downloaded) for the whole session.

Without /usr/bin/chromium the tests are skipped with how to install it, except under CI
(the ``CI`` variable set), where they fail instead."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("RDF_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _need_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing: apt-get install -y chromium"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def closing_as_it_ends(app: Any) -> Any:
    """``app`` whose answer (a static file's wrapper) is closed as soon as it has been sent,
    or when it is dropped: the development server closes it only after a read of the
    socket that raises when the browser has already gone (it leaves a page for the next one
    mid-font), and the file, left to the garbage collector, fails a later test with an
    unraisable ResourceWarning."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        answer = app(environ, start_response)
        try:
            yield from answer
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    return wsgi


@pytest.fixture(scope="session")
def live_server() -> Iterator[dict[str, Any]]:
    """The app on a free port of 127.0.0.1, seeded; yields its base URL and tokens."""
    import demo
    from app import create_app
    from commands import upgrade

    _need_chromium()
    folder = tempfile.mkdtemp(prefix="rdf-browser-")
    url = f"sqlite:///{folder}/rdf.sqlite3"
    upgrade(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "browser-tests"})
    with app.extensions["rdf_db"].session() as s:
        tokens = demo.seed(s)
        demo.seed_passwords(s)
        s.commit()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = make_server("127.0.0.1", port, closing_as_it_ends(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"base": f"http://localhost:{port}", "tokens": tokens, "app": app}
    server.shutdown()
    app.extensions["rdf_db"].dispose()


@pytest.fixture(scope="session")
def browser(live_server: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page_at(browser: Any, live_server: dict[str, Any]) -> Iterator[Any]:
    """A fresh context (its own cookies, storage and service worker) per test."""
    contexts: list[Any] = []

    def make(width: int = 360, height: int = 740) -> Any:
        ctx = browser.new_context(
            viewport={"width": width, "height": height}, base_url=live_server["base"]
        )
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def sign_in(page: Any, name: str, password: str | None = None) -> None:
    page.goto("/app/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password or f"{name}-demo-2026")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/app")
