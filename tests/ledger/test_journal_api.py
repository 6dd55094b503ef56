"""POST /journal-entries, GET /journal-entries/{id}, POST /journal-entries/{id}/reverse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.ledger.conftest import assert_problem, body, pair, post, posted, snapshot, trial_balance
from tests.support import PROBLEM

GOOD_POSTINGS = pair("1010", "3000", "KHR", "1000")


def test_a_balanced_manual_entry_is_posted_and_can_be_read_back(
    client: FlaskClient, finance: dict[str, str], auditor: dict[str, str], books: Any
) -> None:
    r = post(client, finance, body("2026-10-14", "Bank fee", pair("5100", "1010", "KHR", "2500")))
    assert r.status_code == 201
    assert r.mimetype == "application/json"
    e = r.get_json()
    assert e["service_date"] == e["accounting_date"] == "2026-10-14"
    assert e["memo"] == "Bank fee"
    assert e["source"] == "manual"
    assert sorted((p["account"], p["amount"]) for p in e["postings"]) == [
        ("1010", "-2500"),
        ("5100", "2500"),
    ]
    got = client.get(f"/api/v1/journal-entries/{e['id']}", headers=auditor)
    assert got.status_code == 200
    read = got.get_json()
    # the seal is given after commit; everything else is what the POST answered
    assert {k: v for k, v in read.items() if k != "seal"} == {
        k: v for k, v in e.items() if k != "seal"
    }


def test_usd_amounts_keep_two_decimals_and_json_integers_are_whole_units(
    client: FlaskClient, finance: dict[str, str], books: Any
) -> None:
    e = posted(
        client,
        finance,
        body(
            postings=[
                {"account": "1020", "commodity": "USD", "amount": 12},
                {"account": "3000", "commodity": "USD", "amount": "-12.00"},
            ]
        ),
    )
    assert sorted(p["amount"] for p in e["postings"]) == ["-12.00", "12.00"]


def test_the_trial_balance_debits_equal_credits_per_commodity(
    client: FlaskClient, finance: dict[str, str], auditor: dict[str, str], books: Any
) -> None:
    posted(client, finance, body("2026-10-20", "fee", pair("5100", "1020", "USD", "0.05")))
    tb = trial_balance(client, auditor)
    assert tb["balanced"] is True
    totals = {t["commodity"]: (t["debit"], t["credit"]) for t in tb["totals"]}
    assert totals == {"KHR": ("1000000", "1000000"), "USD": ("2500.00", "2500.00")}
    rows = {(r["account"], r["commodity"]): (r["debit"], r["credit"]) for r in tb["rows"]}
    assert rows[("1020", "USD")] == ("2499.95", "0.00")
    assert rows[("5100", "USD")] == ("0.05", "0.00")
    assert rows[("3000", "KHR")] == ("0", "1000000")


# ----------------------------------------------------------------- bad input changes nothing

BIG = "1" + "0" * 30


def _p(**over: Any) -> list[dict[str, Any]]:
    first = {"account": "1010", "commodity": "KHR", "amount": "1000", **over}
    return [first, {"account": "3000", "commodity": "KHR", "amount": "-1000"}]


BAD_BODIES: dict[str, Any] = {
    "unbalanced": body(
        postings=[
            {"account": "1010", "commodity": "KHR", "amount": "1000"},
            {"account": "3000", "commodity": "KHR", "amount": "-999"},
        ]
    ),
    "balanced in sum but not per commodity": body(
        postings=[
            {"account": "1010", "commodity": "KHR", "amount": "100"},
            {"account": "1020", "commodity": "USD", "amount": "-1.00"},
            {"account": "3000", "commodity": "KHR", "amount": "-1"},
            {"account": "3000", "commodity": "USD", "amount": "-0.99"},
        ]
    ),
    "khr with decimals": body(postings=pair("1010", "3000", "KHR", "1000.5")),
    "khr with zero decimals": body(postings=pair("1010", "3000", "KHR", "1000.0")),
    "usd with three decimals": body(postings=pair("1020", "3000", "USD", "10.005")),
    "unknown account": body(postings=pair("1011", "3000", "KHR", "10")),
    "unknown commodity": body(postings=pair("1010", "3000", "XAU", "10")),
    "header account": body(postings=pair("1200", "3000", "KHR", "10")),
    "currency the account does not hold": body(postings=pair("1010", "3000", "USD", "10")),
    "units on a money account": body(postings=pair("1010", "3000", "MET500", "10")),
    "impossible date 2026-02-30": body("2026-02-30"),
    "impossible date 2026-13-01": body("2026-13-01"),
    "date not iso": body("14/10/2026"),
    "date before 2000": body("1999-12-31"),
    "future date": body("2026-11-25"),
    "far future date": body("9999-12-31"),
    "empty postings": body(postings=[]),
    "one posting": body(postings=[{"account": "1010", "commodity": "KHR", "amount": "0"}]),
    "zero amounts": body(postings=pair("1010", "3000", "KHR", "0")),
    "absurdly large string amount": body(postings=pair("1010", "3000", "KHR", BIG)),
    "absurdly large integer amount": body(postings=_p(amount=10**30)),
    "large usd integer": body(postings=_p(commodity="USD", account="1020", amount=10**14)),
    "hundred-digit amount": body(postings=pair("1010", "3000", "KHR", "9" * 100)),
    "exponent amount": body(postings=pair("1010", "3000", "KHR", "1e3")),
    "nan amount": body(postings=pair("1010", "3000", "KHR", "NaN")),
    "blank amount": body(postings=_p(amount="  ")),
    "amount as float": body(postings=_p(amount=1000.0)),
    "amount as list": body(postings=_p(amount=["1000"])),
    "amount as object": body(postings=_p(amount={"value": "1000"})),
    "amount as boolean": body(postings=_p(amount=True)),
    "amount as null": body(postings=_p(amount=None)),
    "amount missing": body(postings=[{"account": "1010", "commodity": "KHR"}, GOOD_POSTINGS[1]]),
    "account as number": body(postings=_p(account=1010)),
    "account as float": body(postings=_p(account=1010.0)),
    "account as list": body(postings=_p(account=["1010"])),
    "account as object": body(postings=_p(account={"code": "1010"})),
    "account as boolean": body(postings=_p(account=True)),
    "account as null": body(postings=_p(account=None)),
    "account empty": body(postings=_p(account="")),
    "account too long": body(postings=_p(account="1" * 5000)),
    "commodity as number": body(postings=_p(commodity=1)),
    "commodity as list": body(postings=_p(commodity=["KHR"])),
    "commodity as object": body(postings=_p(commodity={})),
    "commodity as boolean": body(postings=_p(commodity=False)),
    "commodity as null": body(postings=_p(commodity=None)),
    "lot as number": body(postings=_p(lot=1)),
    "lot as list": body(postings=_p(lot=["L1"])),
    "lot as object": body(postings=_p(lot={})),
    "lot as boolean": body(postings=_p(lot=True)),
    "unknown lot": body(postings=_p(lot="NOPE")),
    "date as number": {**body(), "date": 20261014},
    "date as float": {**body(), "date": 2026.1014},
    "date as list": {**body(), "date": ["2026-10-14"]},
    "date as object": {**body(), "date": {}},
    "date as boolean": {**body(), "date": True},
    "date as null": {**body(), "date": None},
    "date missing": {k: v for k, v in body().items() if k != "date"},
    "memo as number": {**body(), "memo": 5},
    "memo as list": {**body(), "memo": ["x"]},
    "memo as object": {**body(), "memo": {}},
    "memo as boolean": {**body(), "memo": True},
    "memo as null": {**body(), "memo": None},
    "memo empty": {**body(), "memo": ""},
    "memo missing": {k: v for k, v in body().items() if k != "memo"},
    "huge memo": {**body(), "memo": "x" * 100_000},
    "postings as object": {**body(), "postings": {"0": GOOD_POSTINGS[0]}},
    "postings as string": {**body(), "postings": "1010 3000"},
    "postings as number": {**body(), "postings": 2},
    "postings as boolean": {**body(), "postings": True},
    "postings as null": {**body(), "postings": None},
    "postings missing": {k: v for k, v in body().items() if k != "postings"},
    "posting as string": {**body(), "postings": ["1010", "3000"]},
    "posting as number": {**body(), "postings": [1, 2]},
    "posting as list": {**body(), "postings": [["1010", "KHR", "1"], ["3000", "KHR", "-1"]]},
    "posting as null": {**body(), "postings": [None, None]},
    "too many postings": {**body(), "postings": GOOD_POSTINGS * 300},
    "nul in memo": {**body(), "memo": "a\u0000b"},
    "nul in account": body(postings=_p(account="10\u000010")),
    "nul in commodity": body(postings=_p(commodity="KH\u0000R")),
    "nul in lot": body(postings=_p(lot="L\u00001")),
    "lone surrogate in memo": {**body(), "memo": "\ud800"},
    "array body": [body()],
    "string body": "entry",
    "number body": 42,
    "null body": None,
    "boolean body": True,
    "empty object": {},
}


@pytest.mark.parametrize("case", list(BAD_BODIES), ids=list(BAD_BODIES))
def test_bad_input_is_a_4xx_problem_and_changes_nothing(
    app: Flask,
    client: FlaskClient,
    finance: dict[str, str],
    auditor: dict[str, str],
    books: Any,
    case: str,
) -> None:
    before, tb = snapshot(app), trial_balance(client, auditor)
    r = post(client, finance, BAD_BODIES[case], key=f"bad-{case}")
    p = assert_problem(r, 400, 409, 422)
    if p["type"] == "/problems/unbalanced-entry":
        # a rule of the books, not a malformed field: the problem says what is off
        assert p["unbalanced"], p
    elif r.status_code == 422:
        assert isinstance(p.get("errors"), dict) and p["errors"], p
    assert snapshot(app) == before
    assert trial_balance(client, auditor) == tb


def test_an_unbalanced_entry_is_422_and_names_the_commodity(
    client: FlaskClient, finance: dict[str, str], books: Any
) -> None:
    r = post(client, finance, BAD_BODIES["balanced in sum but not per commodity"])
    p = assert_problem(r, 422)
    assert "KHR" in p["detail"] and "USD" in p["detail"]


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"date": "2026-10-14", ', "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"", "application/json"),
        (b"date=2026-10-14", "application/x-www-form-urlencoded"),
        (b"NaN", "application/json"),
    ],
)
def test_a_body_that_is_not_json_is_a_4xx_problem(
    app: Flask, client: FlaskClient, finance: dict[str, str], raw: bytes, content_type: str
) -> None:
    before = snapshot(app)
    r = client.post("/api/v1/journal-entries", data=raw, content_type=content_type, headers=finance)
    assert_problem(r, 400, 415, 422)
    assert snapshot(app) == before


def test_a_body_over_one_mebibyte_is_413(
    app: Flask, client: FlaskClient, finance: dict[str, str]
) -> None:
    before = snapshot(app)
    payload = json.dumps({**body(), "memo": "x" * (1024 * 1024 + 10)})
    r = client.post(
        "/api/v1/journal-entries", data=payload, content_type="application/json", headers=finance
    )
    assert_problem(r, 413)
    assert snapshot(app) == before


# ----------------------------------------------------------------- idempotency


def test_a_retry_with_the_same_key_and_body_returns_the_same_bytes_and_posts_nothing(
    app: Flask, client: FlaskClient, finance: dict[str, str], books: Any
) -> None:
    payload = body(postings=pair("5100", "1010", "KHR", "700"))
    first = post(client, finance, payload, key="k-1")
    assert first.status_code == 201
    after_first = snapshot(app)
    # the same JSON with its keys in another order is the same body
    reordered = {k: payload[k] for k in reversed(list(payload))}
    for again in (payload, reordered):
        r = post(client, finance, again, key="k-1")
        assert r.status_code == first.status_code
        assert r.get_data() == first.get_data()
        assert snapshot(app) == after_first


def test_the_same_key_with_another_body_is_409_and_posts_nothing(
    app: Flask, client: FlaskClient, finance: dict[str, str], books: Any
) -> None:
    assert (
        post(client, finance, body(postings=pair("5100", "1010", "KHR", "700")), "k").status_code
        == 201
    )
    before = snapshot(app)
    r = post(client, finance, body(postings=pair("5100", "1010", "KHR", "701")), "k")
    assert_problem(r, 409)
    assert snapshot(app) == before


def test_a_refused_request_does_not_burn_its_key(
    app: Flask, client: FlaskClient, finance: dict[str, str], books: Any
) -> None:
    bad = body("2026-02-30")
    assert_problem(post(client, finance, bad, "k2"), 422)
    assert_problem(post(client, finance, bad, "k2"), 422)
    assert post(client, finance, body(), "k3").status_code == 201


def test_an_overlong_idempotency_key_is_refused(
    app: Flask, client: FlaskClient, finance: dict[str, str]
) -> None:
    before = snapshot(app)
    assert_problem(post(client, finance, body(), "k" * 301), 400, 422)
    assert snapshot(app) == before


def test_without_a_key_each_post_is_a_new_entry(
    app: Flask, client: FlaskClient, finance: dict[str, str]
) -> None:
    a, b = posted(client, finance, body()), posted(client, finance, body())
    assert a["id"] != b["id"]


# ----------------------------------------------------------------- reading one entry


@pytest.mark.parametrize(
    "entry_id", ["999999", "0", "abc", "-1", "1.0", "1e3", "99999999999999999999", "²", "٣", " 1"]
)
def test_an_unknown_or_non_numeric_entry_is_404(
    client: FlaskClient, auditor: dict[str, str], books: Any, entry_id: str
) -> None:
    r = client.get(f"/api/v1/journal-entries/{entry_id}", headers=auditor)
    assert_problem(r, 404)


# ----------------------------------------------------------------- reversal


def test_a_reversal_negates_every_posting_exactly(
    client: FlaskClient, finance: dict[str, str], auditor: dict[str, str], books: Any
) -> None:
    tb_before = trial_balance(client, auditor)
    e = posted(
        client,
        finance,
        body(
            "2026-10-15",
            "two currencies",
            pair("5100", "1010", "KHR", "1234") + pair("5100", "1020", "USD", "12.34"),
        ),
    )
    r = client.post(f"/api/v1/journal-entries/{e['id']}/reverse", json={}, headers=finance)
    assert r.status_code == 201, r.get_data(as_text=True)
    rev = r.get_json()
    assert rev["reverses"] == e["id"]
    assert rev["accounting_date"] == "2026-11-23"

    def neg(a: str) -> str:
        return a[1:] if a.startswith("-") else "-" + a

    key = lambda p: (p["account"], p["commodity"], p["lot"])  # noqa: E731
    assert sorted((key(p), neg(p["amount"])) for p in e["postings"]) == sorted(
        (key(p), p["amount"]) for p in rev["postings"]
    )
    assert trial_balance(client, auditor) == tb_before
    again = client.get(f"/api/v1/journal-entries/{e['id']}", headers=auditor).get_json()
    assert again["reversed_by"] == [rev["id"]]


def test_an_entry_is_reversed_at_most_once_and_a_reversal_is_never_reversed(
    app: Flask, client: FlaskClient, finance: dict[str, str], books: Any
) -> None:
    e = posted(client, finance, body())
    rev = client.post(f"/api/v1/journal-entries/{e['id']}/reverse", json={}, headers=finance)
    assert rev.status_code == 201
    before = snapshot(app)
    second = client.post(f"/api/v1/journal-entries/{e['id']}/reverse", json={}, headers=finance)
    assert_problem(second, 409)
    rev_id = rev.get_json()["id"]
    of_rev = client.post(f"/api/v1/journal-entries/{rev_id}/reverse", json={}, headers=finance)
    assert_problem(of_rev, 409)
    assert snapshot(app) == before


def test_a_reversal_can_carry_its_own_date_and_memo(
    client: FlaskClient, finance: dict[str, str], books: Any
) -> None:
    e = posted(client, finance, body())
    r = client.post(
        f"/api/v1/journal-entries/{e['id']}/reverse",
        json={"date": "2026-10-31", "memo": "typo"},
        headers=finance,
    )
    assert r.status_code == 201
    assert r.get_json()["service_date"] == "2026-10-31"
    assert r.get_json()["memo"] == "typo"


@pytest.mark.parametrize(
    "payload",
    [
        {"date": "2026-11-30"},
        {"date": "2026-02-30"},
        {"date": 5},
        {"memo": ""},
        {"memo": 3},
        [1],
        "x",
    ],
)
def test_a_reversal_with_bad_input_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, finance: dict[str, str], books: Any, payload: Any
) -> None:
    before = snapshot(app)
    r = client.post(f"/api/v1/journal-entries/{books['id']}/reverse", json=payload, headers=finance)
    assert_problem(r, 400, 422)
    assert snapshot(app) == before


def test_a_reversal_without_a_body_is_not_a_server_error(
    client: FlaskClient, finance: dict[str, str], books: Any
) -> None:
    r = client.post(f"/api/v1/journal-entries/{books['id']}/reverse", headers=finance)
    assert r.status_code < 500, r.get_data(as_text=True)


@pytest.mark.parametrize("entry_id", ["999999", "abc", "²"])
def test_reversing_an_unknown_entry_is_404(
    client: FlaskClient, finance: dict[str, str], entry_id: str
) -> None:
    r = client.post(f"/api/v1/journal-entries/{entry_id}/reverse", json={}, headers=finance)
    assert_problem(r, 404)


def test_a_reversal_is_idempotent_under_its_key(
    app: Flask, client: FlaskClient, finance: dict[str, str], books: Any
) -> None:
    e = posted(client, finance, body())
    h = {**finance, "Idempotency-Key": "rev-1"}
    first = client.post(f"/api/v1/journal-entries/{e['id']}/reverse", json={}, headers=h)
    assert first.status_code == 201
    before = snapshot(app)
    again = client.post(f"/api/v1/journal-entries/{e['id']}/reverse", json={}, headers=h)
    assert again.status_code == 201 and again.get_data() == first.get_data()
    assert snapshot(app) == before
    assert again.mimetype != PROBLEM
