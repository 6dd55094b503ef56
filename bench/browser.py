"""Shared by the page benches (page_load.py, outbox.py): the app on a free port of
127.0.0.1 (werkzeug in a thread, a fresh SQLite file migrated and seeded with the demo
fund, as tests/browser/conftest.py does; bench never imports tests/), a count of the bytes
the server sent, Debian's Chromium driven by Playwright, and sign-in as a demo user."""

from __future__ import annotations

import logging
import re
import socket
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHARMACY = "P-TAKEO"
PHARMACIST = "pharmacist-p-takeo"


@dataclass
class ByteCount:
    """Bytes of response bodies and headers the server sent, per path, since ``reset``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    by_path: dict[str, list[int]] = field(default_factory=dict)  # path -> [requests, bytes]

    def reset(self) -> None:
        with self.lock:
            self.by_path = {}

    def add(self, path: str, n: int) -> None:
        with self.lock:
            row = self.by_path.setdefault(path, [0, 0])
            row[0] += 1
            row[1] += n

    def total(self) -> int:
        with self.lock:
            return sum(b for _, b in self.by_path.values())

    def rows(self) -> list[tuple[str, int, int]]:
        with self.lock:
            return sorted(((p, r, b) for p, (r, b) in self.by_path.items()), key=lambda t: -t[2])


def counting(wsgi_app: Callable[..., Iterable[bytes]], count: ByteCount) -> Callable[..., Any]:
    """WSGI middleware adding to ``count`` the status line, headers and body of each answer."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        path = environ.get("PATH_INFO", "")
        head = [0]

        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            head[0] = len(status) + 11 + sum(len(k) + len(v) + 4 for k, v in headers) + 2
            return start_response(status, headers, *exc)

        body = 0
        result = wsgi_app(environ, start)
        try:
            for chunk in result:
                body += len(chunk)
                yield chunk
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
            count.add(path, head[0] + body)

    return app


@dataclass
class Server:
    base: str
    tokens: dict[str, tuple[str, str]]
    app: Any
    count: ByteCount
    stop: Callable[[], None]


def start_server() -> Server:
    """The app, seeded with the demo fund, on a free port of 127.0.0.1."""
    sys_path_root()
    import demo
    from app import create_app
    from commands import upgrade

    folder = tempfile.mkdtemp(prefix="rdf-bench-pages-")
    url = f"sqlite:///{folder}/rdf.sqlite3"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-pages"})
    with app.extensions["rdf_db"].session() as s:
        tokens = demo.seed(s)
        demo.seed_passwords(s)
        s.commit()
    count = ByteCount()
    app.wsgi_app = counting(app.wsgi_app, count)  # type: ignore[method-assign]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        app.extensions["rdf_db"].dispose()

    return Server(f"http://localhost:{port}", tokens, app, count, stop)


def sys_path_root() -> None:
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def sign_in_request(context: Any, name: str = PHARMACIST) -> None:
    """Sign in through the context's request API (shares the cookies, leaves the browser's
    HTTP cache cold, so the first page load that follows is a true first load)."""
    page = context.request.get("/app/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text())
    assert token, "no CSRF token on the sign-in page"
    r = context.request.post(
        "/app/login",
        form={"csrf_token": token.group(1), "username": name, "password": f"{name}-demo-2026"},
        max_redirects=0,
    )
    assert r.status in (302, 303), f"sign-in refused: {r.status}"


def api_get(context: Any, server: Server, path: str, role: str = "finance") -> Any:
    token = server.tokens[role][1]
    r = context.request.get(path, headers={"Authorization": f"Bearer {token}"})
    assert r.ok, r.text()
    return r.json()
