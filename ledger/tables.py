"""SQLAlchemy tables of the journal: commodities, accounts, lots, entries, postings,
kept balances, periods, idempotency keys and users.

Invariants the database keeps by itself (see ``migrations/versions/0001_ledger_core.py``):

* postings and entries cannot be updated or deleted; an entry's seal is a row of its own
  (``entry_seals``, revision 0018), given once, never updated or deleted;
* every entry balances per commodity (PostgreSQL: a deferred constraint trigger checks, at
  commit, the entries of every statement of the transaction that inserted postings, 0010);
* kept balances are maintained by a trigger on every posting insert, so a kept balance is
  the sum of its postings by construction; so are the kept totals per month
  (``month_totals``, revision 0008) and per day (``day_totals``, revision 0018); on PostgreSQL one trigger per statement (INSERT, COPY) folds
  all its postings, key by key in lock order (revision 0010), on SQLite one per row;
* a lot balance of an inventory account can never be negative (CHECK on ``balances``; on
  PostgreSQL it judges each postings statement's folded sum per key).
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
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column

from ledger.db import Base

#: An autoincrementing 64-bit key on PostgreSQL, SQLite's INTEGER PRIMARY KEY (rowid) there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Commodity(Base):
    __tablename__ = "commodities"
    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # currency | medicine
    exponent: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(200))
    __table_args__ = (
        CheckConstraint("kind IN ('currency', 'medicine')", name="ck_commodity_kind"),
        CheckConstraint("exponent >= 0 AND exponent <= 6", name="ck_commodity_exponent"),
    )


class Account(Base):
    __tablename__ = "accounts"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    parent: Mapped[str | None] = mapped_column(String(40), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(12))
    #: money | units | money+units
    carries: Mapped[str] = mapped_column(String(12))
    #: a header of sub-accounts (1200, 1400…): never posted to directly
    is_header: Mapped[bool] = mapped_column(Boolean, default=False)
    #: lot balances of an inventory account must never go below zero
    is_inventory: Mapped[bool] = mapped_column(Boolean, default=False)
    #: a bank account holds one currency only
    currency: Mapped[str | None] = mapped_column(String(24), nullable=True)
    #: the pharmacy a sub-account belongs to: the partition key of the books
    pharmacy: Mapped[str | None] = mapped_column(String(24), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(
            "type IN ('asset', 'liability', 'equity', 'income', 'expense', 'memo')",
            name="ck_account_type",
        ),
        CheckConstraint("carries IN ('money', 'units', 'money+units')", name="ck_account_carries"),
    )


class Lot(Base):
    __tablename__ = "lots"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    commodity: Mapped[str] = mapped_column(ForeignKey("commodities.code"))
    lot_code: Mapped[str] = mapped_column(String(40))
    expiry_on: Mapped[date] = mapped_column(Date)
    received_on: Mapped[date] = mapped_column(Date)
    supplier: Mapped[str | None] = mapped_column(String(24), nullable=True)
    #: the funding source, for life (migration 0016): "purchased" | "donated", and the donor
    funding: Mapped[str] = mapped_column(String(12), default="purchased")
    donor: Mapped[str | None] = mapped_column(String(24), nullable=True)
    __table_args__ = (UniqueConstraint("commodity", "lot_code", name="uq_lot_code"),)


class EntrySeal(Base):
    """An entry's place in the hash chain and its seal (``ledger.sealing``): inserted once
    by the sealer, never updated or deleted (revision 0018; before it, two columns of
    ``entries`` the sealer updated)."""

    __tablename__ = "entry_seals"
    seal_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("entries.id", ondelete="CASCADE"), unique=True
    )
    seal: Mapped[str] = mapped_column(String(64))
    __table_args__ = (CheckConstraint("seal_seq > 0", name="ck_entry_seal_seq"),)


_S = EntrySeal.__table__.c


class Entry(Base):
    __tablename__ = "entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service_date: Mapped[date] = mapped_column(Date)
    accounting_date: Mapped[date] = mapped_column(Date, index=True)
    memo: Mapped[str] = mapped_column(Text)
    #: the source document, "kind:id" (e.g. "dispensing:42"); None for manual entries
    source: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    reverses_id: Mapped[int | None] = mapped_column(
        ForeignKey("entries.id"), nullable=True, index=True
    )
    #: the pharmacy the entry belongs to, if any (partition key; spreads kept balances)
    partition: Mapped[str | None] = mapped_column(String(24), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(300), nullable=True, unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    #: position in the hash chain, given by the sealer in commit order, and the seal: read
    #: from ``entry_seals`` (None while unsealed)
    seal_seq: Mapped[int | None] = column_property(
        select(_S.seal_seq).where(_S.entry_id == id).correlate_except(EntrySeal).scalar_subquery()
    )
    seal: Mapped[str | None] = column_property(
        select(_S.seal).where(_S.entry_id == id).correlate_except(EntrySeal).scalar_subquery()
    )


class Posting(Base):
    __tablename__ = "postings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    account_code: Mapped[str] = mapped_column(ForeignKey("accounts.code"))
    commodity: Mapped[str] = mapped_column(ForeignKey("commodities.code"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    #: copied from the entry so statements and as-of balances use one index
    accounting_date: Mapped[date] = mapped_column(Date)
    #: which stripe of the kept balance this posting updates (0 for lot balances)
    stripe: Mapped[int] = mapped_column(SmallInteger, default=0)
    __table_args__ = (
        CheckConstraint("amount <> 0", name="ck_posting_nonzero"),
        Index("ix_postings_account_date", "account_code", "commodity", "accounting_date", "id"),
    )


class Balance(Base):
    """A kept balance per (account, commodity, lot, stripe); maintained by a trigger."""

    __tablename__ = "balances"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_code: Mapped[str] = mapped_column(String(40))
    commodity: Mapped[str] = mapped_column(String(24))
    #: the lot id, or 0 for postings without a lot (0 keeps the unique key NULL-free)
    lot_key: Mapped[int] = mapped_column(BigInteger, default=0)
    stripe: Mapped[int] = mapped_column(SmallInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    nonneg: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (
        UniqueConstraint("account_code", "commodity", "lot_key", "stripe", name="uq_balance_key"),
        CheckConstraint("NOT nonneg OR amount >= 0", name="ck_balance_lot_nonnegative"),
    )


class MonthTotal(Base):
    """What a kept balance's postings sum to within one month: one row per (account,
    commodity, lot, stripe, month); maintained by a trigger next to ``balances``
    (``migrations/versions/0008_month_totals.py``), so a balance as of any date reads
    a bounded number of rows."""

    __tablename__ = "month_totals"
    account_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    commodity: Mapped[str] = mapped_column(String(24), primary_key=True)
    #: the first day of the month
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    lot_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    stripe: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    #: Σ of the month's postings; ``debit`` and ``credit``: Σ of its debits and of its
    #: credits, both >= 0 (``amount = debit - credit``)
    amount: Mapped[int] = mapped_column(BigInteger)
    debit: Mapped[int] = mapped_column(BigInteger)
    credit: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (
        CheckConstraint(
            "debit >= 0 AND credit >= 0 AND amount = debit - credit", name="ck_month_total_sides"
        ),
    )


class DayTotal(Base):
    """What a kept balance's postings sum to on one day: one row per (account, commodity,
    lot, stripe, day); maintained by the posting triggers next to ``month_totals``
    (``migrations/versions/0018_day_totals_entry_seals.py``), so a balance as of a day
    within a month reads day rows, never postings."""

    __tablename__ = "day_totals"
    account_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    commodity: Mapped[str] = mapped_column(String(24), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    lot_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    stripe: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    #: Σ of the day's postings; ``debit`` and ``credit`` as in ``month_totals``
    amount: Mapped[int] = mapped_column(BigInteger)
    debit: Mapped[int] = mapped_column(BigInteger)
    credit: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (
        CheckConstraint(
            "debit >= 0 AND credit >= 0 AND amount = debit - credit", name="ck_day_total_sides"
        ),
        Index("ix_day_totals_day", "day"),
    )


class Period(Base):
    __tablename__ = "periods"
    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    status: Mapped[str] = mapped_column(String(8), default="open")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: RFC 6962 Merkle root over the canonical content of the month's entries
    merkle_root: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_seal: Mapped[str | None] = mapped_column(String(64), nullable=True)
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="ck_period_status"),)


class FundSetting(Base):
    """The fund's settings, one row (migration 0017): the functional currency."""

    __tablename__ = "fund_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    functional_currency: Mapped[str] = mapped_column(String(24))
    set_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    set_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    __table_args__ = (CheckConstraint("id = 1", name="ck_fund_settings_one_row"),)


class PeriodBalance(Base):
    """Closing balances of a closed month, kept when it closes."""

    __tablename__ = "period_balances"
    period: Mapped[str] = mapped_column(ForeignKey("periods.period"), primary_key=True)
    account_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    commodity: Mapped[str] = mapped_column(String(24), primary_key=True)
    lot_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class IdempotencyKey(Base):
    """The first answer to a write request, replayed when the same key comes again."""

    __tablename__ = "idempotency_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(300))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(12))
    pharmacy: Mapped[str | None] = mapped_column(String(24), nullable=True)
    #: the peer educator an ``educator`` user is (migration 0015)
    educator: Mapped[str | None] = mapped_column(String(24), nullable=True)
    #: sha256 of the token; the token itself is shown once and never stored
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'finance', 'auditor', 'pharmacist', 'educator')",
            name="ck_user_role",
        ),
        CheckConstraint("(role = 'educator') = (educator IS NOT NULL)", name="ck_user_educator"),
        CheckConstraint(
            "(role = 'pharmacist') = (pharmacy IS NOT NULL)", name="ck_user_pharmacist_pharmacy"
        ),
    )
