"""Tables of care (migration 0015): peer educators and their patients over date ranges,
and lightweight views of the dispensing tables care reads (``dispensing`` is a sibling
layer: its tables are named here, not imported)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    column,
    table,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base
from ledger.tables import BigId


class PeerEducator(Base):
    __tablename__ = "peer_educators"
    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    network: Mapped[str] = mapped_column(String(100))
    district: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EducatorAssignment(Base):
    """A patient in an educator's care from ``valid_from`` to ``valid_to`` (inclusive;
    None: still). At most one at a time per patient."""

    __tablename__ = "educator_assignments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    patient: Mapped[str] = mapped_column(ForeignKey("patients.member_code"))
    educator: Mapped[str] = mapped_column(ForeignKey("peer_educators.code"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    __table_args__ = (
        UniqueConstraint("patient", "valid_from", name="uq_educator_assignment_start"),
        CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name="ck_educator_assignment_range"
        ),
        Index("ix_educator_assignments_educator", "educator", "valid_from"),
        Index("ix_educator_assignments_patient", "patient", "valid_from"),
    )


#: The dispensing tables as care reads them (columns it needs only).
dispensings = table(
    "dispensings",
    column("id"),
    column("pharmacy"),
    column("patient"),
    column("service_date", Date),
    column("scheme"),
    column("currency"),
    column("total_price"),
    column("total_subsidy"),
    column("total_copayment"),
)
dispensing_lines = table(
    "dispensing_lines",
    column("id"),
    column("dispensing_id"),
    column("line_no", Integer),
    column("medicine"),
    column("quantity", Integer),
    column("days_supply", Integer),
    column("price"),
    column("subsidy"),
    column("copayment"),
)
return_lines = table("return_lines", column("line_id"), column("quantity", Integer))
