"""SQLAlchemy tables of reference data and stock documents (migration 0002).

Medicines are commodities (kind "medicine", exponent 0: quantities in base units); a
supplier's debt lives in ``2000-{code}``; a pharmacy's accounts are ``1200-``, ``1400-`` and
``2100-{code}``. Stock itself is never stored here: on-hand quantities and values are the
kept balances of the ``1400-{location}`` accounts per lot.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Medicine(Base):
    __tablename__ = "medicines"
    code: Mapped[str] = mapped_column(ForeignKey("commodities.code"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    strength: Mapped[str] = mapped_column(String(60))
    form: Mapped[str] = mapped_column(String(60))
    #: the base unit quantities are counted in (tablet, ml…)
    unit: Mapped[str] = mapped_column(String(20))
    #: care (migration 0015): the class adherence is measured in, and the days of treatment
    #: a line carries when it names none
    therapeutic_class: Mapped[str | None] = mapped_column(String(40), nullable=True)
    default_days_supply: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Supplier(Base):
    __tablename__ = "suppliers"
    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Pharmacy(Base):
    __tablename__ = "pharmacies"
    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    province: Mapped[str] = mapped_column(String(100))
    district: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (CheckConstraint("code <> 'CENTRAL'", name="ck_pharmacy_not_central"),)


class StockMovement(Base):
    """The source document of a receipt, transfer, write-off or count entry."""

    __tablename__ = "stock_movements"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: receipt | transfer | write_off | count
    kind: Mapped[str] = mapped_column(String(12))
    location: Mapped[str] = mapped_column(String(24))
    to_location: Mapped[str | None] = mapped_column(String(24), nullable=True)
    supplier: Mapped[str | None] = mapped_column(ForeignKey("suppliers.code"), nullable=True)
    event_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("entries.id"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    __table_args__ = (
        CheckConstraint(
            "kind IN ('receipt', 'transfer', 'write_off', 'count')", name="ck_movement_kind"
        ),
    )
