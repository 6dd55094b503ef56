"""Random dispensings, retries, returns, receipts and transfers through the API keep the books
equal to a plain reference model, and every invariant of DESIGN.md holds after every step.

Each example of the state machine gets a fresh copy of the worked example's fund: its
``__init__`` copies the session's SQLite template over the database file (on PostgreSQL:
makes the database anew from the fund's template). The app is made
once per test and reused by every example (making an app costs more than an example's
steps; with SQLite's NullPool no connection outlives a request, so the app only ever sees
the fresh file). What does outlive the file is the process's reference snapshot
(``ledger.refcache``), trusted while the database's ``ref_version`` equals the snapshot's:
every copy restarts from the template's version, so a snapshot of an earlier example (its
lots X3, X4 ... of other medicines and expiries) would pass for the new one's. A database
never goes back to an earlier version, so each copy is moved on to a version this process
has never seen before its first request. The model starts from the books
as they are then (the trial balance and the lots at P1 and CENTRAL) and applies, in plain
Python, the rules of DESIGN.md: prices of PL1 (MET500 50, AML5 120 KHR), the HEF subsidy
(50 %, half up) for M-00042 only, the 10 % fee, FEFO with expired lots skipped, the lot
value rule, and returns reversed cumulatively (latest picked lot first).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)
from sqlalchemy import event, text

from tests.conftest import RUN_ID, _admin_engine, _pg_url, require_postgres
from tests.dispensing.conftest import Fund, FundTemplate, fund_on
from tests.support import make_app

PRICES = {"MET500": 50, "AML5": 120}
SUBSIDISED = {"M-00042"}  # HEF, 50 %, from 2026-01-01, open-ended
FIRST_DAY = date(2026, 10, 6)
RETURN_DATE = "2026-11-05"
EXPIRIES = [
    date(2026, 10, 12),
    date(2026, 10, 20),
    date(2026, 10, 31),
    date(2028, 3, 31),
    date(2029, 1, 31),
]


def rnd(x: Fraction) -> int:
    assert x >= 0
    return int(x + Fraction(1, 2))


def cum(amount: int, done: int, of: int) -> int:
    return amount if done == of else rnd(Fraction(amount * done, of))


@dataclass
class LotState:
    code: str
    medicine: str
    expiry: date
    received: date
    order: int  # creation order: the lot id's tie-break
    units: int
    value: int


@dataclass
class Line:
    medicine: str
    quantity: int
    price: int
    subsidy: int
    lots: list[tuple[str, int, int]]  # (lot, units, value) in pick order
    returned: int = 0


@dataclass
class Record:
    id: str
    body: dict[str, Any]
    first: bytes
    lines: list[Line]
    total_price: int
    fee: int
    fee_back: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def fefo(lots: list[LotState], medicine: str, on: date) -> list[LotState]:
    usable = [x for x in lots if x.medicine == medicine and x.units > 0 and x.expiry >= on]
    return sorted(usable, key=lambda x: (x.expiry, x.received, x.order))


def take(lot: LotState, units: int) -> int:
    value = lot.value if units == lot.units else rnd(Fraction(lot.value * units, lot.units))
    lot.units -= units
    lot.value -= value
    return value


def back_per_lot(lots: list[tuple[str, int, int]], units: int) -> list[int]:
    """Units back in each lot once ``units`` of the line are back: the latest picked first."""
    out = [0] * len(lots)
    left = units
    for i in reversed(range(len(lots))):
        out[i] = min(left, lots[i][1])
        left -= out[i]
    assert left == 0
    return out


class DispensingMachine(RuleBasedStateMachine):
    template: FundTemplate
    app: Flask
    #: puts a fresh copy of ``template`` where ``app``'s database is (its engine disposed)
    copy_template: Callable[[], None]

    dispensed = Bundle("dispensed")

    #: examples begun so far: each copy's ``ref_version`` is moved on by this many millions
    examples = 0

    def __init__(self) -> None:
        super().__init__()
        db = self.app.extensions["rdf_db"]
        db.dispose()
        DispensingMachine.copy_template()
        DispensingMachine.examples += 1
        with db.session() as s:  # an example makes far fewer than a million changes
            s.execute(
                text("UPDATE ref_version SET version = version + :k WHERE id = 1"),
                {"k": 1_000_000 * DispensingMachine.examples},
            )
            s.commit()
        self.f: Fund = fund_on(self.app, self.template)
        tb = self.f.get("/reports/trial-balance")
        self.books: Counter[tuple[str, str]] = Counter(
            {(r["account"], r["commodity"]): int(r["debit"]) - int(r["credit"]) for r in tb["rows"]}
        )
        self.lots: dict[str, list[LotState]] = {"P1": [], "CENTRAL": []}
        order = {"L1": 1, "A1": 2}
        meta = {"L1": ("MET500", date(2028, 3, 31)), "A1": ("AML5", date(2028, 6, 30))}
        for place in ("P1", "CENTRAL"):
            units, value = self._lots_in_books(place)
            for code in sorted(units):
                med, exp = meta[code]
                self.lots[place].append(
                    LotState(
                        code, med, exp, date(2026, 10, 1), order[code], units[code], value[code]
                    )
                )
        self.next_lot = 3
        self.next_ref = 0
        self.central_changed = False

    # ------------------------------------------------------------------ helpers

    def _lots_in_books(self, place: str) -> tuple[dict[str, int], dict[str, int]]:
        units: dict[str, int] = {}
        value: dict[str, int] = {}
        for b in self.f.get(f"/accounts/1400-{place}/balance")["balances"]:
            assert b["lot"] is not None, b
            target = value if b["commodity"] == "KHR" else units
            target[b["lot"]] = target.get(b["lot"], 0) + int(b["amount"])
        return units, value

    def _post(self, account: str, commodity: str, amount: int) -> None:
        self.books[(account, commodity)] += amount

    def _lot(self, place: str, code: str) -> LotState:
        return next(x for x in self.lots[place] if x.code == code)

    # ------------------------------------------------------------------ rules

    @initialize()
    def start(self) -> None:
        pass

    @rule(
        medicine=st.sampled_from(sorted(PRICES)),
        quantity=st.integers(1, 200),
        cost_per_unit=st.integers(1, 60),
        extra=st.integers(0, 99),
        expiry=st.sampled_from(EXPIRIES),
        share=st.integers(1, 100),
    )
    def receive_and_transfer(
        self, medicine: str, quantity: int, cost_per_unit: int, extra: int, expiry: date, share: int
    ) -> None:
        code = f"X{self.next_lot}"
        cost = quantity * cost_per_unit + extra  # at least one riel a unit
        self.f.post(
            "/stock/receipts",
            {
                "supplier": "S1",
                "location": "CENTRAL",
                "date": "2026-10-05",
                "lines": [
                    {
                        "medicine": medicine,
                        "lot": code,
                        "expiry": expiry.isoformat(),
                        "quantity": quantity,
                        "total_cost": str(cost),
                    }
                ],
            },
        )
        lot = LotState(code, medicine, expiry, date(2026, 10, 5), self.next_lot, quantity, cost)
        self.next_lot += 1
        self.lots["CENTRAL"].append(lot)
        self.central_changed = True
        for acc, com, amt in [
            ("1400-CENTRAL", medicine, quantity),
            ("9000", medicine, -quantity),
            ("1400-CENTRAL", "KHR", cost),
            ("2000-S1", "KHR", -cost),
        ]:
            self._post(acc, com, amt)
        moved = max(1, quantity * share // 100)
        out = self.f.post(
            "/stock/transfers",
            {
                "from": "CENTRAL",
                "to": "P1",
                "date": "2026-10-05",
                "lines": [{"medicine": medicine, "quantity": moved, "lot": code}],
            },
        )
        value = take(lot, moved)
        assert [(x["lot"], x["quantity"], x["value"]) for x in out["lines"][0]["lots"]] == [
            (code, moved, str(value))
        ]
        self.lots["P1"].append(
            LotState(code, medicine, expiry, lot.received, lot.order, moved, value)
        )
        for acc, sign in (("1400-CENTRAL", -1), ("1400-P1", 1)):
            self._post(acc, medicine, sign * moved)
            self._post(acc, "KHR", sign * value)

    @rule(
        target=dispensed,
        items=st.lists(
            st.tuples(st.sampled_from(sorted(PRICES)), st.integers(1, 150)),
            min_size=1,
            max_size=2,
            unique_by=lambda t: t[0],
        ),
        patient=st.sampled_from(["M-00042", "M-00043", None]),
        day=st.integers(0, 25),
    )
    def dispense(self, items: list[tuple[str, int]], patient: str | None, day: int) -> Any:
        body = self._body(items, patient, day)
        r = self.f.client.post("/api/v1/dispensings", json=body, headers=self.f.pharmacist)
        return self._expect(body, items, r.status_code, r.get_json(), r.data)

    @rule(
        target=dispensed,
        records=st.lists(
            st.tuples(
                st.lists(
                    st.tuples(st.sampled_from(sorted(PRICES)), st.integers(1, 150)),
                    min_size=1,
                    max_size=2,
                    unique_by=lambda t: t[0],
                ),
                st.sampled_from(["M-00042", "M-00043", None]),
                st.integers(0, 25),
            ),
            min_size=1,
            max_size=5,
        ),
    )
    def dispense_in_a_batch(
        self, records: list[tuple[list[tuple[str, int]], str | None, int]]
    ) -> Any:
        """Several records in one batch (one chunk): each must come out as if sent alone,
        in order, the stock taken by the ones before it included."""
        bodies = [self._body(items, patient, day) for items, patient, day in records]
        r = self.f.client.post(
            "/api/v1/dispensings/batch", json={"dispensings": bodies}, headers=self.f.pharmacist
        )
        assert r.status_code == 200, r.get_json()
        out = []
        for (items, _p, _d), body, res in zip(
            records, bodies, r.get_json()["results"], strict=True
        ):
            got = res["dispensing"] if res["status"] == 201 else res["problem"]
            # a single replay of a batched record answers the stored JSON text, byte for byte
            text = json.dumps(got, default=str).encode() if res["status"] == 201 else b""
            out.append(self._expect(body, items, res["status"], got, text))
        return multiple(*out)

    def _body(self, items: list[tuple[str, int]], patient: str | None, day: int) -> dict[str, Any]:
        self.next_ref += 1
        on = FIRST_DAY + timedelta(days=day)
        return {
            "pharmacy": "P1",
            "patient": patient,
            "service_date": on.isoformat(),
            "client_ref": f"prop-{self.next_ref}",
            "items": [{"medicine": m, "quantity": q} for m, q in items],
        }

    def _expect(
        self, body: dict[str, Any], items: list[tuple[str, int]], status: int, got: Any, data: bytes
    ) -> Record | None:
        """Check one dispensing's answer against the model, and book it there."""
        on = date.fromisoformat(body["service_date"])
        patient = body["patient"]
        short = [m for m, q in items if sum(x.units for x in fefo(self.lots["P1"], m, on)) < q]
        if short:
            assert status == 409, (status, got)
            assert got["type"] != "/problems/internal"
            assert short[0] in got["detail"]
            return None
        assert status == 201, (status, got)
        lines = []
        for m, q in items:
            price = PRICES[m] * q
            subsidy = rnd(Fraction(price, 2)) if patient in SUBSIDISED else 0
            picked = []
            left = q
            for lot in fefo(self.lots["P1"], m, on):
                n = min(left, lot.units)
                picked.append((lot.code, n, take(lot, n)))
                left -= n
                if left == 0:
                    break
            lines.append(Line(m, q, price, subsidy, picked))
        total = sum(ln.price for ln in lines)
        fee = rnd(Fraction(total, 10))
        assert [
            (
                ln["medicine"],
                ln["quantity"],
                ln["price"],
                ln["subsidy"],
                [(x["lot"], x["quantity"], x["value"]) for x in ln["lots"]],
            )
            for ln in got["lines"]
        ] == [
            (
                ln.medicine,
                ln.quantity,
                str(ln.price),
                str(ln.subsidy),
                [(c, n, str(v)) for c, n, v in ln.lots],
            )
            for ln in lines
        ]
        assert got["fee"] == str(fee)
        self._book(
            lines,
            fee,
            sign=1,
            parts=[(ln, ln.quantity, ln.price, ln.subsidy, ln.lots) for ln in lines],
        )
        return Record(got["id"], body, data, lines, total, fee)

    def _book(
        self,
        lines: list[Line],
        fee: int,
        *,
        sign: int,
        parts: list[tuple[Line, int, int, int, list[tuple[str, int, int]]]],
    ) -> None:
        for ln, _q, price, subsidy, lots in parts:
            cost = sum(v for _c, _n, v in lots)
            for code, n, v in lots:
                self._post("5000", ln.medicine, sign * n)
                self._post("1400-P1", ln.medicine, -sign * n)
                self._post("1400-P1", "KHR", -sign * v)
                if sign < 0:
                    lot = self._lot("P1", code)
                    lot.units += n
                    lot.value += v
            self._post("5000", "KHR", sign * cost)
            self._post("4000", "KHR", -sign * price)
            self._post("1300-HEF", "KHR", sign * subsidy)
            self._post("1200-P1", "KHR", sign * (price - subsidy))
        self._post("5100", "KHR", sign * fee)
        self._post("2100-P1", "KHR", -sign * fee)

    @rule(record=dispensed)
    def retry_with_the_same_body(self, record: Record | None) -> None:
        if record is None:
            return
        r = self.f.client.post("/api/v1/dispensings", json=record.body, headers=self.f.pharmacist)
        assert r.status_code == 201
        assert r.data == record.first

    @rule(record=dispensed, extra=st.integers(1, 5))
    def retry_with_another_body(self, record: Record | None, extra: int) -> None:
        if record is None:
            return
        body = json.loads(json.dumps(record.body))
        body["items"][0]["quantity"] += extra
        r = self.f.client.post("/api/v1/dispensings", json=body, headers=self.f.pharmacist)
        assert r.status_code == 409, (r.status_code, r.get_json())
        assert r.content_type == "application/problem+json"

    @rule(record=dispensed, data=st.data())
    def give_back(self, record: Record | None, data: st.DataObject) -> None:
        if record is None:
            return
        open_lines = [ln for ln in record.lines if ln.returned < ln.quantity]
        if not open_lines:
            r = self.f.client.post(
                f"/api/v1/dispensings/{record.id}/returns",
                json={
                    "items": [{"medicine": record.lines[0].medicine, "quantity": 1}],
                    "date": RETURN_DATE,
                },
                headers=self.f.pharmacist,
            )
            assert r.status_code == 409, (r.status_code, r.get_json())
            return
        chosen = data.draw(
            st.lists(st.sampled_from(open_lines), min_size=1, unique_by=lambda ln: ln.medicine)
        )
        wanted = [(ln, data.draw(st.integers(1, ln.quantity - ln.returned))) for ln in chosen]
        r = self.f.post(
            f"/dispensings/{record.id}/returns",
            {
                "items": [{"medicine": ln.medicine, "quantity": q} for ln, q in wanted],
                "date": RETURN_DATE,
            },
            self.f.pharmacist,
        )
        parts = []
        price_back_before = sum(cum(ln.price, ln.returned, ln.quantity) for ln in record.lines)
        for ln, q in wanted:
            before, after = ln.returned, ln.returned + q
            b0, b1 = back_per_lot(ln.lots, before), back_per_lot(ln.lots, after)
            lots = [
                (code, b1[i] - b0[i], cum(v, b1[i], n) - cum(v, b0[i], n))
                for i, (code, n, v) in reversed(list(enumerate(ln.lots)))
                if b1[i] > b0[i]
            ]
            parts.append(
                (
                    ln,
                    q,
                    cum(ln.price, after, ln.quantity) - cum(ln.price, before, ln.quantity),
                    cum(ln.subsidy, after, ln.quantity) - cum(ln.subsidy, before, ln.quantity),
                    lots,
                )
            )
            ln.returned = after
        price_back_after = sum(cum(ln.price, ln.returned, ln.quantity) for ln in record.lines)
        fee = cum(record.fee, price_back_after, record.total_price) - cum(
            record.fee, price_back_before, record.total_price
        )
        assert r["fee"] == str(fee), (r, fee)
        got = {ln["medicine"]: ln for ln in r["lines"]}
        for ln, q, price, subsidy, lots in parts:
            g = got[ln.medicine]
            assert (g["quantity"], g["price"], g["subsidy"], g["copayment"]) == (
                q,
                str(price),
                str(subsidy),
                str(price - subsidy),
            )
            assert [(x["lot"], x["quantity"], x["value"]) for x in g["lots"]] == [
                (c, n, str(v)) for c, n, v in lots
            ]
        self._book(record.lines, fee, sign=-1, parts=parts)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def the_books_equal_the_model_and_every_invariant_holds(self) -> None:
        tb = self.f.get("/reports/trial-balance")
        got = {
            (r["account"], r["commodity"]): int(r["debit"]) - int(r["credit"]) for r in tb["rows"]
        }
        assert got == {k: v for k, v in self.books.items() if v}
        for t in tb["totals"]:
            assert t["debit"] == t["credit"], t
        # CENTRAL's lots only change by receipts and transfers (its totals per commodity
        # are in the trial balance above after every step).
        places = ["P1", "CENTRAL"] if self.central_changed else ["P1"]
        self.central_changed = False
        for place in places:
            units, value = self._lots_in_books(place)
            model = {x.code: (x.units, x.value) for x in self.lots[place]}
            books = {
                code: (units.get(code, 0), value.get(code, 0)) for code in set(units) | set(value)
            }
            assert {k: v for k, v in books.items() if v != (0, 0)} == {
                k: v for k, v in model.items() if v != (0, 0)
            }
            for code, (u, v) in books.items():
                assert u >= 0 and v >= 0, (place, code, u, v)
                assert (u == 0) == (v == 0), (place, code, u, v)


