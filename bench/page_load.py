"""The dispense page (/app/dispense) in Debian's Chromium on a slow phone line: time until
the form is usable, and bytes transferred on a first and on a repeat visit.

    .venv/bin/python bench/page_load.py [--runs 3] [--langs en,km] [--latency-ms 400]
        [--down-kbps 400] [--up-kbps 400] [--cpu 4]

Starts the app on a fresh SQLite file seeded with the demo fund (bench/browser.py), signs
in as the demo pharmacist of P-TAKEO through the request API (so the browser's cache is
cold), then through the DevTools protocol throttles the page's network
(Network.emulateNetworkConditions: by default 400 ms latency, 400 kbit/s each way, the
figures of "Slow 3G") and CPU (Emulation.setCPUThrottlingRate 4) and opens /app/dispense:

- interactive: ms from the navigation's start to the page's ``rdf-ready`` mark
  (dispense.js sets it, with ``body[data-ready=1]``, once the form's handlers are in place;
  the bench also waits until the Patient field is enabled); first contentful paint,
  DOMContentLoaded and load alongside;
- bytes: the page's own (sum of Network.loadingFinished encodedDataLength: headers and
  bodies as received, SW-served answers apart) and what the server sent meanwhile
  (status line, headers, body: includes the service worker's own fetches, which the page's
  DevTools session does not see), per path;
- the repeat visit: the same page opened again in the same browser once its service
  worker is active.

Targets (issue 16): interactive <= 2 s, first load <= 150 KB, repeat visit near zero.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import PHARMACIST, Server, launch, sign_in_request, start_server  # noqa: E402
from common import ROOT, machine_line  # noqa: E402

READY = (
    "() => document.body && document.body.dataset.ready === '1'"
    " && !document.getElementById('patient').disabled"
)
TIMINGS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const mark = performance.getEntriesByName('rdf-ready')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return {ready: mark ? mark.startTime : null, fcp: fcp ? fcp.startTime : null,
          dcl: nav ? nav.domContentLoadedEventEnd : null, load: nav ? nav.loadEventEnd : null};
}"""


def commit_line() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "web", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"commit: {head}{' (web/ or bench/ modified)' if dirty else ''}"


def print_header(title: str) -> None:
    print(f"== {title}")
    print("date: " + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    print(machine_line())
    print(commit_line())
    print("database: SQLite (a fresh file, demo fund)")
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    sys.stdout.flush()


class PageBytes:
    """Bytes the page received, from its DevTools session (Network domain)."""

    def __init__(self, cdp: Any) -> None:
        self.urls: dict[str, str] = {}
        self.from_sw: set[str] = set()
        self.network = 0
        self.sw = 0
        self.rows: list[tuple[str, int, bool]] = []
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)

    def reset(self) -> None:
        self.network = self.sw = 0
        self.rows = []

    def _response(self, e: dict[str, Any]) -> None:
        self.urls[e["requestId"]] = e["response"]["url"]
        if e["response"].get("fromServiceWorker"):
            self.from_sw.add(e["requestId"])

    def _finished(self, e: dict[str, Any]) -> None:
        n = int(e.get("encodedDataLength") or 0)
        sw = e["requestId"] in self.from_sw
        if sw:
            self.sw += n
        else:
            self.network += n
        self.rows.append((self.urls.get(e["requestId"], "?"), n, sw))


def visit(page: Any, path: str, pb: PageBytes, server: Server) -> dict[str, Any]:
    pb.reset()
    server.count.reset()
    t0 = time.perf_counter()
    page.goto(path, wait_until="commit", timeout=120_000)
    page.wait_for_function(READY, timeout=120_000)
    wall = (time.perf_counter() - t0) * 1000
    page.wait_for_load_state("load", timeout=120_000)
    page.wait_for_load_state("networkidle", timeout=120_000)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_timeout(1500)  # the service worker's install fetches, if any
    t = page.evaluate(TIMINGS)
    return {
        **t,
        "wall": wall,
        "page_net": pb.network,
        "page_sw": pb.sw,
        "server": server.count.total(),
        "server_rows": server.count.rows(),
        "page_rows": list(pb.rows),
        "font": page.evaluate(
            "() => [...document.fonts].filter(f => f.status === 'loaded')"
            ".map(f => f.family + ' ' + f.weight + ' ' + f.unicodeRange.slice(0, 10))"
        ),
    }


