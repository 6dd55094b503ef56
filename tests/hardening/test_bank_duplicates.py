"""Issue 22.5: the same bank lines sent again in another file (other line endings, an extra
column, quoting, an overlapping statement) are refused, line by line, so the reconciliation
never counts a movement twice; future dates are refused as every other write refuses them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from ledger import clock
from tests.dispensing.conftest import Fund

HEADER = "date,amount,currency,reference,description"
LINES = [
    "2026-10-20,-1500,KHR,REF-1,bank charge",
    "2026-10-21,250000,KHR,PAY-7,from P1",
    "2026-10-22,1.50,USD,,interest",
]


def send(client: FlaskClient, headers: dict[str, str], text: str) -> Any:
    return client.post(
        "/api/v1/bank-statements",
        data=text.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )


def bank_balance(fund: Fund) -> dict[str, str]:
    r = fund.get("/reconciliation?period=2026-10")
    return {c["currency"]: c["bank_balance"] for c in r["currencies"]}


def test_the_same_lines_in_another_file_are_refused(fund: Fund) -> None:
    c, fin = fund.client, fund.finance
    first = send(c, fin, "\r\n".join([HEADER, *LINES]) + "\r\n")
    assert first.status_code == 201, first.get_json()
    before = bank_balance(fund)
    assert before["KHR"] == "248500" and before["USD"] == "1.50"

    variants = {
        "LF line ends": "\n".join([HEADER, *LINES]) + "\n",
        "no final line end": "\r\n".join([HEADER, *LINES]),
        "an extra column": "\r\n".join([HEADER + ",extra", *(ln + ",x" for ln in LINES)]),
        "columns reordered, quoted, case and spaces": "\r\n".join(
            [
                "Reference,Description,Date,Amount,Currency",
                '" ref-1 ","Bank  Charge",2026-10-20,"-1,500",khr',
                '"PAY-7","from P1",2026-10-21,"250,000",KHR',
                '"","interest",2026-10-22,1.5,USD',
            ]
        ),
    }
    for name, text in variants.items():
        r = send(c, fin, text)
        assert r.status_code == 409, (name, r.get_json())
        body = r.get_json()
        assert body["statement_id"] == first.get_json()["id"]
        assert [x["line_number"] for x in body["repeated_lines"]] == [2, 3, 4], name
        assert "already imported" in body["detail"]
    assert bank_balance(fund) == before  # nothing counted twice

    # an overlapping statement: one old line, one new
    r = send(c, fin, "\n".join([HEADER, LINES[1], "2026-10-23,-700,KHR,REF-2,charge"]))
    assert r.status_code == 409
    assert [x["line_number"] for x in r.get_json()["repeated_lines"]] == [2]
    assert r.get_json()["repeated_lines"][0]["statement_line_number"] == 3
    assert bank_balance(fund) == before
    # the new line alone is taken
    r = send(c, fin, "\n".join([HEADER, "2026-10-23,-700,KHR,REF-2,charge"]))
    assert r.status_code == 201, r.get_json()
    assert bank_balance(fund)["KHR"] == "247800"


def test_equal_movements_count_as_often_as_they_occur(fund: Fund) -> None:
    c, fin = fund.client, fund.finance
    fee = "2026-10-20,-100,KHR,,fee"
    assert send(c, fin, "\n".join([HEADER, fee, fee])).status_code == 201
    # a later file with the two fees and a third one: the first two are the ones held
    r = send(c, fin, "\n".join([HEADER, fee, fee, fee]))
    assert r.status_code == 409
    assert [x["line_number"] for x in r.get_json()["repeated_lines"]] == [2, 3]
    assert bank_balance(fund)["KHR"] == "-200"


def test_future_dates_are_refused(fund: Fund) -> None:
    c, fin = fund.client, fund.finance
    later = clock.today() + timedelta(days=2)
    r = send(c, fin, "\n".join([HEADER, LINES[0], f"{later.isoformat()},100,KHR,X,later"]))
    assert r.status_code == 422, r.get_json()
    assert "line 3" in r.get_json()["detail"].lower() and "future" in r.get_json()["detail"]
    r = send(c, fin, "\n".join([HEADER, "1999-12-31,100,KHR,X,old"]))
    assert r.status_code == 422 and "2000" in r.get_json()["detail"]
    tomorrow = clock.today() + timedelta(days=1)
    r = send(c, fin, "\n".join([HEADER, f"{tomorrow.isoformat()},100,KHR,X,tomorrow"]))
    assert r.status_code == 201, r.get_json()  # as every other write: up to tomorrow