def _run_machine(
    application: Flask, template: FundTemplate, copy: Callable[[], None], examples: int = 15
) -> None:
    DispensingMachine.template = template
    DispensingMachine.app = application
    DispensingMachine.copy_template = copy
    DispensingMachine.examples = 0
    run = DispensingMachine.TestCase
    run.settings = settings(
        max_examples=examples,
        stateful_step_count=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    run().runTest()


def test_random_dispensings_retries_returns_and_receipts_keep_the_books_equal_to_the_model(
    sqlite_fund_template: FundTemplate, tmp_path: Path
) -> None:
    database = tmp_path / "fund.sqlite3"
    shutil.copyfile(sqlite_fund_template.where, database)
    application = make_app(f"sqlite:///{database}")
    # a throwaway file: do not wait for the disk on every commit
    event.listen(
        application.extensions["rdf_db"].engine,
        "connect",
        lambda conn, _rec: conn.execute("PRAGMA synchronous=OFF"),
    )

    def copy() -> None:
        shutil.copyfile(sqlite_fund_template.where, database)

    try:
        _run_machine(application, sqlite_fund_template, copy)
    finally:
        application.extensions["rdf_db"].dispose()


def test_random_dispensings_on_postgresql_keep_the_books_equal_to_the_model(
    pg_fund_template: FundTemplate,
) -> None:
    """The same machine on PostgreSQL: each example on a database made anew from the fund's
    template under one name (the app's)."""
    require_postgres()
    name = f"rdf_t_{RUN_ID}_machine"
    admin = _admin_engine()

    def copy() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_fund_template.where}"'))

    copy()
    application = make_app(_pg_url(name, fast=True))
    try:
        # fewer examples: a database made anew costs more than a file copied
        _run_machine(application, pg_fund_template, copy, examples=5)
    finally:
        application.extensions["rdf_db"].dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
