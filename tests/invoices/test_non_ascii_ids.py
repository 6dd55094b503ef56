"""An id in the path made of a digit that is not ASCII ("³": ``str.isdigit()`` says yes,
``int()`` raises) is an unknown id, 404 — it was a 500 (found by bench/fuzz_deep.py)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support import bearer

PATHS = [
    ("GET", "/api/v1/bank-statements/{}", None),
    ("POST", "/api/v1/bank-statements/lines/{}/match", {"payment_id": "1"}),
    ("POST", "/api/v1/bank-statements/lines/{}/unmatch", None),
    ("GET", "/api/v1/payments/{}", None),
    ("GET", "/api/v1/settlements/{}", None),
    ("POST", "/api/v1/settlements/{}/approve", {}),
    ("GET", "/api/v1/settlements/{}.pdf", None),
    ("GET", "/api/v1/subsidy-claims/{}", None),
    ("GET", "/api/v1/subsidy-claims/{}.pdf", None),
    ("GET", "/api/v1/dispensings/{}", None),
    ("POST", "/api/v1/dispensings/{}/returns", {"items": [{"medicine": "MET500", "quantity": 1}]}),
]


@pytest.mark.parametrize("ident", ["³", "1²", "٣"])
@pytest.mark.parametrize(("method", "path", "body"), PATHS)
def test_a_non_ascii_digit_id_is_not_found(
    client: FlaskClient,
    tokens: dict[str, str],
    method: str,
    path: str,
    body: dict[str, str] | None,
    ident: str,
) -> None:
    r = client.open(path.format(ident), method=method, json=body, headers=bearer(tokens["finance"]))
    assert r.status_code == 404, r.get_data(as_text=True)
    assert r.get_json()["type"] == "/problems/not-found"
