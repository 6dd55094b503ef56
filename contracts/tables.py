"""SQLAlchemy tables of contracts: price lists and their versions, subsidy schemes, patients
and their enrolments, pharmacy contracts. Made by ``migrations/versions/0003_contracts.py``.

Exactness: a unit price is kept as the decimal string it was given (canonical form, at most
6 decimals, major units of the list's currency) and read back as an exact ``Fraction``; a
percentage is kept in basis points (``percent_bp``: 5000 = 50 %, so two decimals exactly);
caps and cash rounding are integer minor units of the fund currency (KHR). No float anywhere.

The foreign keys to ``medicines`` and ``pharmacies`` (tables of the stock package) exist in
the migration only, so these models work without the stock models imported.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base
from ledger.tables import BigId


class PriceList(Base):
    __tablename__ = "price_lists"
    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    currency: Mapped[str] = mapped_column(ForeignKey("commodities.code"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PriceListVersion(Base):
    __tablename__ = "price_list_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    price_list: Mapped[str] = mapped_column(ForeignKey("price_lists.code"), index=True)
    effective_from: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(80))
    __table_args__ = (
        UniqueConstraint("price_list", "effective_from", name="uq_price_list_version_date"),
    )


class PriceListItem(Base):
    __tablename__ = "price_list_items"
    version_id: Mapped[int] = mapped_column(ForeignKey("price_list_versions.id"), primary_key=True)
    medicine: Mapped[str] = mapped_column(String(24), primary_key=True)  # FK medicines.code
    #: canonical decimal string in major units of the list's currency, up to 6 decimals
    unit_price: Mapped[str] = mapped_column(String(40))


class SubsidyScheme(Base):
    __tablename__ = "subsidy_schemes"
    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    payer: Mapped[str] = mapped_column(String(12))
    percent_bp: Mapped[int] = mapped_column(Integer)
    cap_per_dispensing: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cap_per_patient_month: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cash_rounding: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: False: only the medicines in ``scheme_medicines`` are eligible
    all_eligible: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the sub-account ``1300-{code}`` for an external payer, else None (the fund: 5300)
    account: Mapped[str | None] = mapped_column(ForeignKey("accounts.code"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("payer IN ('external', 'fund')", name="ck_scheme_payer"),
        CheckConstraint("percent_bp >= 0 AND percent_bp <= 10000", name="ck_scheme_percent"),
        CheckConstraint(
            "cap_per_dispensing IS NULL OR cap_per_dispensing >= 0", name="ck_scheme_cap_disp"
        ),
        CheckConstraint(
            "cap_per_patient_month IS NULL OR cap_per_patient_month >= 0",
            name="ck_scheme_cap_month",
        ),
        CheckConstraint("cash_rounding IS NULL OR cash_rounding > 0", name="ck_scheme_rounding"),
    )


class SchemeMedicine(Base):
    __tablename__ = "scheme_medicines"
    scheme: Mapped[str] = mapped_column(ForeignKey("subsidy_schemes.code"), primary_key=True)
    medicine: Mapped[str] = mapped_column(String(24), primary_key=True)  # FK medicines.code


class Patient(Base):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: pseudonymous, NFC-normalised, 1-40 characters (Khmer script allowed)
    member_code: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Enrolment(Base):
    __tablename__ = "enrolments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    scheme: Mapped[str] = mapped_column(ForeignKey("subsidy_schemes.code"))
    valid_from: Mapped[date] = mapped_column(Date)
    #: inclusive; None = open-ended
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_enrolment_range"),
    )


class Contract(Base):
    __tablename__ = "contracts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pharmacy: Mapped[str] = mapped_column(String(24), index=True)  # FK pharmacies.code
    valid_from: Mapped[date] = mapped_column(Date)
    #: inclusive; None = open-ended
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    model: Mapped[str] = mapped_column(String(12))
    price_list: Mapped[str] = mapped_column(ForeignKey("price_lists.code"))
    wholesale_price_list: Mapped[str | None] = mapped_column(
        ForeignKey("price_lists.code"), nullable=True
    )
    fee_kind: Mapped[str] = mapped_column(String(16))
    #: per_dispensing / per_line: minor units as a decimal integer string;
    #: percent: a decimal string 0..100 with up to 2 decimals
    fee_value: Mapped[str] = mapped_column(String(40))
    settlement_cycle: Mapped[str] = mapped_column(String(12), default="monthly")
    status: Mapped[str] = mapped_column(String(12), default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(80))
    __table_args__ = (
        CheckConstraint("model IN ('consignment', 'purchase')", name="ck_contract_model"),
        CheckConstraint(
            "fee_kind IN ('per_dispensing', 'per_line', 'percent')", name="ck_contract_fee_kind"
        ),
        CheckConstraint("status IN ('active', 'suspended', 'ended')", name="ck_contract_status"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_contract_range"),
        CheckConstraint(
            "model = 'consignment' OR wholesale_price_list IS NOT NULL",
            name="ck_contract_wholesale",
        ),
    )
