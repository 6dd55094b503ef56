"""Issue 22.6: /audit/verify recomputes the kept balances and month totals from the
postings, and checks each dispensing's document against its sealed entry; a figure or a
document changed behind the guards is caught and named."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from tests.audit.conftest import tamper
from tests.dispensing.conftest import Fund


def verify(fund: Fund) -> dict[str, Any]:
    body: dict[str, Any] = fund.get("/audit/verify", fund.auditor)
    return body


def test_untouched_books_verify(app: Flask, fund: Fund) -> None:
    fund.dispense([("MET500", 4), ("AML5", 2)])
    fund.dispense([("MET500", 1)], patient=None)
    body = verify(fund)
    assert body["ok"] is True, body
    assert body["problems"] == [] and body["reason"] is None


def test_a_raised_kept_balance_is_named(app: Flask, fund: Fund) -> None:
    fund.dispense([("MET500", 4)])
    tamper(
        app,
        "UPDATE balances SET amount = amount + 500000 WHERE account_code = '1400-P1'"
        " AND commodity = 'KHR' AND lot_key = (SELECT id FROM lots WHERE lot_code = 'L1')",
    )
    body = verify(fund)
    assert body["ok"] is False
    found = re.fullmatch(
        r"the kept balance of account 1400-P1 in KHR, lot MET500:L1 is (\d+) but its "
        r"postings sum to (\d+)",
        body["reason"],
    )
    assert found is not None, body
    assert int(found[1]) - int(found[2]) == 500000
    assert body["problems"] == [body["reason"]]
    assert body["first_bad_entry"] is None  # the chain itself is intact


def test_a_changed_month_total_is_named(app: Flask, fund: Fund) -> None:
    fund.dispense([("MET500", 4)])
    tamper(
        app,
        "UPDATE month_totals SET amount = amount + 7, debit = debit + 7"
        " WHERE account_code = '5100'",
    )
    body = verify(fund)
    assert body["ok"] is False
    (problem,) = body["problems"]
    assert problem.startswith("the month total of account 5100 in KHR"), problem
    assert "for 2026-10 is 27 (debit 27, credit 0) but its postings sum to 20" in problem


def test_a_changed_patient_is_named(app: Flask, fund: Fund) -> None:
    d = fund.dispense([("MET500", 4)])
    other = fund.dispense([("MET500", 1)])
    tamper(app, "UPDATE dispensings SET patient = 'M-00043' WHERE id = :d", d=int(d["id"]))
    body = verify(fund)
    assert body["ok"] is False
    assert f"dispensing {d['id']} no longer matches" in body["reason"]
    assert "M-00043" in body["reason"]
    assert not any(f"dispensing {other['id']} " in p for p in body["problems"])


def test_changed_dispensing_figures_are_named(app: Flask, fund: Fund) -> None:
    d = fund.dispense([("MET500", 4)])
    tamper(
        app,
        "UPDATE dispensing_lines SET quantity = 40, price = price * 10, copayment ="
        " copayment * 10, subsidy = subsidy * 10 WHERE dispensing_id = :d",
        "UPDATE dispensing_lots SET quantity = 40 WHERE line_id IN"
        " (SELECT id FROM dispensing_lines WHERE dispensing_id = :d)",
        "UPDATE dispensings SET total_price = total_price * 10, total_subsidy ="
        " total_subsidy * 10, total_copayment = total_copayment * 10 WHERE id = :d",
        d=int(d["id"]),
    )
    body = verify(fund)
    assert body["ok"] is False
    assert f"dispensing {d['id']} no longer matches" in body["reason"]
    assert "the document gives" in body["reason"]


def test_a_changed_receipt_is_named(app: Flask, fund: Fund) -> None:
    tamper(app, "UPDATE stock_movements SET location = 'P2' WHERE kind = 'receipt'")
    body = verify(fund)
    assert body["ok"] is False
    assert body["reason"].startswith("stock receipt "), body
    assert "1400-P2" in body["reason"]
