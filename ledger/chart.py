"""The chart of accounts, the fund's currencies and their exponents: the one place in code
that knows an account's code (DESIGN.md "Chart of accounts").

Every other module names accounts through this one: ``chart.BANK_KHR``,
``chart.due_from_pharmacy("P1")``, ``chart.inventory("CENTRAL")``. No account code is written
as a string literal anywhere else (``tests/unit/test_layers.py`` holds it). The migration
``0001`` seeds the same chart into the database; ``tests/unit/test_chart.py`` checks the two
agree.

Sign convention: a posting's amount is positive for a debit, negative for a credit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

AccountType = Literal["asset", "liability", "equity", "income", "expense", "memo"]
Carries = Literal["money", "units", "money+units"]

#: The functional currency: lots are valued in it, reports are kept in it (configurable
#: per fund in a later revision; every module reads it from here).
FUND_CURRENCY = "KHR"

#: The currencies the fund keeps and their exponents (minor units per major unit: 10**e).
CURRENCY_EXPONENTS: dict[str, int] = {"KHR": 0, "USD": 2}

#: A medicine's base unit has no fractional part.
MEDICINE_EXPONENT = 0

#: The location code of the central store (a pharmacy code can never be this).
CENTRAL = "CENTRAL"

#: The code of a party whose sub-accounts the chart holds (pharmacies, suppliers, the central
#: store): upper-case letters, digits, "-" and "_", 1 to 24 characters, starting with a
#: letter or a digit. Checked with ``fullmatch``.
PARTY_CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_\-]{0,23}")
PARTY_CODE_RULE = (
    "a code is 1 to 24 characters: upper-case letters A-Z, digits 0-9, '-' and '_', "
    "starting with a letter or a digit"
)

#: A reference code as written by clients (price lists, schemes, a payment's counterparty):
#: letters of either case, digits, "-", "_" and ".", 1 to 24 characters, starting with a
#: letter or a digit. Checked with ``fullmatch``.
REF_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,23}")


@dataclass(frozen=True)
class AccountDef:
    code: str
    name: str
    type: AccountType
    carries: Carries
    is_header: bool = False
    is_inventory: bool = False
    currency: str | None = None


# ---------------------------------------------------------------- named accounts

BANK_KHR = "1010"
BANK_USD = "1020"
DUE_FROM_PHARMACY = "1200"  # header: 1200-{pharmacy}
DUE_FROM_PAYER = "1300"  # header: 1300-{scheme}
INVENTORY = "1400"  # header: 1400-{location}
DUE_TO_SUPPLIER = "2000"  # header: 2000-{supplier}
DUE_TO_PHARMACY = "2100"  # header: 2100-{pharmacy}
FUND_CAPITAL = "3000"
ACCUMULATED_SURPLUS = "3100"
DONATED_MEDICINES = "3200"  # header: 3200-{donor}
MEDICINE_REVENUE = "4000"
COST_OF_MEDICINES = "5000"
DISPENSING_FEES = "5100"
EXPIRY_LOSSES = "5200"
FUND_SUBSIDIES = "5300"
COUNT_DIFFERENCES = "5400"
UNITS_RECEIVED = "9000"
CURRENCY_EXCHANGE = "9100"

#: The bank account of each currency the fund keeps.
BANK_OF_CURRENCY: dict[str, str] = {"KHR": BANK_KHR, "USD": BANK_USD}

#: The expense accounts whose sum is what the fund spends (cost recovery's denominator).
COST_ACCOUNTS = (
    COST_OF_MEDICINES,
    DISPENSING_FEES,
    EXPIRY_LOSSES,
    FUND_SUBSIDIES,
    COUNT_DIFFERENCES,
)

#: Headers whose sub-accounts are receivables (ageing, fund at a glance).
RECEIVABLE_HEADERS = (DUE_FROM_PHARMACY, DUE_FROM_PAYER)

#: The chart as seeded by migration 0001 (sub-accounts are made with their party).
SEEDED: tuple[AccountDef, ...] = (
    AccountDef(BANK_KHR, "Bank KHR", "asset", "money", currency="KHR"),
    AccountDef(BANK_USD, "Bank USD", "asset", "money", currency="USD"),
    AccountDef(DUE_FROM_PHARMACY, "Due from pharmacy", "asset", "money", is_header=True),
    AccountDef(DUE_FROM_PAYER, "Due from subsidy payer", "asset", "money", is_header=True),
    AccountDef(INVENTORY, "Medicine inventory", "asset", "money+units", True, True),
    AccountDef(
        f"{INVENTORY}-{CENTRAL}",
        "Medicine inventory at central store",
        "asset",
        "money+units",
        is_inventory=True,
    ),
    AccountDef(DUE_TO_SUPPLIER, "Due to supplier", "liability", "money", is_header=True),
    AccountDef(DUE_TO_PHARMACY, "Due to pharmacy", "liability", "money", is_header=True),
    AccountDef(FUND_CAPITAL, "Fund capital", "equity", "money"),
    AccountDef(ACCUMULATED_SURPLUS, "Accumulated surplus", "equity", "money"),
    AccountDef(MEDICINE_REVENUE, "Medicine revenue", "income", "money"),
    AccountDef(COST_OF_MEDICINES, "Cost of medicines dispensed", "expense", "money+units"),
    AccountDef(DISPENSING_FEES, "Dispensing fees", "expense", "money"),
    AccountDef(EXPIRY_LOSSES, "Expiry and damage losses", "expense", "money+units"),
    AccountDef(FUND_SUBSIDIES, "Subsidies borne by the fund", "expense", "money"),
    AccountDef(COUNT_DIFFERENCES, "Stock count differences", "expense", "money+units"),
    AccountDef(UNITS_RECEIVED, "Medicine units received", "memo", "units"),
)

#: Accounts added to the chart by later migrations (``0014_fx``: the currency exchange, a
#: trading account that carries money in both currencies; DESIGN.md "Two currencies").
ADDED_BY_0014: tuple[AccountDef, ...] = (
    AccountDef(CURRENCY_EXCHANGE, "Currency exchange", "memo", "money"),
)


# ---------------------------------------------------------------- sub-accounts


def sub_account(header: str, party: str) -> str:
    """The sub-account of ``party`` under ``header``: ``sub_account("1200", "P1")``."""
    return f"{header}-{party}"


def header_of(code: str) -> str:
    """The header of a sub-account (``"1200-P1"`` → ``"1200"``), or the code itself."""
    return code.split("-", 1)[0]


def party_of(code: str) -> str | None:
    """The party of a sub-account (``"1400-P1"`` → ``"P1"``), or None for a plain account."""
    head, sep, party = code.partition("-")
    return party if sep else None


def due_from_pharmacy(pharmacy: str) -> str:
    return sub_account(DUE_FROM_PHARMACY, pharmacy)


def due_from_payer(scheme: str) -> str:
    return sub_account(DUE_FROM_PAYER, scheme)


def inventory(location: str) -> str:
    """The inventory account of ``CENTRAL`` or a pharmacy."""
    return sub_account(INVENTORY, location)


def due_to_supplier(supplier: str) -> str:
    return sub_account(DUE_TO_SUPPLIER, supplier)


def due_to_pharmacy(pharmacy: str) -> str:
    return sub_account(DUE_TO_PHARMACY, pharmacy)


def donated_medicines(donor: str) -> str:
    return sub_account(DONATED_MEDICINES, donor)


def bank(currency: str) -> str:
    """The bank account of a currency the fund keeps (KeyError for any other)."""
    return BANK_OF_CURRENCY[currency]


def exponent(currency: str) -> int:
    """Minor-unit exponent of a currency the fund keeps (KHR 0, USD 2)."""
    return CURRENCY_EXPONENTS[currency]
