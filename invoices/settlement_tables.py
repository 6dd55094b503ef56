"""Settlements with pharmacies and subsidy claims to payers (source documents).

Each dispensing and each return is covered by at most one settlement and at most one claim
(unique indexes on the item tables): a late record of a settled month is picked up by the
next settlement or claim, and shown there as late.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base
from ledger.tables import BigId


class Settlement(Base):
    __tablename__ = "settlements"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pharmacy: Mapped[str] = mapped_column(String(24), ForeignKey("pharmacies.code"))
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(10))  # draft | approved
    currency: Mapped[str] = mapped_column(String(24))
    copayments_held: Mapped[int] = mapped_column(BigInteger)
    fees_owed: Mapped[int] = mapped_column(BigInteger)
    subsidy_owed: Mapped[int] = mapped_column(BigInteger)
    netted: Mapped[int] = mapped_column(BigInteger)
    net_due: Mapped[int] = mapped_column(BigInteger)  # + the pharmacy owes the fund
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    __table_args__ = (UniqueConstraint("pharmacy", "period", name="uq_settlement_period"),)


class SettlementItem(Base):
    __tablename__ = "settlement_items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # dispensing | return
    doc_id: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("kind", "doc_id", name="uq_settlement_item"),)


class SubsidyClaim(Base):
    __tablename__ = "subsidy_claims"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    scheme: Mapped[str] = mapped_column(String(24))
    period: Mapped[str] = mapped_column(String(7))
    currency: Mapped[str] = mapped_column(String(24))
    total: Mapped[int] = mapped_column(BigInteger)
    issued_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    __table_args__ = (UniqueConstraint("scheme", "period", name="uq_claim_period"),)


class ClaimItem(Base):
    __tablename__ = "claim_items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("subsidy_claims.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # dispensing | return
    doc_id: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("kind", "doc_id", name="uq_claim_item"),)
