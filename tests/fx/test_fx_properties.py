"""Random events in both currencies at random rates: after each, every entry balances per
commodity, lot values stay in the functional currency, and the balance sheet converted into
either currency balances exactly at any as-of date."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ledger.fx_tables import FxRate
from ledger.tables import Account, Posting
from stock.tables import StockMovement
from tests.support import get, ok, post

DAYS = [f"2026-10-{d:02d}" for d in range(1, 29)]
rates = st.builds(
    lambda whole, frac: f"{whole}.{frac:06d}",
    st.integers(min_value=1, max_value=9000),
    st.integers(min_value=0, max_value=999_999),
)
usd = st.integers(min_value=1, max_value=5_000_000).map(lambda c: f"{c // 100}.{c % 100:02d}")
khr = st.integers(min_value=1, max_value=50_000_000).map(str)

event = st.one_of(
    st.tuples(st.just("donation"), usd),
    st.tuples(st.just("sell_usd"), usd, khr),
    st.tuples(st.just("buy_usd"), khr, usd),
    st.tuples(
        st.just("receipt_usd"),
        st.integers(min_value=1, max_value=500),
        usd,
        st.one_of(st.none(), rates),
    ),
    st.tuples(st.just("receipt_khr"), st.integers(min_value=1, max_value=500), khr),
    st.tuples(st.just("claim_paid_usd"), khr, usd, rates),
    st.tuples(
        st.just("landed"),
        st.sampled_from(["KHR", "USD"]),
        st.integers(min_value=1, max_value=100_000),
    ),
)


def _apply(
    app: Flask, client: FlaskClient, fin: dict[str, str], day: str, n: int, ev: tuple[Any, ...]
) -> None:
    kind = ev[0]
    if kind == "donation":
        body: dict[str, Any] = {
            "date": day,
            "direction": "in",
            "counterparty": {"kind": "donor", "code": "D"},
            "amount": ev[1],
            "currency": "USD",
            "reference": f"G{n}",
        }
        ok(post(client, "/payments", fin, body))
    elif kind in ("sell_usd", "buy_usd"):
        sell, buy = (
            (("USD", ev[1]), ("KHR", ev[2]))
            if kind == "sell_usd"
            else (("KHR", ev[1]), ("USD", ev[2]))
        )
        r = post(
            client,
            "/fx/exchanges",
            fin,
            {
                "date": day,
                "sell": {"currency": sell[0], "amount": sell[1]},
                "buy": {"currency": buy[0], "amount": buy[1]},
            },
        )
        assert r.status_code in (201, 422), r.get_json()  # 422: amounts imply a zero rate
    elif kind in ("receipt_usd", "receipt_khr"):
        body = {
            "supplier": "IMP",
            "location": "CENTRAL",
            "date": day,
            "lines": [
                {
                    "medicine": "MET500",
                    "lot": f"R{n}",
                    "expiry": "2028-01-31",
                    "quantity": ev[1],
                    "total_cost": ev[2],
                }
            ],
        }
        if kind == "receipt_usd":
            body["currency"] = "USD"
            if ev[3] is not None:
                body["rate"] = ev[3]
        r = post(client, "/stock/receipts", fin, body)
        # 422: worth less than one riel a unit at that rate
        assert r.status_code in (201, 409, 422), r.get_json()
    elif kind == "claim_paid_usd":
        ok(
            post(
                client,
                "/journal-entries",
                fin,
                {
                    "date": day,
                    "memo": "claim",
                    "postings": [
                        {"account": "1300-HEF", "commodity": "KHR", "amount": ev[1]},
                        {"account": "4000", "commodity": "KHR", "amount": "-" + ev[1]},
                    ],
                },
            )
        )
        r = post(
            client,
            "/payments",
            fin,
            {
                "date": day,
                "direction": "in",
                "counterparty": {"kind": "scheme", "code": "HEF"},
                "amount": ev[2],
                "currency": "USD",
                "rate": ev[3],
                "reference": f"C{n}",
            },
        )
        assert r.status_code in (201, 422), r.get_json()  # 422: converts to 0 riel
    elif kind == "landed":
        amount = str(ev[2]) if ev[1] == "KHR" else f"{ev[2] // 100}.{ev[2] % 100:02d}"
        # the latest receipt is untouched (nothing ever moves stock here)
        with app.extensions["rdf_db"].session() as ses:
            with_id = ses.scalar(
                select(func.max(StockMovement.id)).where(StockMovement.kind == "receipt")
            )
        if with_id is None:
            return
        r = post(
            client,
            f"/stock/receipts/{with_id}/landed-costs",
            fin,
            {
                "date": day,
                "counterparty": "FWD",
                "amount": amount,
                "currency": ev[1],
                "description": "freight",
            },
        )
        assert r.status_code in (201, 409, 422), r.get_json()


def _check(app: Flask, client: FlaskClient, aud: dict[str, str], day: str) -> None:
    with app.extensions["rdf_db"].session() as s:
        bad = s.execute(
            select(Posting.entry_id, Posting.commodity)
            .group_by(Posting.entry_id, Posting.commodity)
            .having(func.sum(Posting.amount) != 0)
        ).all()
        assert bad == []
        inventory = [a for a in s.scalars(select(Account.code).where(Account.parent == "1400"))]
        usd_in_lots = s.scalar(
            select(func.count())
            .select_from(Posting)
            .where(Posting.account_code.in_(inventory), Posting.commodity == "USD")
        )
        assert usd_in_lots == 0
    for into in ("KHR", "USD"):
        out = ok(get(client, f"/reports/balance-sheet?as_of={day}&in={into}", aud), 200)
        (sheet,) = out["currencies"]
        assert sheet["balanced"] is True
        tb = ok(get(client, f"/reports/trial-balance?as_of={day}&in={into}", aud), 200)
        assert tb["total_debit"] == tb["total_credit"]
    ok(get(client, f"/reports/balance-sheet?as_of={day}", aud), 200)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first_rate=rates,
    events=st.lists(
        st.tuples(st.sampled_from(DAYS), event, st.one_of(st.none(), rates)), min_size=1, max_size=8
    ),
)
def test_random_two_currency_months_keep_the_books_exact(
    fund: Flask,
    client: FlaskClient,
    fin: dict[str, str],
    aud: dict[str, str],
    first_rate: str,
    events: list[tuple[str, tuple[Any, ...], str | None]],
) -> None:
    # each example starts from the same fund: a fresh run of dates after the last one used
    with fund.extensions["rdf_db"].session() as s:
        used = s.scalar(select(func.count()).select_from(FxRate)) or 0
    if used == 0:
        ok(post(client, "/fx-rates", fin, {"date": "2026-09-30", "rate": first_rate}))
    events = sorted(events, key=lambda e: e[0])
    for n, (day, ev, new_rate) in enumerate(events):
        if new_rate is not None:
            r = post(client, "/fx-rates", fin, {"date": day, "rate": new_rate})
            assert r.status_code in (201, 409)
        _apply(fund, client, fin, day, n + 1000 * used, ev)
        _check(fund, client, aud, day)
        _check(fund, client, aud, "2026-11-23")
