"""Care over HTTP, on SQLite and PostgreSQL: adherence and the visit list equal the hand
computation of tests/care/conftest.py; the educator sees their own patients only; the
pharmacy scorecard in JSON, CSV and XLSX; every field's bad input."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook

from tests.care.conftest import CareFund, dispense
from tests.support import bearer

WINDOW = "from=2026-10-01&to=2026-11-30"


def rows(out: dict[str, Any]) -> dict[tuple[str, str], tuple[int, int, str | None]]:
    return {
        (r["patient"], r["therapeutic_class"]): (r["days_covered"], r["days_in_window"], r["pdc"])
        for r in out["items"]
    }


def test_adherence_equals_the_hand_computation(care: CareFund) -> None:
    out = care.get(f"/care/adherence?{WINDOW}")
    assert (out["from"], out["to"]) == ("2026-10-01", "2026-11-30")
    # M-00042: Oct 3-Nov 1 and Nov 2-21 (20 days after the return): from Oct 3 to Nov 30 is
    # 29 + 30 = 59 days, 29 + 21 = 50 covered. M-00043 diabetes: Oct 10-Nov 8 and Nov 20-30:
    # 22 + 30 = 52 days, 30 + 11 covered. M-00044: Oct 3-Nov 1: 30 of 59. AML5 had no days.
    assert rows(out) == {
        ("M-00042", "MET500"): (50, 59, "0.8475"),
        ("M-00043", "diabetes"): (41, 52, "0.7885"),
        ("M-00044", "MET500"): (30, 59, "0.5085"),
    }
    by = {r["patient"]: r for r in out["items"]}
    assert by["M-00042"]["educator"] == "E1" and by["M-00043"]["educator"] == "E2"
    assert by["M-00044"]["pharmacy"] == "P1"
    assert by["M-00042"]["counted_from"] == "2026-10-03" and not by["M-00042"]["carried_in"]


def test_adherence_of_a_window_with_supply_carried_in_and_one_with_nothing(care: CareFund) -> None:
    out = care.get("/care/adherence?from=2026-11-01&to=2026-11-30")
    # November: every supply carries in from October. M-00042 Nov 1-21 = 21 / 30;
    # M-00043 Nov 1-8 + Nov 20-30 = 19 / 30; M-00044 Nov 1 only = 1 / 30.
    assert rows(out) == {
        ("M-00042", "MET500"): (21, 30, "0.7000"),
        ("M-00043", "diabetes"): (19, 30, "0.6333"),
        ("M-00044", "MET500"): (1, 30, "0.0333"),
    }
    assert all(r["carried_in"] for r in out["items"])
    # December 10-31: only M-00043's supply (to Dec 19) carries in; the others have nothing
    # to measure: kept with days_in_window 0 and pdc null.
    out = care.get("/care/adherence?from=2026-12-10&to=2026-12-31")
    assert rows(out) == {
        ("M-00042", "MET500"): (0, 0, None),
        ("M-00043", "diabetes"): (10, 22, "0.4545"),
        ("M-00044", "MET500"): (0, 0, None),
    }


def test_adherence_filters(care: CareFund) -> None:
    assert set(rows(care.get(f"/care/adherence?{WINDOW}&educator=E1"))) == {
        ("M-00042", "MET500"),
        ("M-00044", "MET500"),
    }
    assert set(rows(care.get(f"/care/adherence?{WINDOW}&patient=M-00043"))) == {
        ("M-00043", "diabetes")
    }
    assert len(care.get(f"/care/adherence?{WINDOW}&pharmacy=P1")["items"]) == 3
    assert care.get(f"/care/adherence?{WINDOW}&pharmacy=P2")["items"] == []
    assert care.get(f"/care/adherence?{WINDOW}&educator=E2&patient=M-00042")["items"] == []


def test_the_overdue_list_at_its_edges(care: CareFund) -> None:
    # M-00044 ran out on Nov 2: on Nov 9 it is exactly 7 days late (not listed), Nov 10: 8.
    assert care.get("/care/overdue-refills?as_of=2026-11-09") == []
    assert care.get("/care/overdue-refills?as_of=2026-11-10") == [
        {
            "patient": "M-00044",
            "therapeutic_class": "MET500",
            "ran_out_on": "2026-11-02",
            "days_overdue": 8,
            "educator": "E1",
            "pharmacy": "P1",
        }
    ]
    assert care.get("/care/overdue-refills?as_of=2026-11-10&grace_days=8") == []
    # M-00042's return shortened its supply to Nov 21: out on Nov 22, listed on Nov 30 (8
    # days), not on Nov 29 (7). Without the return it would run to Dec 1.
    late = care.get("/care/overdue-refills?as_of=2026-11-29")
    assert [(r["patient"], r["days_overdue"]) for r in late] == [("M-00044", 27)]
    late = care.get("/care/overdue-refills?as_of=2026-11-30")
    assert [(r["patient"], r["ran_out_on"], r["days_overdue"]) for r in late] == [
        ("M-00044", "2026-11-02", 28),
        ("M-00042", "2026-11-22", 8),
    ]
    assert [
        r["patient"] for r in care.get("/care/overdue-refills?as_of=2026-11-30&educator=E2")
    ] == []


def test_a_refill_takes_a_patient_off_the_list(care: CareFund) -> None:
    dispense(
        care.fund,
        "M-00044",
        "2026-11-25",
        [{"medicine": "MET500", "quantity": 30, "days_supply": 30}],
    )
    assert [r["patient"] for r in care.get("/care/overdue-refills?as_of=2026-11-30")] == ["M-00042"]


def test_an_educator_sees_their_own_patients_only(care: CareFund) -> None:
    mine = care.get(f"/care/adherence?{WINDOW}", care.e1)
    assert {r["patient"] for r in mine["items"]} == {"M-00042", "M-00044"}
    assert care.get(f"/care/adherence?{WINDOW}&educator=E1", care.e1)["items"] == mine["items"]
    care.get(f"/care/adherence?{WINDOW}&educator=E2", care.e1, expect=404)
    care.get(f"/care/adherence?{WINDOW}&patient=M-00043", care.e1, expect=404)
    assert {r["patient"] for r in care.get(f"/care/adherence?{WINDOW}", care.e2)["items"]} == {
        "M-00043"
    }
    visits = care.get("/care/overdue-refills?as_of=2026-11-30", care.e1)
    assert {r["patient"] for r in visits} == {"M-00042", "M-00044"}
    assert care.get("/care/overdue-refills?as_of=2026-11-30", care.e2) == []
    care.get("/care/overdue-refills?educator=E2", care.e1, expect=404)
    assert [e["code"] for e in care.get("/peer-educators", care.e1)["items"]] == ["E1"]
    # Everything else is closed to an educator.
    for path in (
        "/dispensings",
        "/patients",
        "/patients/M-00042",
        "/medicines",
        "/accounts",
        "/reports/pharmacy-scorecard?period=2026-10",
        "/fhir/MedicationDispense?from=2026-10-01&to=2026-10-31",
        "/fhir/Claim/1",
        "/stock/on-hand",
    ):
        care.get(path, care.e1, expect=403)
    care.post(
        "/peer-educators", {"code": "E9", "network": "N", "district": "D"}, care.e1, expect=403
    )
    care.post(
        "/patients/M-00043/educator",
        {"educator": "E1", "valid_from": "2026-12-01"},
        care.e1,
        expect=403,
    )


def test_a_new_assignment_closes_the_previous_one_the_day_before(care: CareFund) -> None:
    out = care.post("/patients/M-00044/educator", {"educator": "E2", "valid_from": "2026-11-15"})
    assert out["previous"] == {
        "patient": "M-00044",
        "educator": "E1",
        "valid_from": "2026-01-01",
        "valid_to": "2026-11-14",
    }
    assert (out["educator"], out["valid_from"], out["valid_to"]) == ("E2", "2026-11-15", None)
    # On Nov 30 M-00044 is E2's; on Nov 14 still E1's.
    assert {r["patient"] for r in care.get("/care/overdue-refills?as_of=2026-11-30", care.e1)} == {
        "M-00042"
    }
    assert {r["patient"] for r in care.get("/care/overdue-refills?as_of=2026-11-30", care.e2)} == {
        "M-00044"
    }
    assert {r["patient"] for r in care.get("/care/overdue-refills?as_of=2026-11-14", care.e1)} == {
        "M-00044"
    }
    # History is appended, never rewritten.
    care.post(
        "/patients/M-00044/educator", {"educator": "E1", "valid_from": "2026-11-15"}, expect=409
    )
    care.post(
        "/patients/M-00044/educator", {"educator": "E1", "valid_from": "2026-10-01"}, expect=409
    )


def test_a_pharmacist_sees_the_patients_of_its_own_pharmacy(care: CareFund) -> None:
    f = care.fund
    assert len(care.get(f"/care/adherence?{WINDOW}", f.pharmacist)["items"]) == 3
    assert care.get(f"/care/adherence?{WINDOW}", f.other_pharmacist)["items"] == []
    care.get(f"/care/adherence?{WINDOW}&pharmacy=P1", f.other_pharmacist, expect=404)
    assert care.get("/care/overdue-refills?as_of=2026-11-30", f.other_pharmacist) == []
    sc = care.get("/reports/pharmacy-scorecard?period=2026-10", f.other_pharmacist)
    assert [r["pharmacy"] for r in sc["items"]] == ["P2"]


def test_days_supply_and_the_medicine_fields_are_shown(care: CareFund) -> None:
    d = care.get(f"/dispensings/{care.returned_dispensing}")
    assert d["lines"][0]["days_supply"] == 30
    med = care.get("/medicines/GLI80")
    assert (med["therapeutic_class"], med["default_days_supply"]) == ("diabetes", 30)
    med = care.get("/medicines/MET500")
    assert (med["therapeutic_class"], med["default_days_supply"]) == (None, None)


def test_the_pharmacy_scorecard(care: CareFund) -> None:
    oct_ = {
        r["pharmacy"]: r for r in care.get("/reports/pharmacy-scorecard?period=2026-10")["items"]
    }
    nov = {
        r["pharmacy"]: r for r in care.get("/reports/pharmacy-scorecard?period=2026-11")["items"]
    }
    # October at P1: 4 dispensings of 3 patients, every one covered to Oct 31 (1.0000);
    # zero days: MET500 and AML5 on Oct 1 (arrived Oct 2), GLI80 Oct 1-4 (arrived Oct 5).
    assert oct_["P1"] == {
        "pharmacy": "P1",
        "dispensings": 4,
        "patients": 3,
        "mean_pdc": "1.0000",
        "stock_out_days": 6,
        "expiry_losses": "0",
        "currency": "KHR",
        "remitted_on": "2026-12-03",
        "days_to_remit": 33,
    }
    # November at P1: one dispensing (M-00043, PDC 19/30); GLI80 at zero Nov 20-30 (11
    # days); 10 AML5 written off as expired, worth 9000 * 100/300 * 10/100 = 300.
    assert nov["P1"] == {
        "pharmacy": "P1",
        "dispensings": 1,
        "patients": 1,
        "mean_pdc": "0.6333",
        "stock_out_days": 11,
        "expiry_losses": "300",
        "currency": "KHR",
        "remitted_on": "2026-12-03",
        "days_to_remit": 3,
    }
    assert nov["P2"]["dispensings"] == 0 and nov["P2"]["mean_pdc"] is None
    assert nov["P2"]["stock_out_days"] == 0 and nov["P2"]["days_to_remit"] is None


def test_the_scorecard_as_csv_and_xlsx(care: CareFund) -> None:
    c = care.fund.client
    r = c.get(
        "/api/v1/reports/pharmacy-scorecard?period=2026-11&format=csv", headers=care.fund.finance
    )
    assert r.status_code == 200 and r.mimetype == "text/csv"
    lines = r.get_data(as_text=True).splitlines()
    assert (
        lines[0]
        == "pharmacy,dispensings,patients,mean_pdc,stock_out_days,expiry_losses,currency,remitted_on,days_to_remit"
    )
    assert lines[1] == "P1,1,1,0.6333,11,300,KHR,2026-12-03,3"
    r = c.get(
        "/api/v1/reports/pharmacy-scorecard?period=2026-11",
        headers={
            **care.fund.finance,
            "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        },
    )
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.data)).active
    assert ws is not None
    values = [[cell.value for cell in row] for row in ws.iter_rows()]
    assert values[0][0] == "pharmacy" and values[1][:3] == ["P1", 1, 1]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/care/adherence?from=2026-13-01", "from"),
        ("/care/adherence?to=yesterday", "to"),
        ("/care/adherence?from=2026-11-01&to=2026-10-31", "to"),
        ("/care/adherence?from=2020-01-01&to=2026-10-31", "to"),
        ("/care/adherence?educator=" + "E" * 25, "educator"),
        ("/care/adherence?pharmacy=", "pharmacy"),
        ("/care/adherence?patient=" + "M" * 41, "patient"),
        ("/care/overdue-refills?as_of=2026-02-30", "as_of"),
        ("/care/overdue-refills?as_of=0001-01-01", "as_of"),
        ("/care/adherence?from=0001-01-01&to=2026-12-31", "from"),
        ("/care/adherence?to=0001-01-05", "to"),
        ("/care/adherence?from=9999-12-01&to=9999-12-31", "to"),
        ("/fhir/MedicationDispense?from=0001-01-01&to=0001-01-02", "from"),
        ("/care/overdue-refills?grace_days=-1", "grace_days"),
        ("/care/overdue-refills?grace_days=366", "grace_days"),
        ("/care/overdue-refills?grace_days=seven", "grace_days"),
        ("/care/overdue-refills?educator=", "educator"),
        ("/reports/pharmacy-scorecard", "period"),
        ("/reports/pharmacy-scorecard?period=2026-13", "period"),
        ("/reports/pharmacy-scorecard?period=2026-1", "period"),
        ("/fhir/MedicationDispense?to=2026-10-31", "from"),
        ("/fhir/MedicationDispense?from=2026-10-01", "to"),
        ("/fhir/MedicationDispense?from=2026-10-01&to=2026-09-30", "to"),
        ("/fhir/MedicationDispense?from=2026-01-01&to=2026-10-31", "to"),
        ("/peer-educators?limit=0", "limit"),
    ],
)
def test_bad_query_parameters_are_422(care: CareFund, path: str, field: str) -> None:
    out = care.get(path, expect=422)
    assert field in out["errors"], out


@pytest.mark.parametrize(
    "path",
    [
        "/care/adherence?educator=E9",
        "/care/adherence?pharmacy=P9",
        "/care/adherence?patient=M-99999",
        "/care/overdue-refills?educator=E9",
        "/care/overdue-refills?pharmacy=P9",
        "/fhir/MedicationDispense?pharmacy=P9&from=2026-10-01&to=2026-10-31",
        "/fhir/Claim/999999",
        "/fhir/Claim/not-a-claim",
    ],
)
def test_unknown_objects_are_404(care: CareFund, path: str) -> None:
    care.get(path, expect=404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"network": "N", "district": "D"}, "code"),
        ({"code": "e1", "network": "N", "district": "D"}, "code"),
        ({"code": "E 1", "network": "N", "district": "D"}, "code"),
        ({"code": "E" * 25, "network": "N", "district": "D"}, "code"),
        ({"code": 7, "network": "N", "district": "D"}, "code"),
        ({"code": "E7", "district": "D"}, "network"),
        ({"code": "E7", "network": "", "district": "D"}, "network"),
        ({"code": "E7", "network": "N"}, "district"),
        ({"code": "E7", "network": "N", "district": "D" * 101}, "district"),
        ({"code": "E7", "network": "N", "district": "D", "name": ""}, "name"),
        ({"code": "E7", "network": "N", "district": "D", "name": "x" * 201}, "name"),
    ],
)
def test_bad_educators_are_422(care: CareFund, body: dict[str, Any], field: str) -> None:
    out = care.post("/peer-educators", body, expect=422)
    assert field in out["errors"], out


def test_a_duplicate_educator_is_409(care: CareFund) -> None:
    care.post("/peer-educators", {"code": "E1", "network": "N", "district": "D"}, expect=409)


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"valid_from": "2026-12-01"}, "educator", 422),
        ({"educator": "E2"}, "valid_from", 422),
        ({"educator": "E2", "valid_from": "2026-12-32"}, "valid_from", 422),
        ({"educator": "", "valid_from": "2026-12-01"}, "educator", 422),
        ({"educator": "E9", "valid_from": "2026-12-01"}, "educator", 404),
        ({"educator": "E2", "valid_from": "1999-12-31"}, "valid_from", 422),
    ],
)
def test_bad_assignments(care: CareFund, body: dict[str, Any], field: str, status: int) -> None:
    out = care.post("/patients/M-00042/educator", body, expect=status)
    assert field in out["errors"], out


def test_an_assignment_of_an_unknown_patient_is_404(care: CareFund) -> None:
    care.post(
        "/patients/M-99999/educator", {"educator": "E1", "valid_from": "2026-12-01"}, expect=404
    )


@pytest.mark.parametrize("days", [0, 366, -1, "30", 30.5, True, {}])
def test_bad_days_supply_is_422(care: CareFund, days: Any) -> None:
    f = care.fund
    body = {
        "pharmacy": "P1",
        "patient": "M-00042",
        "service_date": "2026-11-01",
        "items": [{"medicine": "MET500", "quantity": 1, "days_supply": days}],
    }
    out = f.post("/dispensings", body, f.pharmacist, expect=422)
    assert "items.0.days_supply" in out["errors"], out


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"default_days_supply": 0}, "default_days_supply"),
        ({"default_days_supply": 366}, "default_days_supply"),
        ({"default_days_supply": "30"}, "default_days_supply"),
        ({"default_days_supply": False}, "default_days_supply"),
        ({"therapeutic_class": ""}, "therapeutic_class"),
        ({"therapeutic_class": "c" * 41}, "therapeutic_class"),
        ({"therapeutic_class": 5}, "therapeutic_class"),
    ],
)
def test_bad_medicine_care_fields_are_422(
    care: CareFund, extra: dict[str, Any], field: str
) -> None:
    body = {
        "code": "ENA10",
        "name": "Enalapril",
        "strength": "10 mg",
        "form": "tablet",
        "unit": "tablet",
    }
    out = care.post("/medicines", {**body, **extra}, expect=422)
    assert field in out["errors"], out


def test_an_educator_user_needs_an_educator_and_only_educators_have_one(app: Flask) -> None:
    from api.auth import create_user
    from ledger.errors import InvalidRequest

    with app.extensions["rdf_db"].session() as s:
        with pytest.raises(InvalidRequest):
            create_user(s, "no-code", "educator")
        with pytest.raises(InvalidRequest):
            create_user(s, "fin", "finance", educator="E1")
        with pytest.raises(InvalidRequest):
            create_user(s, "ghost", "educator", educator="E-NOBODY")


def test_the_visit_list_with_a_token_answers_in_json(care: CareFund) -> None:
    r = care.fund.client.get("/api/v1/care/overdue-refills?as_of=2026-11-30", headers=care.e1)
    assert r.status_code == 200 and r.mimetype == "application/json"
    r = care.fund.client.get("/api/v1/care/overdue-refills", headers=bearer("rdf_bogus"))
    assert r.status_code == 401


def test_days_supply_travels_in_an_offline_batch(care: CareFund) -> None:
    f = care.fund
    record = {
        "pharmacy": "P1",
        "patient": "M-00044",
        "service_date": "2026-11-25",
        "client_ref": "phone-care-1",
        "items": [{"medicine": "MET500", "quantity": 30, "days_supply": 15}],
    }
    out = f.post("/dispensings/batch", {"dispensings": [record]}, f.pharmacist, expect=None)
    assert out["results"][0]["status"] == 201, out
    assert out["results"][0]["dispensing"]["lines"][0]["days_supply"] == 15
    # Nov 25 + 15 days covers to Dec 9: on Nov 30 M-00044 is off the list.
    assert "M-00044" not in {
        r["patient"] for r in care.get("/care/overdue-refills?as_of=2026-11-30")
    }
