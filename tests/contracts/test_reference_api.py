"""Price lists, subsidy schemes, patients and contracts over HTTP: what a good request makes,
and what each kind of bad request is refused with (a 4xx problem that changes nothing)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contracts.conftest import Api, snapshot


def test_a_price_list_keeps_its_versions_and_exact_prices(world: Api) -> None:
    body = world.get("/price-lists/RETAIL").get_json()
    assert body["currency"] == "KHR"
    assert [v["effective_from"] for v in body["versions"]] == ["2026-01-01", "2026-03-01"]
    first = {i["medicine"]: i["unit_price"] for i in body["versions"][0]["items"]}
    assert first == {"MET500": "50", "AML5": "120.5", "ENA10": "0.125"}
    listing = world.get("/price-lists").get_json()
    assert [p["code"] for p in listing["items"]] == ["RETAIL", "WHOLE"]


def test_a_unit_price_with_six_decimals_is_stored_exactly(world: Api) -> None:
    out = world.ok(
        "/price-lists/RETAIL/versions",
        {
            "effective_from": "2026-04-01",
            "items": [{"medicine": "GLI80", "unit_price": "1.234567"}],
        },
    )
    assert out["items"] == [{"medicine": "GLI80", "unit_price": "1.234567"}]


def test_a_second_version_on_the_same_date_is_a_conflict(world: Api) -> None:
    before = snapshot(world.app)
    r = world.post(
        "/price-lists/RETAIL/versions",
        {"effective_from": "2026-03-01", "items": [{"medicine": "MET500", "unit_price": "70"}]},
    )
    assert r.status_code == 409
    assert r.mimetype == "application/problem+json"
    assert snapshot(world.app) == before


def test_an_external_scheme_gets_its_receivable_account(world: Api) -> None:
    hef = world.get("/subsidy-schemes/HEF").get_json()
    assert hef["account"] == "1300-HEF" and hef["percent"] == "100"
    ngo = world.get("/subsidy-schemes/NGO50").get_json()
    assert ngo["account"] is None
    assert (ngo["cap_per_patient_month"], ngo["cash_rounding"]) == ("20000", "100")
    accounts = world.get("/accounts", query_string={"limit": 1000}).get_json()["items"]
    sub = [a for a in accounts if a["code"] == "1300-HEF"]
    assert sub and sub[0]["parent"] == "1300" and sub[0]["type"] == "asset"
    assert not [a for a in accounts if a["code"] == "1300-NGO50"]


def test_a_scheme_with_eligible_medicines_and_a_decimal_percent(api: Api) -> None:
    out = api.ok(
        "/subsidy-schemes",
        {
            "code": "DM",
            "name": "Diabetes",
            "payer": "fund",
            "percent": "33.33",
            "eligible_medicines": ["MET500", "GLI80"],
            "cap_per_dispensing": 5000,
        },
    )
    assert out["percent"] == "33.33"
    assert out["eligible_medicines"] == ["GLI80", "MET500"]
    assert out["cap_per_dispensing"] == "5000"


def test_a_member_code_in_khmer_script_round_trips(api: Api) -> None:
    code = "សមាជិក-០០៤២"
    out = api.ok("/patients", {"member_code": code})
    assert out["member_code"] == code
    r = api.get(f"/patients/{code}")
    assert r.status_code == 200 and r.get_json()["member_code"] == code


def test_a_member_code_is_found_whatever_its_unicode_normal_form(api: Api) -> None:
    composed = "M-\u00e9"  # é as one code point
    decomposed = "M-e\u0301"  # e + combining acute
    assert api.ok("/patients", {"member_code": decomposed})["member_code"] == composed
    assert api.get(f"/patients/{composed}").status_code == 200
    assert api.post("/patients", {"member_code": composed}).status_code == 409


def test_the_openapi_document_describes_the_contracts_endpoints(api: Api) -> None:
    paths = api.client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/price-lists",
        "/api/v1/price-lists/{code}/versions",
        "/api/v1/subsidy-schemes",
        "/api/v1/patients",
        "/api/v1/patients/{member_code}/enrolments",
        "/api/v1/pharmacies/{code}/contracts",
        "/api/v1/pharmacies/{code}/contracts/{contract_id}/suspend",
    ):
        assert path in paths, path


def test_enrolments_can_be_added_later(world: Api) -> None:
    out = world.ok(
        "/patients/M-2/enrolments",
        {"scheme": "NGO50", "valid_from": "2026-03-01", "valid_to": "2026-12-31"},
    )
    assert [(e["valid_from"], e["valid_to"]) for e in out["enrolments"]] == [
        ("2026-01-01", "2026-02-28"),
        ("2026-03-01", "2026-12-31"),
    ]


def test_the_patient_list_filters_by_scheme(world: Api) -> None:
    all_codes = [p["member_code"] for p in world.get("/patients").get_json()["items"]]
    assert all_codes == ["M-1", "M-2", "M-3"]
    hef = world.get("/patients", query_string={"scheme": "HEF"}).get_json()["items"]
    assert [p["member_code"] for p in hef] == ["M-1"]
    page = world.get("/patients", query_string={"limit": 2}).get_json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = world.get("/patients", query_string={"cursor": page["next_cursor"]}).get_json()
    assert [p["member_code"] for p in rest["items"]] == ["M-3"]


def test_contracts_are_listed_with_their_terms(world: Api) -> None:
    items = world.get("/pharmacies/P1/contracts").get_json()["items"]
    assert len(items) == 1
    c = items[0]
    assert c["model"] == "consignment" and c["price_list"] == "RETAIL"
    assert c["fee"] == {"kind": "percent", "value": "10"}
    assert c["status"] == "active" and c["settlement_cycle"] == "monthly"
    assert world.get(f"/pharmacies/P1/contracts/{c['id']}").get_json() == c


def test_suspend_and_resume_follow_the_contract_states(world: Api) -> None:
    cid = world.get("/pharmacies/P1/contracts").get_json()["items"][0]["id"]
    assert world.post(f"/pharmacies/P1/contracts/{cid}/resume", {}).status_code == 409
    assert world.ok(f"/pharmacies/P1/contracts/{cid}/suspend", {}, 200)["status"] == "suspended"
    assert world.post(f"/pharmacies/P1/contracts/{cid}/suspend", {}).status_code == 409
    assert world.ok(f"/pharmacies/P1/contracts/{cid}/resume", {}, 200)["status"] == "active"
    assert world.post("/pharmacies/P2/contracts/" + cid + "/suspend", {}).status_code == 404


def test_a_contract_after_an_ended_one_is_accepted(world: Api) -> None:
    cid = world.get("/pharmacies/P1/contracts").get_json()["items"][0]["id"]
    world.ok(f"/pharmacies/P1/contracts/{cid}/end", {"on": "2026-06-30"}, 200)
    world.ok(
        "/pharmacies/P1/contracts",
        {
            "valid_from": "2026-07-01",
            "model": "purchase",
            "price_list": "RETAIL",
            "wholesale_price_list": "WHOLE",
            "fee": {"kind": "per_dispensing", "value": "1000"},
        },
    )
    assert len(world.get("/pharmacies/P1/contracts").get_json()["items"]) == 2


def test_a_repeated_post_with_the_same_idempotency_key_creates_once(api: Api) -> None:
    body = {"code": "PL", "currency": "KHR"}
    h = {"Idempotency-Key": "k-1"}
    a = api.post("/price-lists", body, headers=h)
    b = api.post("/price-lists", body, headers=h)
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.get_json() == b.get_json()
    assert (
        api.post("/price-lists", {"code": "PL2", "currency": "KHR"}, headers=h).status_code == 409
    )


# --------------------------------------------------------------------------- bad input

GOOD_SCHEME: dict[str, Any] = {"code": "X", "name": "X", "payer": "fund", "percent": "50"}
GOOD_CONTRACT: dict[str, Any] = {
    "valid_from": "2027-01-01",
    "model": "consignment",
    "price_list": "RETAIL",
    "fee": {"kind": "per_dispensing", "value": "500"},
}

BAD_REQUESTS: list[tuple[str, str, dict[str, Any] | list[Any] | str, int]] = [
    # price lists
    ("list: unknown currency", "/price-lists", {"code": "Y", "currency": "EUR"}, 422),
    ("list: medicine as currency", "/price-lists", {"code": "Y", "currency": "MET500"}, 422),
    ("list: code taken", "/price-lists", {"code": "RETAIL", "currency": "KHR"}, 409),
    ("list: code with space", "/price-lists", {"code": "A B", "currency": "KHR"}, 422),
    ("list: code not a string", "/price-lists", {"code": 7, "currency": "KHR"}, 422),
    ("list: body not an object", "/price-lists", ["RETAIL"], 422),
    (
        "version: 7 decimals",
        "/price-lists/RETAIL/versions",
        {
            "effective_from": "2026-05-01",
            "items": [{"medicine": "MET500", "unit_price": "1.1234567"}],
        },
        422,
    ),
    (
        "version: float price",
        "/price-lists/RETAIL/versions",
        {"effective_from": "2026-05-01", "items": [{"medicine": "MET500", "unit_price": 1.5}]},
        422,
    ),
    (
        "version: negative price",
        "/price-lists/RETAIL/versions",
        {"effective_from": "2026-05-01", "items": [{"medicine": "MET500", "unit_price": "-1"}]},
        422,
    ),
    (
        "version: exponent price",
        "/price-lists/RETAIL/versions",
        {"effective_from": "2026-05-01", "items": [{"medicine": "MET500", "unit_price": "1e3"}]},
        422,
    ),
    (
        "version: unknown medicine",
        "/price-lists/RETAIL/versions",
        {"effective_from": "2026-05-01", "items": [{"medicine": "NOPE", "unit_price": "1"}]},
        422,
    ),
    (
        "version: a medicine twice",
        "/price-lists/RETAIL/versions",
        {
            "effective_from": "2026-05-01",
            "items": [
                {"medicine": "MET500", "unit_price": "1"},
                {"medicine": "MET500", "unit_price": "2"},
            ],
        },
        422,
    ),
    (
        "version: no items",
        "/price-lists/RETAIL/versions",
        {"effective_from": "2026-05-01", "items": []},
        422,
    ),
    (
        "version: bad date",
        "/price-lists/RETAIL/versions",
        {"effective_from": "2026-02-30", "items": [{"medicine": "MET500", "unit_price": "1"}]},
        422,
    ),
    (
        "version: year 1999",
        "/price-lists/RETAIL/versions",
        {"effective_from": "1999-12-31", "items": [{"medicine": "MET500", "unit_price": "1"}]},
        422,
    ),
    (
        "version: unknown price list",
        "/price-lists/NOPE/versions",
        {"effective_from": "2026-05-01", "items": [{"medicine": "MET500", "unit_price": "1"}]},
        404,
    ),
    # schemes
    ("scheme: percent over 100", "/subsidy-schemes", {**GOOD_SCHEME, "percent": "100.01"}, 422),
    ("scheme: percent negative", "/subsidy-schemes", {**GOOD_SCHEME, "percent": -1}, 422),
    ("scheme: percent 3 decimals", "/subsidy-schemes", {**GOOD_SCHEME, "percent": "12.345"}, 422),
    ("scheme: percent float", "/subsidy-schemes", {**GOOD_SCHEME, "percent": 50.5}, 422),
    ("scheme: percent words", "/subsidy-schemes", {**GOOD_SCHEME, "percent": "half"}, 422),
    ("scheme: negative cap", "/subsidy-schemes", {**GOOD_SCHEME, "cap_per_dispensing": "-5"}, 422),
    (
        "scheme: negative month cap",
        "/subsidy-schemes",
        {**GOOD_SCHEME, "cap_per_patient_month": -1},
        422,
    ),
    (
        "scheme: cap with decimals in KHR",
        "/subsidy-schemes",
        {**GOOD_SCHEME, "cap_per_dispensing": "10.5"},
        422,
    ),
    ("scheme: zero cash rounding", "/subsidy-schemes", {**GOOD_SCHEME, "cash_rounding": "0"}, 422),
    ("scheme: unknown payer", "/subsidy-schemes", {**GOOD_SCHEME, "payer": "donor"}, 422),
    (
        "scheme: unknown medicine",
        "/subsidy-schemes",
        {**GOOD_SCHEME, "eligible_medicines": ["MET500", "NOPE"]},
        422,
    ),
    (
        "scheme: empty eligible list",
        "/subsidy-schemes",
        {**GOOD_SCHEME, "eligible_medicines": []},
        422,
    ),
    ("scheme: code taken", "/subsidy-schemes", {**GOOD_SCHEME, "code": "HEF"}, 409),
    ("scheme: name missing", "/subsidy-schemes", {"code": "X", "payer": "fund", "percent": 1}, 422),
    # patients
    ("patient: control character", "/patients", {"member_code": "M-\u00079"}, 422),
    ("patient: newline", "/patients", {"member_code": "M-9\n"}, 422),
    ("patient: 41 characters", "/patients", {"member_code": "M" * 41}, 422),
    ("patient: empty code", "/patients", {"member_code": ""}, 422),
    ("patient: code not a string", "/patients", {"member_code": 42}, 422),
    ("patient: code taken", "/patients", {"member_code": "M-1"}, 409),
    (
        "patient: unknown scheme",
        "/patients",
        {"member_code": "M-9", "enrolments": [{"scheme": "NOPE", "valid_from": "2026-01-01"}]},
        422,
    ),
    (
        "patient: overlapping enrolments",
        "/patients",
        {
            "member_code": "M-9",
            "enrolments": [
                {"scheme": "HEF", "valid_from": "2026-01-01", "valid_to": "2026-03-31"},
                {"scheme": "HEF", "valid_from": "2026-03-31"},
            ],
        },
        422,
    ),
    (
        "patient: enrolment ends before it starts",
        "/patients",
        {
            "member_code": "M-9",
            "enrolments": [{"scheme": "HEF", "valid_from": "2026-03-01", "valid_to": "2026-02-28"}],
        },
        422,
    ),
    (
        "enrolment: overlaps an existing one",
        "/patients/M-1/enrolments",
        {"scheme": "HEF", "valid_from": "2025-06-01", "valid_to": "2026-01-01"},
        422,
    ),
    (
        "enrolment: unknown patient",
        "/patients/M-404/enrolments",
        {"scheme": "HEF", "valid_from": "2026-01-01"},
        404,
    ),
    (
        "enrolment: date as a number",
        "/patients/M-3/enrolments",
        {"scheme": "HEF", "valid_from": 20260101},
        422,
    ),
    # contracts
    (
        "contract: overlapping",
        "/pharmacies/P1/contracts",
        {**GOOD_CONTRACT, "valid_from": "2026-06-01"},
        409,
    ),
    ("contract: unknown pharmacy", "/pharmacies/P9/contracts", GOOD_CONTRACT, 404),
    (
        "contract: unknown price list",
        "/pharmacies/P2/contracts",
        {**GOOD_CONTRACT, "price_list": "NOPE"},
        422,
    ),
    (
        "contract: purchase without wholesale",
        "/pharmacies/P2/contracts",
        {**GOOD_CONTRACT, "model": "purchase"},
        422,
    ),
    (
        "contract: unknown wholesale list",
        "/pharmacies/P2/contracts",
        {**GOOD_CONTRACT, "model": "purchase", "wholesale_price_list": "NOPE"},
        422,
    ),
    (
        "contract: unknown model",
        "/pharmacies/P2/contracts",
        {**GOOD_CONTRACT, "model": "lease"},
        422,
    ),
    (
        "contract: unknown fee kind",
        "/pharmacies/P2/contracts",
        {**GOOD_CONTRACT, "fee": {"kind": "flat", "value": "1"}},
        422,
    ),
    (
        "contract: negative fee",
        "/pharmacies/P2/contracts",
        {**GOOD_CONTRACT, "fee": {"kind": "per_line", "value": "-1"}},
        422,
    ),
    (
        "contract: fee percent over 100",
        "/pharmacies/P2/contracts",
        {**GOOD_CONTRACT, "fee": {"kind": "percent", "value": "101"}},
        422,
    ),
    (
        "contract: fee with riel decimals",
        "/pharmacies/P2/contracts",
        {**GOOD_CONTRACT, "fee": {"kind": "per_dispensing", "value": "0.5"}},
        422,
    ),
    (
        "contract: ends before it starts",
        "/pharmacies/P2/contracts",
        {**GOOD_CONTRACT, "valid_to": "2026-12-31"},
        422,
    ),
    (
        "contract: weekly settlement",
        "/pharmacies/P2/contracts",
        {**GOOD_CONTRACT, "settlement_cycle": "weekly"},
        422,
    ),
    (
        "contract: fee missing",
        "/pharmacies/P2/contracts",
        {k: v for k, v in GOOD_CONTRACT.items() if k != "fee"},
        422,
    ),
]


GROUPS = sorted({name.split(":")[0] for name, *_ in BAD_REQUESTS})


@pytest.mark.parametrize("group", GROUPS)
def test_a_bad_request_is_a_problem_that_changes_nothing(world: Api, group: str) -> None:
    """One world per group of cases (speed); each case names itself when it fails."""
    for name, path, body, status in BAD_REQUESTS:
        if name.split(":")[0] != group:
            continue
        before = snapshot(world.app)
        r = world.post(path, body)
        problem = r.get_json()
        assert r.status_code == status, (name, problem)
        assert r.mimetype == "application/problem+json", name
        assert problem["status"] == status and problem["detail"], name
        if status == 422:
            assert problem.get("errors"), (name, problem)
        assert snapshot(world.app) == before, name


def test_a_body_that_is_not_json_is_a_400(world: Api) -> None:
    r = world.call("POST", "/price-lists", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
