"""On PostgreSQL a dispensing's writes are one call of ``rdf_write_dispensings`` (revision
0019), planned from unlocked reads: the call is the request's only write, and a plan that
went stale between its reads and the call (a lot taken meanwhile, a month closed) keeps
nothing and is recorded the locking way, with the answer that way gives."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, text

import api.dispensing
from dispensing.commands import DispenseRequest
from dispensing.service import OneTrip, plan_one_trip, write_one_trip
from ledger.errors import StaleWrite
from tests.dispensing.conftest import Fund

pytestmark = pytest.mark.postgres_only


def _statements(app: Flask) -> list[str]:
    seen: list[str] = []

    @event.listens_for(app.extensions["rdf_db"].engine, "before_cursor_execute")
    def _sql(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    return seen


def test_a_dispensing_writes_with_one_statement_and_replays_without_writing(
    pg_fund: tuple[Flask, Fund],
) -> None:
    app, f = pg_fund
    f.dispense([("MET500", 1)], ref="warm-up")  # reference snapshot, balance rows known
    seen = _statements(app)
    first = f.dispense([("MET500", 60)], ref="one-trip")
    # (tests seal inline, after the write's commit: the sealer's writes, a seal inserted into
    # entry_seals and the checkpoint moved, are not the dispensing's)
    sealer = ("entry_seals", "seal_checkpoints")
    writes = [
        s
        for s in seen
        if s.lstrip().upper().startswith(("INSERT", "COPY", "DELETE"))
        and not any(t in s for t in sealer)
    ]
    assert writes == [], writes
    assert sum("rdf_write_dispensings" in s for s in seen) == 1
    assert sum("INSERT INTO entry_seals" in s for s in seen) == 1  # sealed right after
    assert first["lines"][0]["cost"] == "2100"  # DESIGN.md's worked example
    assert first["lines"][0]["lots"] == [{"lot": "L1", "quantity": 60, "value": "2100"}]
    seen.clear()
    again = f.dispense([("MET500", 60)], ref="one-trip")
    assert again == first
    assert not any("rdf_write_dispensings" in s for s in seen)
    # the idempotency answer and the audit event went with the write
    with app.extensions["rdf_db"].session() as s:
        stored = s.execute(
            text("SELECT status_code, response_body FROM idempotency_keys WHERE key = 'one-trip'")
        ).one()
        assert stored.status_code == 201
        assert stored.response_body == f.client.post(
            "/api/v1/dispensings",
            json={
                "pharmacy": "P1",
                "patient": "M-00042",
                "service_date": "2026-10-14",
                "client_ref": "one-trip",
                "items": [{"medicine": "MET500", "quantity": 60}],
            },
            headers=f.pharmacist,
        ).get_data(as_text=True)
        events = s.execute(
            text(
                "SELECT count(*) FROM audit_events WHERE method = 'POST'"
                " AND path = '/api/v1/dispensings' AND status = 201"
                f" AND object_ref = 'id={first['id']}'"
            )
        ).scalar_one()
        assert events == 3  # the write's (with it), then one per replay (apart)


def test_a_plan_gone_stale_keeps_nothing(pg_fund: tuple[Flask, Fund]) -> None:
    app, f = pg_fund
    f.dispense([("MET500", 1)], ref="warm-up")
    req = DispenseRequest(
        pharmacy="P1",
        patient="M-00043",
        service_date=date(2026, 10, 14),
        client_ref="stale",
        items=(("MET500", 10),),
        days_supply=(None,),
    )
    db = app.extensions["rdf_db"]
    with db.session() as s:
        trip = plan_one_trip(s, [req], by="test")
        assert isinstance(trip, OneTrip)
        s.rollback()
        # another counter takes from the same lot meanwhile
        f.dispense([("MET500", 5)], ref="meanwhile")
        with pytest.raises(StaleWrite):
            write_one_trip(s, trip)
        s.rollback()
        count = s.execute(
            text("SELECT count(*) FROM dispensings WHERE client_ref = 'stale'")
        ).scalar_one()
        assert count == 0


def test_a_stale_plan_is_answered_the_locking_way_with_exact_books(
    pg_fund: tuple[Flask, Fund], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the unlocked reads and the write, another pharmacist's dispensing takes 100
    of the 399 units left: the write goes stale, the request is recorded under the locks and
    costs what is left then (the lot's value moves with its units: no residue)."""
    app, f = pg_fund
    f.dispense([("MET500", 1)], ref="warm-up")  # 399 left worth 13965
    planned = plan_one_trip
    done = threading.Event()

    def racing_plan(session: Any, reqs: Any, *, by: str) -> OneTrip | None:
        trip = planned(session, reqs, by=by)
        if not done.is_set():
            done.set()
            other = threading.Thread(
                target=lambda: f.dispense([("MET500", 100)], ref="in-between", patient=None)
            )
            other.start()
            other.join(timeout=60)
        return trip

    monkeypatch.setattr(api.dispensing, "plan_one_trip", racing_plan)
    answer = f.dispense([("MET500", 299)], ref="after-the-race")
    assert done.is_set()
    # 399 units worth 13965: 100 took round(13965 * 100 / 399) = 3500; the last 299 the rest
    assert answer["lines"][0]["cost"] == "10465"
    assert f.balance("1400-P1", "MET500") == 0
    assert f.balance("1400-P1", "KHR", lot="L1") == 0
    # and sent again, it replays
    monkeypatch.setattr(api.dispensing, "plan_one_trip", planned)
    assert f.dispense([("MET500", 299)], ref="after-the-race") == answer


def test_a_stale_plan_of_more_than_is_left_is_refused_as_short_stock(
    pg_fund: tuple[Flask, Fund], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, f = pg_fund
    f.dispense([("MET500", 1)], ref="warm-up")  # 399 left
    planned = plan_one_trip
    done = threading.Event()

    def racing_plan(session: Any, reqs: Any, *, by: str) -> OneTrip | None:
        trip = planned(session, reqs, by=by)
        if not done.is_set():
            done.set()
            other = threading.Thread(
                target=lambda: f.dispense([("MET500", 300)], ref="in-between", patient=None)
            )
            other.start()
            other.join(timeout=60)
        return trip

    monkeypatch.setattr(api.dispensing, "plan_one_trip", racing_plan)
    problem = f.dispense([("MET500", 200)], ref="too-late", expect=409)
    assert problem["type"] == "/problems/insufficient-stock", problem
    assert f.balance("1400-P1", "MET500") == 99
