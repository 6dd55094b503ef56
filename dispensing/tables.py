"""Tables of dispensings and their returns. The books are in the journal; these rows are
the source documents (what was dispensed, priced how, from which lots)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base
from ledger.tables import BigId


class Dispensing(Base):
    __tablename__ = "dispensings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pharmacy: Mapped[str] = mapped_column(String(24), ForeignKey("pharmacies.code"))
    patient: Mapped[str | None] = mapped_column(String(40), nullable=True)
    service_date: Mapped[date] = mapped_column(Date)
    accounting_date: Mapped[date] = mapped_column(Date)
    client_ref: Mapped[str | None] = mapped_column(String(120), nullable=True)
    currency: Mapped[str] = mapped_column(String(24))
    model: Mapped[str] = mapped_column(String(12))
    contract_id: Mapped[int] = mapped_column(BigInteger)
    scheme: Mapped[str | None] = mapped_column(String(24), nullable=True)
    payer: Mapped[str | None] = mapped_column(String(12), nullable=True)
    fee_kind: Mapped[str] = mapped_column(String(16))
    total_price: Mapped[int] = mapped_column(BigInteger)
    total_subsidy: Mapped[int] = mapped_column(BigInteger)
    total_copayment: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    __table_args__ = (
        UniqueConstraint("pharmacy", "client_ref", name="uq_dispensing_client_ref"),
        Index("ix_dispensings_pharmacy_date", "pharmacy", "service_date"),
        Index("ix_dispensings_patient_date", "patient", "service_date"),
        #: what a scheme's budget has used in a period (migration 0016)
        Index("ix_dispensings_scheme_date", "scheme", "service_date"),
    )


class DispensingLine(Base):
    __tablename__ = "dispensing_lines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dispensing_id: Mapped[int] = mapped_column(ForeignKey("dispensings.id"), index=True)
    line_no: Mapped[int] = mapped_column(SmallInteger)
    medicine: Mapped[str] = mapped_column(String(24))
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit_price: Mapped[str] = mapped_column(String(40))  # exact decimal text
    price: Mapped[int] = mapped_column(BigInteger)
    subsidy: Mapped[int] = mapped_column(BigInteger)
    copayment: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[int] = mapped_column(BigInteger)
    #: days of treatment taken home (1-365), or None: the medicine's default (care/)
    days_supply: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)


class DispensingLot(Base):
    """Units of a line taken from one lot, in picking order (``seq``), with their value."""

    __tablename__ = "dispensing_lots"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("dispensing_lines.id"), index=True)
    seq: Mapped[int] = mapped_column(SmallInteger)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    lot_code: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[int] = mapped_column(BigInteger)


class DispensingReturn(Base):
    __tablename__ = "dispensing_returns"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dispensing_id: Mapped[int] = mapped_column(ForeignKey("dispensings.id"), index=True)
    return_date: Mapped[date] = mapped_column(Date)
    accounting_date: Mapped[date] = mapped_column(Date)
    total_price: Mapped[int] = mapped_column(BigInteger)
    total_subsidy: Mapped[int] = mapped_column(BigInteger)
    total_copayment: Mapped[int] = mapped_column(BigInteger)
    total_cost: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))


class ReturnLine(Base):
    __tablename__ = "return_lines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("dispensing_returns.id"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("dispensing_lines.id"), index=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[int] = mapped_column(BigInteger)
    subsidy: Mapped[int] = mapped_column(BigInteger)
    copayment: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[int] = mapped_column(BigInteger)


class ReturnLot(Base):
    __tablename__ = "return_lots"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    return_line_id: Mapped[int] = mapped_column(ForeignKey("return_lines.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    lot_code: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[int] = mapped_column(BigInteger)


__all__ = [
    "Dispensing",
    "DispensingLine",
    "DispensingLot",
    "DispensingReturn",
    "ReturnLine",
    "ReturnLot",
]
