"""Care: peer educators and their patients, days of supply, therapeutic classes, the
educator role (DESIGN.md "Care").

- ``peer_educators`` (code, name?, network, district) and ``educator_assignments`` (a
  patient's educator over a date range; at most one at a time: a new assignment closes the
  previous one the day before it starts).
- ``dispensing_lines.days_supply`` (1-365, optional), ``medicines.therapeutic_class`` and
  ``medicines.default_days_supply`` (1-365, optional).
- ``users.educator``: the peer educator an ``educator`` user is (required for that role,
  refused for the others); the role check admits ``educator``.
- Indexes for the care reads: an educator's patients on a day
  (``ix_educator_assignments_educator``), a patient's assignments
  (``ix_educator_assignments_patient``). A patient's dispensings over a window are found by
  the existing ``ix_dispensings_patient_date`` (patient, service_date), their lines by
  ``dispensing_lines.dispensing_id`` and returns by ``return_lines.line_id``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
#: dispensings (0006, via 0007), patients (0003) and the medicines triggers (0009, via 0009) first.
depends_on = ("0007", "0009")

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

OLD_ROLES = "role IN ('admin', 'finance', 'auditor', 'pharmacist')"
NEW_ROLES = "role IN ('admin', 'finance', 'auditor', 'pharmacist', 'educator')"
EDUCATOR_RULE = "(role = 'educator') = (educator IS NOT NULL)"


def upgrade() -> None:
    op.create_table(
        "peer_educators",
        sa.Column("code", sa.String(24), primary_key=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("network", sa.String(100), nullable=False),
        sa.Column("district", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "educator_assignments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("patient", sa.String(40), sa.ForeignKey("patients.member_code"), nullable=False),
        sa.Column("educator", sa.String(24), sa.ForeignKey("peer_educators.code"), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.UniqueConstraint("patient", "valid_from", name="uq_educator_assignment_start"),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name="ck_educator_assignment_range"
        ),
    )
    op.create_index(
        "ix_educator_assignments_educator", "educator_assignments", ["educator", "valid_from"]
    )
    op.create_index(
        "ix_educator_assignments_patient", "educator_assignments", ["patient", "valid_from"]
    )
    with op.batch_alter_table("dispensing_lines") as b:
        b.add_column(sa.Column("days_supply", sa.SmallInteger, nullable=True))
    with op.batch_alter_table("medicines") as b:
        b.add_column(sa.Column("therapeutic_class", sa.String(40), nullable=True))
        b.add_column(sa.Column("default_days_supply", sa.SmallInteger, nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.create_check_constraint(
            "ck_dispensing_line_days_supply",
            "dispensing_lines",
            "days_supply IS NULL OR days_supply BETWEEN 1 AND 365",
        )
        op.create_check_constraint(
            "ck_medicine_default_days_supply",
            "medicines",
            "default_days_supply IS NULL OR default_days_supply BETWEEN 1 AND 365",
        )
    # users: a new column and the role rules. SQLite rebuilds the table: no trigger refers
    # to it; the foreign key of user_passwords (0011) names it by name, so it holds again
    # once the rebuilt table takes that name (migrations run without enforcing keys).
    with op.batch_alter_table("users", recreate="auto") as b:
        b.add_column(sa.Column("educator", sa.String(24), nullable=True))
        b.drop_constraint("ck_user_role", type_="check")
        b.create_check_constraint("ck_user_role", NEW_ROLES)
        b.create_check_constraint("ck_user_educator", EDUCATOR_RULE)


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE role = 'educator'")
    with op.batch_alter_table("users", recreate="auto") as b:
        b.drop_constraint("ck_user_educator", type_="check")
        b.drop_constraint("ck_user_role", type_="check")
        b.create_check_constraint("ck_user_role", OLD_ROLES)
        b.drop_column("educator")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("ck_medicine_default_days_supply", "medicines", type_="check")
        op.drop_constraint("ck_dispensing_line_days_supply", "dispensing_lines", type_="check")
    with op.batch_alter_table("medicines") as b:
        b.drop_column("default_days_supply")
        b.drop_column("therapeutic_class")
    with op.batch_alter_table("dispensing_lines") as b:
        b.drop_column("days_supply")
    op.drop_index("ix_educator_assignments_patient", "educator_assignments")
    op.drop_index("ix_educator_assignments_educator", "educator_assignments")
    op.drop_table("educator_assignments")
    op.drop_table("peer_educators")
