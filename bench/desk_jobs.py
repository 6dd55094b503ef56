"""The desk's long job (web/jobs.py): how long the page takes to answer "ZIP of <period>"
and how long until the ZIP is ready, for a month and a year of the demo fund, on SQLite
in-process (the job's runner thread and the test client in one process).

    .venv/bin/python bench/desk_jobs.py
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import header  # noqa: E402

import demo  # noqa: E402
from app import create_app  # noqa: E402
from commands import upgrade  # noqa: E402
from web.desk import last_month  # noqa: E402
from web.jobs import runner  # noqa: E402


def main() -> None:
    header("desk jobs: a period's documents as one ZIP (SQLite, in-process)")
    print(f"load average before: {os.getloadavg()}")
    url = f"sqlite:///{tempfile.mkdtemp(prefix='rdf-bench-jobs-')}/rdf.sqlite3"
    upgrade(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.extensions["rdf_db"].session() as s:
        demo.seed(s)
        demo.seed_passwords(s)
        s.commit()
    client = app.test_client()
    page = client.get("/app/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    client.post(
        "/app/login",
        data={"username": "auditor", "password": "auditor-demo-2026", "csrf_token": token},
    )
    token = re.search(  # type: ignore[union-attr]
        r'name="csrf-token" content="([^"]+)"', client.get("/app").get_data(as_text=True)
    ).group(1)
    month = last_month()
    for period in (month, month[:4]):
        t0 = time.perf_counter()
        r = client.post("/app/audit/downloads/zip", data={"csrf_token": token, "period": period})
        answered = time.perf_counter() - t0
        runner(app).wait(timeout=600)
        ready = time.perf_counter() - t0
        job = client.get(f"{r.headers['Location']}.json").get_json()
        size = len(client.get(job["file"]).data)
        print(
            f"{period}: answered in {answered * 1000:.0f} ms; ready after {ready:.1f} s; "
            f"{job['total']} files, {size / 1024:.0f} KiB; state {job['state']}"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
