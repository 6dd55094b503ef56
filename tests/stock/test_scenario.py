"""A month of the central store and one pharmacy, ending on a trial balance that balances."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.stock.conftest import receipt_line, receive, transfer
from tests.support import API, ok, post


def test_a_month_of_stock_movements_ends_on_a_balanced_trial_balance(
    app: Flask, client: FlaskClient, reference: dict[str, str]
) -> None:
    # 1 Oct: 1,000 metformin (L1) for 35,000 riel and 300 amlodipine for 9,000.
    ok(
        receive(
            client,
            reference,
            receipt_line(),
            receipt_line(
                medicine="AML5", lot="A1", expiry="2027-01-31", quantity=300, total_cost="9000"
            ),
        )
    )
    # 5 Oct: 400 metformin and 100 amlodipine to P1.
    ok(
        transfer(
            client,
            reference,
            {"medicine": "MET500", "quantity": 400},
            {"medicine": "AML5", "quantity": 100},
        )
    )
    # 20 Oct: 10 metformin at P1 found damaged.
    ok(
        post(
            client,
            "/stock/write-offs",
            reference,
            {
                "location": "P1",
                "date": "2026-10-20",
                "reason": "damaged",
                "lines": [{"medicine": "MET500", "lot": "L1", "quantity": 10}],
            },
        )
    )
    # 31 Oct: the count at the central store finds 598 metformin (2 missing).
    ok(
        post(
            client,
            "/stock/counts",
            reference,
            {
                "location": "CENTRAL",
                "date": "2026-10-31",
                "lines": [
                    {"medicine": "MET500", "lot": "L1", "counted": 598},
                    {"medicine": "AML5", "lot": "A1", "counted": 200},
                ],
            },
        )
    )

    tb = ok(client.get(f"{API}/reports/trial-balance?as_of=2026-10-31", headers=reference), 200)
    assert tb["balanced"]
    rows = {(r["account"], r["commodity"]): (r["debit"], r["credit"]) for r in tb["rows"]}
    assert rows[("2000-S1", "KHR")] == ("0", "44000")
    assert rows[("9000", "MET500")] == ("0", "1000")
    assert rows[("1400-P1", "MET500")] == ("390", "0")
    assert rows[("1400-P1", "KHR")] == ("16650", "0")  # 14,000 - 350 metformin; 3,000 amlodipine
    assert rows[("5200", "KHR")] == ("350", "0")  # round_half_up(14000 * 10 / 400)
    assert rows[("5400", "KHR")] == ("70", "0")  # round_half_up(21000 * 2 / 600)
    assert rows[("1400-CENTRAL", "MET500")] == ("598", "0")
    # Central: 35,000 + 9,000 received; 14,000 + 3,000 out; 70 counted away.
    assert rows[("1400-CENTRAL", "KHR")] == (str(44000 - 17000 - 70), "0")
