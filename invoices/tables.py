"""Tables of the invoices package: payments, imported bank statements and their lines.

The books are in the journal; these rows are source documents. A payment posts one entry
(``source = "payment:{id}"``). A bank line is matched to at most one payment and a payment
to at most one bank line (a unique index on ``bank_statement_lines.payment_id``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base
from ledger.tables import BigId


class Payment(Base):
    """Money that moved between the fund's bank and a counterparty."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    date: Mapped[date] = mapped_column(Date, index=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    counterparty_kind: Mapped[str] = mapped_column(String(12))
    #: a pharmacy, scheme or supplier code; for a donor, the donor's name
    counterparty_code: Mapped[str] = mapped_column(String(200))
    #: always positive; ``direction`` gives the sign
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(24))
    reference: Mapped[str] = mapped_column(String(200))
    applies_to_kind: Mapped[str | None] = mapped_column(String(12), nullable=True)
    applies_to_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="ck_payment_direction"),
        CheckConstraint(
            "counterparty_kind IN ('pharmacy', 'scheme', 'supplier', 'donor')",
            name="ck_payment_counterparty_kind",
        ),
        CheckConstraint("amount_minor > 0", name="ck_payment_amount_positive"),
        CheckConstraint(
            "applies_to_kind IS NULL OR applies_to_kind IN ('settlement', 'claim', 'receipt')",
            name="ck_payment_applies_to_kind",
        ),
        Index("ix_payments_counterparty", "counterparty_kind", "counterparty_code"),
        Index("ix_payments_applies_to", "applies_to_kind", "applies_to_id"),
    )


class BankStatement(Base):
    """One imported CSV file; its content hash makes a second import of it a 409."""

    __tablename__ = "bank_statements"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    line_count: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    imported_by: Mapped[str] = mapped_column(String(100))


class BankStatementLine(Base):
    """One line of a statement: signed amount (+ money in), matched to a payment or open."""

    __tablename__ = "bank_statement_lines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statements.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    date: Mapped[date] = mapped_column(Date, index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(24))
    reference: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id"), nullable=True, unique=True
    )
    #: auto | manual (None while open)
    match_kind: Mapped[str | None] = mapped_column(String(8), nullable=True)
    matched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    matched_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    __table_args__ = (
        UniqueConstraint("statement_id", "line_number", name="uq_bank_line_number"),
        CheckConstraint("amount_minor <> 0", name="ck_bank_line_nonzero"),
        CheckConstraint(
            "(payment_id IS NULL) = (match_kind IS NULL)", name="ck_bank_line_match_kind"
        ),
    )
