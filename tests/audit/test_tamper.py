"""Tamper trials: an attacker with database access rewrites history behind the guards;
``/audit/verify`` notices every time and names the first entry that no longer fits."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.audit.conftest import post_capital, tamper
from tests.support import bearer


def verify(client: FlaskClient, token: str) -> dict[str, object]:
    r = client.get("/api/v1/audit/verify", headers=bearer(token))
    assert r.status_code == 200, r.get_json()
    body: dict[str, object] = r.get_json()
    return body


def test_untouched_books_verify_and_every_entry_is_sealed(
    app: Flask, client: FlaskClient, tokens: dict[str, str], books: list[int]
) -> None:
    body = verify(client, tokens["auditor"])
    assert body["ok"] is True
    assert body["entries_checked"] == len(books)
    assert body["first_bad_entry"] is None
    assert body["unsealed"] == 0
    with app.extensions["rdf_db"].session() as s:
        seqs = s.execute(
            text(
                "SELECT e.id, s.seal_seq, s.seal FROM entries e"
                " LEFT JOIN entry_seals s ON s.entry_id = e.id ORDER BY e.id"
            )
        ).all()
    assert [r[1] for r in seqs] == list(range(1, len(books) + 1))
    assert body["last_seal"] == seqs[-1][2]
    assert body["checkpoint"] == {"count": len(books), "last_seal": seqs[-1][2]}


def test_an_altered_amount_is_detected_at_its_entry(
    app: Flask, client: FlaskClient, tokens: dict[str, str], books: list[int]
) -> None:
    tamper(app, "UPDATE postings SET amount = amount * 2 WHERE entry_id = :e", e=books[2])
    body = verify(client, tokens["auditor"])
    assert body["ok"] is False
    assert body["first_bad_entry"] == str(books[2])
    assert body["entries_checked"] == 2
    assert "altered" in str(body["reason"])


def test_an_altered_memo_is_detected_at_its_entry(
    app: Flask, client: FlaskClient, tokens: dict[str, str], books: list[int]
) -> None:
    tamper(app, "UPDATE entries SET memo = 'nothing to see' WHERE id = :e", e=books[1])
    body = verify(client, tokens["finance"])
    assert (body["ok"], body["first_bad_entry"]) == (False, str(books[1]))


def test_a_deleted_entry_is_detected_and_the_entry_after_the_gap_named(
    app: Flask, client: FlaskClient, tokens: dict[str, str], books: list[int]
) -> None:
    tamper(
        app,
        "DELETE FROM postings WHERE entry_id = :e",
        "DELETE FROM entries WHERE id = :e",
        e=books[3],
    )
    body = verify(client, tokens["auditor"])
    assert body["ok"] is False
    assert body["first_bad_entry"] == str(books[4])
    assert body["first_bad_seq"] == 4
    assert "deleted" in str(body["reason"])


def test_two_swapped_entries_are_detected_at_the_first_of_them(
    app: Flask, client: FlaskClient, tokens: dict[str, str], books: list[int]
) -> None:
    a, b = books[2], books[3]
    tamper(
        app,
        "UPDATE postings SET entry_id = CASE WHEN entry_id = :a THEN :b ELSE :a END "
        "WHERE entry_id IN (:a, :b)",
        "UPDATE entries SET memo = CASE WHEN id = :a THEN 'capital #4' ELSE 'capital #3' END "
        "WHERE id IN (:a, :b)",
        a=a,
        b=b,
    )
    body = verify(client, tokens["auditor"])
    assert (body["ok"], body["first_bad_entry"]) == (False, str(a))


def test_two_entries_swapped_in_the_chain_are_detected(
    app: Flask, client: FlaskClient, tokens: dict[str, str], books: list[int]
) -> None:
    a, b = books[1], books[2]
    tamper(
        app,
        "UPDATE entry_seals SET seal_seq = seal_seq + 1000 WHERE entry_id IN (:a, :b)",
        "UPDATE entry_seals SET seal_seq = CASE WHEN entry_id = :a THEN 3 ELSE 2 END"
        " WHERE entry_id IN (:a, :b)",
        a=a,
        b=b,
    )
    body = verify(client, tokens["auditor"])
    assert (body["ok"], body["first_bad_entry"]) == (False, str(b))


def test_a_truncated_tail_is_detected_through_the_checkpoint(
    app: Flask, client: FlaskClient, tokens: dict[str, str], books: list[int]
) -> None:
    tamper(
        app,
        "DELETE FROM postings WHERE entry_id >= :e",
        "DELETE FROM entries WHERE id >= :e",
        e=books[4],
    )
    body = verify(client, tokens["auditor"])
    assert body["ok"] is False
    assert body["first_bad_entry"] is None
    assert body["entries_checked"] == 4
    assert body["first_bad_seq"] == 5
    assert "truncated" in str(body["reason"])


def test_after_a_truncation_new_writes_still_succeed_but_are_not_chained_over_it(
    app: Flask, client: FlaskClient, tokens: dict[str, str], books: list[int]
) -> None:
    tamper(
        app,
        "DELETE FROM postings WHERE entry_id = :e",
        "DELETE FROM entries WHERE id = :e",
        e=books[-1],
    )
    from datetime import date

    late = post_capital(client, tokens["finance"], 777, "after the attack", date.today())
    body = verify(client, tokens["auditor"])
    assert body["ok"] is False
    assert "truncated" in str(body["reason"])
    assert body["unsealed"] == 1
    with app.extensions["rdf_db"].session() as s:
        assert (
            s.scalar(text("SELECT seal FROM entry_seals WHERE entry_id = :e"), {"e": int(late)})
            is None
        )


def test_a_wiped_seal_is_detected(
    app: Flask, client: FlaskClient, tokens: dict[str, str], books: list[int]
) -> None:
    tamper(app, "UPDATE entry_seals SET seal = '' WHERE entry_id = :e", e=books[0])
    body = verify(client, tokens["auditor"])
    assert (body["ok"], body["first_bad_entry"]) == (False, str(books[0]))


def test_the_verify_command_prints_the_report_and_fails_on_tampering(
    app: Flask, client: FlaskClient, tokens: dict[str, str], books: list[int]
) -> None:
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["verify"])
    assert ok.exit_code == 0, ok.output
    assert '"ok": true' in ok.output and f'"entries_checked": {len(books)}' in ok.output
    tamper(
        app,
        "UPDATE postings SET amount = amount + 1 WHERE entry_id = :e AND amount > 0",
        e=books[5],
    )
    bad = runner.invoke(args=["verify"])
    assert bad.exit_code == 1
    assert f'"first_bad_entry": "{books[5]}"' in bad.output
