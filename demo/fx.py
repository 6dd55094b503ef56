"""Demo of two currencies for ``flask --app app seed-demo``: last month's rates, a donor's
capital in dollars, an exchange at the bank, an import invoiced in dollars with its freight
as a landed cost, and the Health Equity Fund paying part of its riel claim in dollars."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from invoices.commands import MoneyIn, RecordExchange, RecordPayment
from invoices.fx import record_exchange
from invoices.payments import record_payment
from ledger import chart
from ledger.fx_commands import RecordRate
from ledger.fx_rates import record_rate
from stock.commands import AddLandedCost, NewSupplier, ReceiptLineIn, Receive
from stock.landed_costs import add_landed_cost
from stock.movements import receive
from stock.refdata import create_supplier

BY = "seed-demo"
IMPORTER = "IMPORT-USD"
FORWARDER = "FWD-PP"


def seed_fx(session: Session, last_month: date, medicine: str) -> dict[str, Any]:
    """Post the two-currency month; ``medicine`` is one of the demo's medicine codes."""
    day = lambda n: last_month + timedelta(days=n)  # noqa: E731
    for n, rate in ((0, "4100"), (14, "4085.5")):
        record_rate(session, RecordRate(day(n), rate), by=BY)
    record_payment(
        session,
        RecordPayment(
            on=day(1),
            direction="in",
            counterparty_kind="donor",
            counterparty_code="Friends of the fund",
            amount="25000.00",
            currency="USD",
            reference="GRANT-USD-1",
        ),
        by=BY,
    )
    record_exchange(
        session,
        RecordExchange(
            on=day(2),
            sell=MoneyIn("USD", "5000.00"),
            buy=MoneyIn("KHR", "20400000"),
            reference="ABA-FX-1",
        ),
        by=BY,
    )
    for code, name in ((IMPORTER, "Importer (invoices in USD)"), (FORWARDER, "Freight forwarder")):
        create_supplier(session, NewSupplier(code, name))
    receipt = receive(
        session,
        Receive(
            supplier=IMPORTER,
            location=chart.CENTRAL,
            on=day(3),
            lines=(
                ReceiptLineIn(
                    medicine=medicine,
                    lot="USD-IMP-1",
                    expiry=date(last_month.year + 2, last_month.month, 1),
                    quantity=20_000,
                    total_cost="1200.00",
                ),
            ),
            currency="USD",
        ),
        by=BY,
    )
    add_landed_cost(
        session,
        AddLandedCost(
            receipt_id=str(receipt.id),
            on=day(3),
            counterparty=FORWARDER,
            amount="85.50",
            currency="USD",
            description="Sea freight and port handling",
        ),
        by=BY,
    )
    paid = record_payment(
        session,
        RecordPayment(
            on=day(20),
            direction="in",
            counterparty_kind="scheme",
            counterparty_code="HEF",
            amount="40.00",
            currency="USD",
            reference="HEF-USD-TRANSFER",
        ),
        by=BY,
    )
    return {"receipt": receipt.id, "payment": paid.id}