def run_once(browser: Any, server: Server, lang: str, args: argparse.Namespace) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=server.base)
    try:
        sign_in_request(context, PHARMACIST)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": args.latency_ms,
                "downloadThroughput": args.down_kbps * 1000 / 8,
                "uploadThroughput": args.up_kbps * 1000 / 8,
            },
        )
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": args.cpu})
        pb = PageBytes(cdp)
        first = visit(page, f"/app/dispense?lang={lang}", pb, server)
        controlled = page.evaluate("!!navigator.serviceWorker.controller")
        repeat = visit(page, "/app/dispense", pb, server)
        repeat["controlled_before"] = controlled
        return {"first": first, "repeat": repeat}
    finally:
        context.close()


def kb(n: float) -> str:
    return f"{n / 1000:.1f} KB"


def show(label: str, v: dict[str, Any], detail: bool) -> None:
    fmt = lambda x: "—" if x is None else f"{x:.0f}"  # noqa: E731
    print(
        f"  {label:7} interactive {fmt(v['ready'])} ms (wall {v['wall']:.0f} ms)  "
        f"FCP {fmt(v['fcp'])} ms  DCL {fmt(v['dcl'])} ms  load {fmt(v['load'])} ms  | "
        f"page network {kb(v['page_net'])}, from SW {kb(v['page_sw'])}  | "
        f"server sent {kb(v['server'])}"
    )
    if detail:
        for path, reqs, n in v["server_rows"]:
            print(f"      server {n:>7} B  {reqs} x {path}")
        for url, n, sw in v["page_rows"]:
            print(f"      page   {n:>7} B  {'SW ' if sw else '   '} {url.split('//', 1)[-1]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--langs", default="en,km")
    ap.add_argument("--latency-ms", type=float, default=400)
    ap.add_argument("--down-kbps", type=float, default=400)
    ap.add_argument("--up-kbps", type=float, default=400)
    ap.add_argument("--cpu", type=float, default=4)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    print_header("page load: /app/dispense, first and repeat visit")
    print(
        f"throttling: latency {args.latency_ms:.0f} ms, down {args.down_kbps:.0f} kbit/s, "
        f"up {args.up_kbps:.0f} kbit/s, CPU x{args.cpu:g}; viewport 360x740; "
        f"Chromium {CHROMIUM_VERSION()}"
    )
    server = start_server()
    try:
        with sync_playwright() as p:
            browser = launch(p)
            try:
                for lang in args.langs.split(","):
                    results = []
                    print(f"-- lang={lang}")
                    for i in range(args.runs):
                        r = run_once(browser, server, lang, args)
                        results.append(r)
                        print(f" run {i + 1}:")
                        show("first", r["first"], detail=i == 0)
                        show("repeat", r["repeat"], detail=i == 0)
                        if i == 0:
                            print("      fonts loaded: " + "; ".join(r["first"]["font"]))
                    for key in ("first", "repeat"):
                        ready = statistics.median(r[key]["ready"] for r in results)
                        page_net = statistics.median(r[key]["page_net"] for r in results)
                        sent = statistics.median(r[key]["server"] for r in results)
                        print(
                            f" median {key:6} (lang={lang}, {args.runs} runs): interactive "
                            f"{ready:.0f} ms, page network {kb(page_net)}, server sent {kb(sent)}"
                        )
            finally:
                browser.close()
    finally:
        server.stop()


def CHROMIUM_VERSION() -> str:  # noqa: N802
    out = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


if __name__ == "__main__":
    main()
