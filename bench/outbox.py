"""The offline outbox of /app/dispense in Debian's Chromium: N records made offline, then
the connection back; time until every record is marked Sent, and the books checked.

    .venv/bin/python bench/outbox.py [--n 200] [--fill js|ui] [--throttle] [--runs 1]

Starts the app on a fresh SQLite file seeded with the demo fund (bench/browser.py), signs
in as the demo pharmacist of P-TAKEO, opens /app/dispense and reloads it once the service
worker is active (so the page is controlled), then goes offline
(``context.set_offline(True)``) and makes N records: ``--fill js`` (default) puts them in
the IndexedDB outbox exactly as the form's submit handler does (``RdfOutbox.newClientRef``
then ``RdfOutbox.add``), ``--fill ui`` fills the form and presses **Record dispensing** N
times. The page is reloaded offline (shell from the service worker, queue from IndexedDB)
and must show "Waiting to send: N". Then the clock starts and the connection comes back
(``set_offline(False)``): nothing is clicked, the page's ``online`` handler sends the
queue (one POST /api/v1/dispensings/batch). Printed: ms until every record in IndexedDB is
``sent`` and the page shows "Waiting to send: 0" with its list all Sent, the batch
request's own time on the server, and the books through the API (finance's token):
N dispensings at P-TAKEO with these client_refs, each exactly once, and each record's
figures equal to the server's. ``--throttle``: slow 3G (400 ms, 400 kbit/s each way) and
4x CPU through the DevTools protocol, as bench/page_load.py.

Target (issue 16): all Sent within 5 s of the connection coming back.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import (  # noqa: E402
    PHARMACIST,
    PHARMACY,
    Server,
    api_get,
    launch,
    sign_in_request,
    start_server,  # noqa: E402
)
from page_load import print_header  # noqa: E402

#: demo medicines P-TAKEO holds thousands of (demo/stock.py)
MEDICINES = ["MET500", "AML5", "ASP100"]

ADD_JS = """async ([n, pharmacy, medicines, today]) => {
  for (let i = 0; i < n; i++) {
    const b = { pharmacy, patient: 'M-' + String(1 + (i % 200)).padStart(5, '0'),
                service_date: today,
                items: [{ medicine: medicines[i % medicines.length], quantity: 1 + (i % 3) }] };
    b.client_ref = window.RdfOutbox.newClientRef();
    await window.RdfOutbox.add(b, { days_supply: [30] });
  }
  return n;
}"""
STATES = """async () => {
  const recs = await window.RdfOutbox.all();
  const by = {};
  for (const r of recs) by[r.state] = (by[r.state] || 0) + 1;
  return by;
}"""
ALL_SENT = """async (n) => {
  const recs = await window.RdfOutbox.all();
  const sent = recs.filter((r) => r.state === 'sent').length;
  const count = document.getElementById('outbox-count').textContent.trim();
  const shown = [...document.querySelectorAll('#outbox-list li .state')];
  return sent === n && recs.length === n && /: 0$/.test(count)
    && shown.length > 0 && shown.every((s) => s.textContent.trim() === 'Sent');
}"""
RECORDS = """async () => (await window.RdfOutbox.all()).map((r) => ({ problem: r.problem,
  client_ref: r.client_ref, state: r.state,
  copay: r.answer && r.answer.total_copayment, id: r.answer && r.answer.id }))"""


def books(context: Any, server: Server, refs: set[str]) -> collections.Counter[str]:
    """client_ref -> number of dispensings at P-TAKEO, through the API."""
    seen: collections.Counter[str] = collections.Counter()
    cursor = None
    while True:
        q = f"/api/v1/dispensings?pharmacy={PHARMACY}&limit=100"
        if cursor:
            q += f"&cursor={cursor}"
        page = api_get(context, server, q)
        for d in page["items"]:
            if d.get("client_ref") in refs:
                seen[d["client_ref"]] += 1
        cursor = page.get("next_cursor")
        if not cursor:
            return seen


def run_once(browser: Any, server: Server, args: argparse.Namespace) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=server.base)
    context.set_default_timeout(120_000)
    try:
        sign_in_request(context, PHARMACIST)
        page = context.new_page()
        if args.throttle:
            cdp = context.new_cdp_session(page)
            cdp.send(
                "Network.emulateNetworkConditions",
                {
                    "offline": False,
                    "latency": 400,
                    "downloadThroughput": 400_000 / 8,
                    "uploadThroughput": 400_000 / 8,
                },
            )
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
        page.goto("/app/dispense")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()
        page.wait_for_function("document.body.dataset.ready === '1'")
        assert page.evaluate("!!navigator.serviceWorker.controller"), "not controlled by the SW"
        today = page.evaluate("document.getElementById('dispense-form').dataset.today")
        medicines = MEDICINES
        context.set_offline(True)
        t_fill = time.perf_counter()
        if args.fill == "js":
            page.evaluate(ADD_JS, [args.n, PHARMACY, medicines, today])
        else:
            for i in range(args.n):
                page.get_by_label("Patient").fill(f"M-{1 + (i % 200):05d}")
                page.get_by_label("Medicine").last.fill(medicines[i % len(medicines)])
                page.get_by_label("Quantity").last.fill(str(1 + (i % 3)))
                page.get_by_role("button", name="Record dispensing").click()
                page.wait_for_function(
                    "(n) => document.getElementById('outbox-count').textContent.trim()"
                    ".endsWith(': ' + n)",
                    arg=i + 1,
                )
        fill_s = time.perf_counter() - t_fill
        page.reload()  # offline: the shell from the service worker, the queue from IndexedDB
        page.wait_for_function("document.body.dataset.ready === '1'")
        page.wait_for_function(
            "(n) => document.getElementById('outbox-count').textContent.trim().endsWith(': ' + n)",
            arg=args.n,
        )
        waiting = page.evaluate(STATES)
        server.count.reset()
        t0 = time.perf_counter()
        context.set_offline(False)
        # page.evaluate awaits the async check (wait_for_function would not): poll every 50 ms
        while not page.evaluate(ALL_SENT, args.n):
            if time.perf_counter() - t0 > 120:
                raise TimeoutError(f"not all Sent after 120 s: {page.evaluate(STATES)}")
            page.wait_for_timeout(50)
        all_sent_ms = (time.perf_counter() - t0) * 1000
        batch_calls = [r for r in server.count.rows() if r[0] == "/api/v1/dispensings/batch"]
        recs = page.evaluate(RECORDS)
        refs = {r["client_ref"] for r in recs}
        seen = books(context, server, refs)
        mismatched = 0
        sample = [r for r in recs if r["id"]][:20]
        for r in sample:  # a sample of figures against the books, one GET each
            d = api_get(context, server, f"/api/v1/dispensings/{r['id']}")
            if d["client_ref"] != r["client_ref"] or d["total_copayment"] != r["copay"]:
                mismatched += 1
        return {
            "fill_s": fill_s,
            "waiting": waiting,
            "all_sent_ms": all_sent_ms,
            "batch_calls": batch_calls,
            "books_distinct": len(seen),
            "books_total": sum(seen.values()),
            "books_twice": sum(1 for v in seen.values() if v > 1),
            "sample_mismatched": mismatched,
            "final": page.evaluate(STATES),
            "problems": collections.Counter(
                str((r["problem"] or {}).get("detail")) for r in recs if r["state"] != "sent"
            ),
        }
    finally:
        context.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--fill", choices=["js", "ui"], default="js")
    ap.add_argument("--throttle", action="store_true")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    print_header(f"outbox: {args.n} records made offline, then back online")
    server = start_server()
    try:
        with sync_playwright() as p:
            browser = launch(p)
            try:
                for i in range(args.runs):
                    r = run_once(browser, server, args)
                    calls = ", ".join(f"{n} x {path} ({b} B)" for path, n, b in r["batch_calls"])
                    print(
                        f" run {i + 1}: filled {args.n} offline ({args.fill}) in "
                        f"{r['fill_s']:.1f} s; waiting before {r['waiting']}; "
                        f"all Sent {r['all_sent_ms']:.0f} ms after the connection came back; "
                        f"requests: {calls or 'none'}"
                    )
                    ok = r["books_distinct"] == args.n and r["books_total"] == args.n
                    print(
                        f"   books (API): {r['books_total']} dispensings for "
                        f"{r['books_distinct']} client_refs, {r['books_twice']} booked twice; "
                        f"sample of 20 figures: {r['sample_mismatched']} mismatched; "
                        f"outbox after: {r['final']}  -> {'OK' if ok else 'WRONG'}"
                    )
                    for detail, n in r["problems"].most_common(5):
                        print(f"   not sent: {n} x {detail}")
            finally:
                browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
