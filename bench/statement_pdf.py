"""A pharmacy's monthly statement PDF of N dispensing lines: time and peak memory.

    .venv/bin/python bench/statement_pdf.py [--lines 10000] [--lines 1000]

Builds the statement's JSON answer (the dict ``invoices.statements.pharmacy_statement``
returns) with N dispensing lines, then renders it exactly as ``GET
/statements/pharmacies/{code}`` does (``pharmacy_statement_document`` + ``render_pdf``), and prints
the time, the pages and the peak memory (tracemalloc: Python allocations during the render;
and the process's max RSS). Target (#8): 10,000 lines in ≤ 3 s, memory not growing with N
beyond the document itself.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import header  # noqa: E402

from reports.pdf import render_pdf  # noqa: E402
from reports.statements import pharmacy_statement_document  # noqa: E402


def statement(lines: int) -> dict[str, object]:
    rows = []
    for i in range(lines):
        rows.append(
            {
                "dispensing_id": str(10_000 + i // 2),
                "service_date": f"2026-10-{1 + i % 28:02d}",
                "accounting_date": f"2026-10-{1 + i % 28:02d}",
                "member_code": f"M-{i % 2000:05d}" if i % 7 else None,
                "medicine": ("MET500", "AML5", "GLI80", "INSNPH")[i % 4],
                "quantity": 30 + i % 60,
                "price": "3000",
                "subsidy": "1500",
                "copayment": "1500",
                "fee": "300" if i % 2 == 0 else "0",
            }
        )
    return {
        "pharmacy": "P01",
        "name": "Takeo Provincial Pharmacy",
        "period": "2026-10",
        "currency": "KHR",
        "from": "2026-10-01",
        "to": "2026-10-31",
        "opening": {"due_from_pharmacy": "0", "due_to_pharmacy": "0"},
        "dispensings": rows,
        "dispensing_totals": {
            "price": str(3000 * lines),
            "subsidy": str(1500 * lines),
            "copayment": str(1500 * lines),
            "fee": str(300 * ((lines + 1) // 2)),
        },
        "dispensing_count": (lines + 1) // 2,
        "returns": [],
        "return_totals": {},
        "stock_movements": [],
        "payments": [],
        "settlement": None,
        "closing": {"due_from_pharmacy": str(1500 * lines), "due_to_pharmacy": "0"},
        "units": [
            {
                "medicine": "MET500",
                "opening": 0,
                "received": 10**6,
                "dispensed": 1,
                "returned": 0,
                "lost": 0,
                "transferred_out": 0,
                "closing": 10**6 - 1,
            }
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, action="append")
    args = ap.parse_args()
    header("pharmacy statement PDF")
    for n in args.lines or [1_000, 10_000]:
        out = statement(n)
        t0 = time.perf_counter()
        pdf = render_pdf(
            pharmacy_statement_document(
                out, fund_name="RDF bench fund", made_at=datetime.now(UTC), seal="ab" * 32
            )
        )
        elapsed = time.perf_counter() - t0
        # Memory in a second pass: tracemalloc slows allocation-heavy code several times.
        tracemalloc.start()
        render_pdf(
            pharmacy_statement_document(
                out, fund_name="RDF bench fund", made_at=datetime.now(UTC), seal="ab" * 32
            )
        )
        _cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
        print(
            f"{n:>6} lines: {elapsed:5.2f} s, {pages} pages, {len(pdf) / 1e6:.1f} MB PDF, "
            f"Python peak during render {peak / 1e6:.1f} MB, process max RSS {rss:.0f} MB"
        )


if __name__ == "__main__":
    main()
