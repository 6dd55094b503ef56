"""Build a fresh PostgreSQL fund for the load benchmarks and write its users' tokens to JSON.

    .venv/bin/python bench/setup_fund.py [--db rdf_bench_fund] [--pharmacies 20]
        [--medicines 10] [--patients 2000] [--lots shared|per-pharmacy]
        [--out /tmp/rdf_bench_fund.json]
    .venv/bin/python bench/setup_fund.py --drop [--db rdf_bench_fund]

What it makes (all through the service's own code, in-process: the Flask test client, no
sockets, so every rule of the API applies; users straight through ``ledger.auth``):

* migrations to head (``ledger.cli.upgrade``) on a database it creates (dropped first);
* ``--medicines`` medicines, one supplier, ``--pharmacies`` pharmacies P01…;
* big lots: ``--lots shared`` (default, how a fund really works) receives one lot per
  medicine at CENTRAL and transfers 1,000,000 units of it to every pharmacy, so every
  pharmacy dispenses from the same lots; ``--lots per-pharmacy`` receives a lot per
  medicine straight into each pharmacy (no lot is shared between pharmacies);
* one price list, a HEF scheme (external payer, 50 %), ``--patients`` patients (half
  enrolled), a consignment contract with a 10 % fee at every pharmacy;
* an admin, a finance user and one pharmacist per pharmacy; tokens go to ``--out``
  (default /tmp/rdf_bench_fund.json: tokens are never committed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


def sa_url(db: str) -> str:
    return PG.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{db}"


def recreate(db: str, *, create: bool = True) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
        if create:
            conn.execute(f'CREATE DATABASE "{db}"')


def server_version() -> str:
    with psycopg.connect(f"{PG}/postgres") as conn:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"


def build(args: argparse.Namespace) -> dict[str, Any]:
    from api.auth import create_user
    from app import create_app
    from commands import upgrade

    t0 = time.perf_counter()
    recreate(args.db)
    url = sa_url(args.db)
    upgrade(url)
    t_schema = time.perf_counter() - t0

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-setup", "TESTING": False})
    db = app.extensions["rdf_db"]
    tokens: dict[str, Any] = {"pharmacists": {}}
    with db.session() as s:
        _u, tokens["admin"] = create_user(s, "bench-admin", "admin")
        _u, tokens["finance"] = create_user(s, "bench-finance", "finance")
        s.commit()
    client = app.test_client()
    hdr = {"Authorization": f"Bearer {tokens['admin']}"}

    def post(path: str, body: Any) -> Any:
        r = client.post(f"/api/v1{path}", json=body, headers=hdr)
        if r.status_code not in (200, 201):
            raise SystemExit(f"setup failed: POST {path} -> {r.status_code} {r.get_data(True)}")
        return r.get_json()

    today = date.today()
    day0 = today.replace(day=1).isoformat()
    meds = [f"M{i:02d}" for i in range(1, args.medicines + 1)]
    pharmacies = [f"P{i:02d}" for i in range(1, args.pharmacies + 1)]
    for m in meds:
        post(
            "/medicines",
            {
                "code": m,
                "name": f"Medicine {m}",
                "strength": "500 mg",
                "form": "tablet",
                "unit": "tablet",
            },
        )
    post("/suppliers", {"code": "S1", "name": "Supplier One"})
    for p in pharmacies:
        post(
            "/pharmacies",
            {"code": p, "name": f"Pharmacy {p}", "province": "Takeo", "district": "Doun Kaev"},
        )
    per_pharmacy = 1_000_000
    if args.lots == "shared":
        post(
            "/stock/receipts",
            {
                "supplier": "S1",
                "location": "CENTRAL",
                "date": day0,
                "lines": [
                    {
                        "medicine": m,
                        "lot": f"L{m}",
                        "expiry": "2030-12-31",
                        "quantity": per_pharmacy * len(pharmacies),
                        "total_cost": str(35 * per_pharmacy * len(pharmacies)),
                    }
                    for m in meds
                ],
            },
        )
        for p in pharmacies:
            post(
                "/stock/transfers",
                {
                    "from": "CENTRAL",
                    "to": p,
                    "date": day0,
                    "lines": [{"medicine": m, "quantity": per_pharmacy} for m in meds],
                },
            )
    else:
        for p in pharmacies:
            post(
                "/stock/receipts",
                {
                    "supplier": "S1",
                    "location": p,
                    "date": day0,
                    "lines": [
                        {
                            "medicine": m,
                            "lot": f"L{m}-{p}",
                            "expiry": "2030-12-31",
                            "quantity": per_pharmacy,
                            "total_cost": str(35 * per_pharmacy),
                        }
                        for m in meds
                    ],
                },
            )
    post("/price-lists", {"code": "PL1", "currency": "KHR"})
    post(
        "/price-lists/PL1/versions",
        {
            "effective_from": "2026-01-01",
            "items": [{"medicine": m, "unit_price": str(50 + 10 * i)} for i, m in enumerate(meds)],
        },
    )
    post(
        "/subsidy-schemes",
        {"code": "HEF", "name": "Health Equity Fund", "payer": "external", "percent": "50"},
    )
    patients = [f"M-{i:05d}" for i in range(args.patients)]
    # Patients straight through the service in one transaction (the API would take one
    # commit per patient); the same validation runs.
    from contracts.patients import create_patient

    with db.session() as s:
        for i, pat in enumerate(patients):
            create_patient(
                s, pat, [{"scheme": "HEF", "valid_from": date(2026, 1, 1)}] if i % 2 == 0 else []
            )
        s.commit()
    for p in pharmacies:
        post(
            f"/pharmacies/{p}/contracts",
            {
                "valid_from": "2026-01-01",
                "model": "consignment",
                "price_list": "PL1",
                "fee": {"kind": "percent", "value": "10"},
            },
        )
    with db.session() as s:
        for p in pharmacies:
            _u, tokens["pharmacists"][p] = create_user(s, f"bench-{p}", "pharmacist", p)
        s.commit()
    db.dispose()
    elapsed = time.perf_counter() - t0
    return {
        "db": args.db,
        "database_url": url,
        "server_version": server_version(),
        "lots": args.lots,
        "pharmacies": pharmacies,
        "medicines": meds,
        "patients": patients,
        "service_date": today.isoformat(),
        "tokens": tokens,
        "built_in_s": round(elapsed, 1),
        "schema_s": round(t_schema, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="rdf_bench_fund")
    ap.add_argument("--pharmacies", type=int, default=20)
    ap.add_argument("--medicines", type=int, default=10)
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--lots", choices=("shared", "per-pharmacy"), default="shared")
    ap.add_argument("--out", default="/tmp/rdf_bench_fund.json")
    ap.add_argument("--drop", action="store_true", help="drop the database and stop")
    args = ap.parse_args()
    if args.drop:
        recreate(args.db, create=False)
        print(f"dropped {args.db}")
        return
    info = build(args)
    Path(args.out).write_text(json.dumps(info, indent=1))
    print(
        f"fund {info['db']} (PostgreSQL {info['server_version']}): "
        f"{len(info['pharmacies'])} pharmacies, {len(info['medicines'])} medicines, "
        f"{len(info['patients'])} patients, lots {info['lots']}; built in "
        f"{info['built_in_s']} s (schema {info['schema_s']} s); tokens in {args.out}"
    )


if __name__ == "__main__":
    main()
