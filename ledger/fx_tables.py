"""SQLAlchemy tables of two currencies (migration ``0014_fx``): rates, the conversions events
made, exchanges and landed costs. All append-only: the database refuses UPDATE and DELETE."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class FxRate(Base):
    """KHR per 1 USD on a date: ``rate`` as text (normalised), ``rate_micro`` in millionths."""

    __tablename__ = "fx_rates"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    on_date: Mapped[date] = mapped_column(Date, unique=True)
    base: Mapped[str] = mapped_column(String(24))
    quote: Mapped[str] = mapped_column(String(24))
    rate: Mapped[str] = mapped_column(String(32))
    rate_micro: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))


class FxConversion(Base):
    """The conversion one event made: the two amounts that met in 9100 and the rate."""

    __tablename__ = "fx_conversions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    on_date: Mapped[date] = mapped_column(Date)
    rate: Mapped[str] = mapped_column(String(32))
    rate_micro: Mapped[int] = mapped_column(BigInteger)
    stated: Mapped[bool] = mapped_column(Boolean)
    rate_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    from_currency: Mapped[str] = mapped_column(String(24))
    from_amount: Mapped[int] = mapped_column(BigInteger)
    to_currency: Mapped[str] = mapped_column(String(24))
    to_amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FxExchange(Base):
    """The source document of an exchange at the bank (entry source ``fx-exchange:{id}``)."""

    __tablename__ = "fx_exchanges"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    on_date: Mapped[date] = mapped_column(Date, index=True)
    sell_currency: Mapped[str] = mapped_column(String(24))
    sell_amount: Mapped[int] = mapped_column(BigInteger)
    buy_currency: Mapped[str] = mapped_column(String(24))
    buy_amount: Mapped[int] = mapped_column(BigInteger)
    rate: Mapped[str] = mapped_column(String(32))
    rate_micro: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))


class LandedCost(Base):
    """Freight, port, customs or bank fees added to a receipt (entry ``landed-cost:{id}``)."""

    __tablename__ = "landed_costs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    receipt_id: Mapped[int] = mapped_column(BigInteger, index=True)
    on_date: Mapped[date] = mapped_column(Date)
    counterparty: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(String(500))
    currency: Mapped[str] = mapped_column(String(24))
    amount: Mapped[int] = mapped_column(BigInteger)
    rate: Mapped[str | None] = mapped_column(String(32), nullable=True)
    rate_micro: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    functional_amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
