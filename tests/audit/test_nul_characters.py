"""A NUL character in a query parameter is bad input (422) and in the path names nothing
(404), on both databases; never a 503 "try again" (PostgreSQL cannot hold NUL in text;
found by bench/fuzz_deep.py)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support import bearer

QUERIES = [
    "/api/v1/settlements?pharmacy=%00x",
    "/api/v1/dispensings?pharmacy=%00x",
    "/api/v1/dispensings?patient=M%00",
    "/api/v1/stock/on-hand?location=P%001",
    "/api/v1/stock/movements?location=CENTRAL&medicine=%00",
    "/api/v1/reports/trial-balance?commodity=KH%00R",
]

PATHS = [
    "/api/v1/patients/M%0042",
    "/api/v1/accounts/4000%00/balance",
    "/api/v1/pharmacies/P%001",
    "/api/v1/medicines/%00",
]


@pytest.mark.parametrize("path", QUERIES)
def test_a_nul_character_is_a_422(client: FlaskClient, tokens: dict[str, str], path: str) -> None:
    r = client.get(path, headers=bearer(tokens["finance"]))
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    assert "NUL" in r.get_json()["detail"]


@pytest.mark.parametrize("path", PATHS)
def test_a_nul_character_in_the_path_names_nothing(
    client: FlaskClient, tokens: dict[str, str], path: str
) -> None:
    r = client.get(path, headers=bearer(tokens["finance"]))
    assert r.status_code == 404, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"


def test_a_nul_character_in_a_write_changes_nothing(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    r = client.post(
        "/api/v1/medicines?x=%00",
        json={"code": "NULMED", "name": "n", "strength": "1", "form": "tablet", "unit": "tablet"},
        headers=bearer(tokens["finance"]),
    )
    assert r.status_code == 422
    assert (
        client.get("/api/v1/medicines/NULMED", headers=bearer(tokens["finance"])).status_code == 404
    )
