"""Issue 22.4: idempotency scopes are keyed by kind (``pharmacy:`` or ``user:``), so a
pharmacy coded like a user's id never shares that user's stored answers."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select, text

from api.auth import create_user
from ledger.tables import User
from tests.dispensing.conftest import Fund
from tests.support import bearer


def test_a_pharmacist_of_pharmacy_2_does_not_replay_user_2s_batch(app: Flask, fund: Fund) -> None:
    with app.extensions["rdf_db"].session() as s:
        finance_id = s.scalar(select(User.id).where(User.name == "test-finance"))
    code = str(finance_id)  # the pharmacy is coded as finance's user id
    fund.post(
        "/pharmacies",
        {"code": code, "name": "Clash", "province": "Takeo", "district": "Doun Kaev"},
    )
    with app.extensions["rdf_db"].session() as s:
        _u, token = create_user(s, f"pharmacist-{code}", "pharmacist", code)
        s.commit()
    clash = bearer(token)
    body = {
        "dispensings": [
            {
                "pharmacy": "P1",
                "patient": "M-00042",
                "service_date": "2026-10-14",
                "client_ref": "batch-1",
                "items": [{"medicine": "MET500", "quantity": 2}],
            }
        ]
    }
    key = {"Idempotency-Key": "shared-key-1"}
    first = fund.client.post(
        "/api/v1/dispensings/batch", json=body, headers={**fund.finance, **key}
    )
    assert first.status_code == 200, first.get_json()
    booked = first.get_json()
    assert "P1" in first.get_data(as_text=True)

    again = fund.client.post("/api/v1/dispensings/batch", json=body, headers={**clash, **key})
    assert booked["results"][0]["dispensing"] is not None  # finance booked it
    assert again.get_data() != first.get_data()  # not finance's stored answer
    assert again.status_code == 200, again.get_json()
    (result,) = again.get_json()["results"]
    assert result["dispensing"] is None and result["problem"]["status"] == 403
    # finance's own replay still gets its answer
    replay = fund.client.post(
        "/api/v1/dispensings/batch", json=body, headers={**fund.finance, **key}
    )
    assert replay.get_data() == first.get_data()
    with app.extensions["rdf_db"].session() as s:
        scopes = set(s.scalars(text("SELECT scope FROM idempotency_keys")))
    assert f"dispensings-batch:user:{finance_id}" in scopes
    assert f"dispensings-batch:{code}" not in scopes
