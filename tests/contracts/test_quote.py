"""quote_dispensing: the facts in force on the service date, carried into the priced quote."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from sqlalchemy.orm import Session

from contracts.errors import NoContractInForce
from contracts.quote import Quote, SubsidyUsage, quote_dispensing
from contracts.terms import wholesale_price
from ledger.errors import InvalidRequest
from tests.contracts.conftest import Api


def quote(
    world: Api,
    on: str,
    patient: str | None,
    items: list[tuple[str, int]],
    pharmacy: str = "P1",
    subsidy_used: SubsidyUsage | None = None,
) -> Quote:
    with world.app.extensions["rdf_db"].session() as s:
        return quote_dispensing(
            s,
            pharmacy=pharmacy,
            patient=patient,
            service_date=date.fromisoformat(on),
            items=items,
            subsidy_used=subsidy_used,
        )


def test_the_version_in_force_the_day_before_a_new_one_is_the_old_one(world: Api) -> None:
    q = quote(world, "2026-02-28", None, [("MET500", 10)])
    assert q.priced.lines[0].unit_price == 50
    assert q.priced.total_price == 500


def test_a_new_version_prices_from_its_effective_date_on(world: Api) -> None:
    assert quote(world, "2026-03-01", None, [("MET500", 10)]).priced.total_price == 600
    assert quote(world, "2026-03-02", None, [("MET500", 10)]).priced.total_price == 600


def test_a_service_date_before_the_first_version_has_no_price(world: Api) -> None:
    world.ok(
        "/pharmacies/P2/contracts",
        {
            "valid_from": "2025-12-01",
            "model": "consignment",
            "price_list": "RETAIL",
            "fee": {"kind": "per_dispensing", "value": "500"},
        },
    )
    with pytest.raises(NoContractInForce, match="no version in force"):
        quote(world, "2025-12-31", None, [("MET500", 1)], pharmacy="P2")


def test_a_medicine_dropped_from_the_version_in_force_is_named(world: Api) -> None:
    quote(world, "2026-02-28", None, [("ENA10", 8)])  # still priced in the old version
    with pytest.raises(InvalidRequest, match="ENA10") as exc:
        quote(world, "2026-03-01", None, [("MET500", 1), ("ENA10", 8)])
    errors = exc.value.errors or {}
    assert list(errors) == ["items.1.medicine"]
    assert "ENA10" in errors["items.1.medicine"][0]


def test_unit_prices_with_decimals_price_exactly(world: Api) -> None:
    q = quote(world, "2026-01-10", None, [("ENA10", 12), ("AML5", 3)])
    assert q.priced.lines[0].unit_price == Fraction(1, 8)
    assert [line.price for line in q.priced.lines] == [2, 362]  # 1.5 -> 2, 361.5 -> 362


def test_a_walk_in_pays_the_full_price(world: Api) -> None:
    q = quote(world, "2026-01-10", None, [("MET500", 60)])
    assert q.scheme is None and q.patient is None
    assert (q.priced.total_price, q.priced.total_subsidy, q.priced.total_copayment) == (
        3000,
        0,
        3000,
    )


def test_the_quote_carries_contract_model_currency_and_fee(world: Api) -> None:
    q = quote(world, "2026-01-10", "M-1", [("MET500", 60)])
    assert (q.pharmacy, q.currency, q.model, q.service_date) == (
        "P1",
        "KHR",
        "consignment",
        date(2026, 1, 10),
    )
    assert q.fee_rule.kind == "percent" and q.fee_rule.value == 10
    assert q.priced.fee == 300
    assert q.scheme is not None and q.scheme.code == "HEF" and q.scheme.payer == "external"
    assert q.priced.total_subsidy == 3000 and q.priced.total_copayment == 0


@pytest.mark.parametrize(
    ("kind", "value", "fee"),
    [("per_dispensing", "500", 500), ("per_line", "200", 400), ("percent", "2.5", 78)],
)
def test_each_fee_kind_is_carried_into_the_quote(
    world: Api, kind: str, value: str, fee: int
) -> None:
    world.ok(
        "/pharmacies/P2/contracts",
        {
            "valid_from": "2026-01-01",
            "model": "consignment",
            "price_list": "RETAIL",
            "fee": {"kind": kind, "value": value},
        },
    )
    q = quote(world, "2026-01-10", None, [("MET500", 60), ("AML5", 1)], pharmacy="P2")
    assert q.priced.total_price == 3121  # 3000 + 120.5 -> 121
    assert q.fee_rule.kind == kind
    assert q.priced.fee == fee  # 2.5 % of 3121 = 78.025 -> 78


def test_an_enrolment_counts_on_its_last_day_and_not_the_day_after(world: Api) -> None:
    on_last = quote(world, "2026-02-28", "M-2", [("MET500", 11)])
    assert on_last.scheme is not None and on_last.scheme.code == "NGO50"
    # 550 at 50 % = 275, co-payment 275 rounded to 300: subsidy 250
    assert (on_last.priced.total_subsidy, on_last.priced.total_copayment) == (250, 300)
    after = quote(world, "2026-03-01", "M-2", [("MET500", 11)])
    assert after.scheme is None and after.priced.total_subsidy == 0


def test_an_enrolment_counts_from_its_first_day_and_not_the_day_before(world: Api) -> None:
    world.ok("/patients/M-3/enrolments", {"scheme": "HEF", "valid_from": "2026-02-01"})
    assert quote(world, "2026-01-31", "M-3", [("MET500", 1)]).scheme is None
    q = quote(world, "2026-02-01", "M-3", [("MET500", 1)])
    assert q.scheme is not None and q.scheme.code == "HEF"


def test_of_several_schemes_the_highest_percent_applies(world: Api) -> None:
    world.ok("/patients/M-2/enrolments", {"scheme": "HEF", "valid_from": "2026-02-01"})
    assert quote(world, "2026-02-15", "M-2", [("MET500", 1)]).scheme.code == "HEF"  # type: ignore[union-attr]
    assert quote(world, "2026-01-15", "M-2", [("MET500", 1)]).scheme.code == "NGO50"  # type: ignore[union-attr]


def test_an_unknown_patient_is_refused(world: Api) -> None:
    with pytest.raises(InvalidRequest) as exc:
        quote(world, "2026-01-10", "M-404", [("MET500", 1)])
    assert exc.value.status == 422 and "patient" in (exc.value.errors or {})


def test_the_monthly_cap_uses_what_the_caller_says_was_used(world: Api) -> None:
    calls: list[tuple[str, str, str]] = []

    def used(_s: Session, patient: str, scheme: str, month: str) -> int:
        calls.append((patient, scheme, month))
        return 19_800

    q = quote(world, "2026-02-10", "M-2", [("MET500", 20)], subsidy_used=used)  # 1000, 50 %
    assert calls == [("M-2", "NGO50", "2026-02")]
    # 200 left under the cap; co-payment 800 is already a multiple of 100
    assert (q.priced.total_subsidy, q.priced.total_copayment) == (200, 800)


def test_without_a_subsidy_used_function_nothing_was_used(world: Api) -> None:
    q = quote(world, "2026-02-10", "M-2", [("MET500", 20)])  # price 1000, 50 % = 500
    assert (q.priced.total_subsidy, q.priced.total_copayment) == (500, 500)


def test_a_pharmacy_without_a_contract_gets_409(world: Api) -> None:
    with pytest.raises(NoContractInForce, match="no contract in force") as exc:
        quote(world, "2026-01-10", None, [("MET500", 1)], pharmacy="P2")
    assert exc.value.status == 409


def test_a_suspended_contract_refuses_quotes_until_resumed(world: Api) -> None:
    cid = world.get("/pharmacies/P1/contracts").get_json()["items"][0]["id"]
    world.ok(f"/pharmacies/P1/contracts/{cid}/suspend", {}, status=200)
    with pytest.raises(NoContractInForce, match="suspended"):
        quote(world, "2026-01-10", None, [("MET500", 1)])
    world.ok(f"/pharmacies/P1/contracts/{cid}/resume", {}, status=200)
    assert quote(world, "2026-01-10", None, [("MET500", 1)]).contract_id == int(cid)


def test_an_ended_contract_prices_up_to_its_end_and_refuses_after(world: Api) -> None:
    cid = world.get("/pharmacies/P1/contracts").get_json()["items"][0]["id"]
    out = world.ok(f"/pharmacies/P1/contracts/{cid}/end", {"on": "2026-01-31"}, status=200)
    assert out["status"] == "ended" and out["valid_to"] == "2026-01-31"
    assert quote(world, "2026-01-31", None, [("MET500", 1)]).priced.total_price == 50
    with pytest.raises(NoContractInForce, match="ended on 2026-01-31"):
        quote(world, "2026-02-01", None, [("MET500", 1)])


def test_a_bad_quantity_is_refused(world: Api) -> None:
    with pytest.raises(InvalidRequest):
        quote(world, "2026-01-10", None, [("MET500", 0)])
    with pytest.raises(InvalidRequest):
        quote(world, "2026-01-10", None, [])


def test_the_wholesale_price_follows_the_purchase_contract_in_force(world: Api) -> None:
    world.ok(
        "/pharmacies/P2/contracts",
        {
            "valid_from": "2026-02-01",
            "model": "purchase",
            "price_list": "RETAIL",
            "wholesale_price_list": "WHOLE",
            "fee": {"kind": "per_line", "value": 0},
        },
    )
    with world.app.extensions["rdf_db"].session() as s:
        assert wholesale_price(s, "P2", "MET500", date(2026, 2, 1)) == 35
        assert wholesale_price(s, "P2", "MET500", date(2026, 1, 31)) is None
        assert wholesale_price(s, "P2", "AML5", date(2026, 2, 1)) is None
        assert wholesale_price(s, "P1", "MET500", date(2026, 2, 1)) is None  # consignment
    q = quote(world, "2026-02-01", None, [("MET500", 2)], pharmacy="P2")
    assert q.model == "purchase"
