"""Issue 22.9: a pharmacist cannot list patients; they look one up by its exact member
code (to dispense), as the pharmacist's page does. Finance and auditors list them all."""

from __future__ import annotations

from urllib.parse import quote

from tests.dispensing.conftest import Fund


def test_only_finance_and_auditors_list_patients(fund: Fund) -> None:
    c = fund.client
    for who in (fund.pharmacist, fund.other_pharmacist):
        for q in ("", "?limit=500", "?scheme=HEF", "?cursor=x"):
            r = c.get(f"/api/v1/patients{q}", headers=who)
            assert r.status_code == 403, (q, r.get_json())
            assert "M-00042" not in r.get_data(as_text=True)
    for who in (fund.finance, fund.auditor):
        listed = c.get("/api/v1/patients", headers=who).get_json()
        assert [p["member_code"] for p in listed["items"]] == ["M-00042", "M-00043"]


def test_a_pharmacist_looks_a_patient_up_by_exact_member_code_only(fund: Fund) -> None:
    c = fund.client
    r = c.get("/api/v1/patients/M-00042", headers=fund.pharmacist)
    assert r.status_code == 200
    assert r.get_json()["member_code"] == "M-00042"
    assert [e["scheme"] for e in r.get_json()["enrolments"]] == ["HEF"]
    for near in ("M-0004", "m-00042", "M-0004%", "M-0004_", "M-00042 ", "%", "*", "M-00042*"):
        r = c.get(f"/api/v1/patients/{quote(near, safe='')}", headers=fund.pharmacist)
        assert r.status_code == 404, (near, r.get_json())
        assert "enrolments" not in (r.get_json() or {})


def test_the_pharmacists_page_still_finds_a_patient(fund: Fund) -> None:
    c = fund.client
    r = c.get("/app/dispense/patient?code=M-00042", headers=fund.pharmacist)
    assert r.status_code == 200 and r.get_json()["found"] is True
    r = c.get("/app/dispense/patient?code=M-0004", headers=fund.pharmacist)
    assert r.status_code == 200 and r.get_json()["found"] is False
