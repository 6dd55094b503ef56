"""Audit trail and seal checkpoint: ``audit_events`` (append-only) and ``seal_checkpoints``.

``seal_checkpoints`` holds one row (id 1): how many entries the sealer has chained and the
seal of the last one. It is the anchor that lets ``/audit/verify`` see a truncated tail
(a chain alone cannot tell a truncated tail from a short history). The database refuses
to delete it or to move it backwards.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

GENESIS = "0" * 64

PG_DDL = r"""
CREATE FUNCTION rdf_checkpoint_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.seal_count >= OLD.seal_count THEN
    RETURN NEW;  -- the sealer moves the checkpoint forward, never back
  END IF;
  RAISE EXCEPTION '% on seal_checkpoints is refused: the checkpoint only moves forward', TG_OP
    USING ERRCODE = '42501';
END $$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION rdf_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION rdf_append_only();
CREATE TRIGGER seal_checkpoints_guard BEFORE UPDATE OR DELETE ON seal_checkpoints
  FOR EACH ROW EXECUTE FUNCTION rdf_checkpoint_guard();
CREATE TRIGGER seal_checkpoints_no_truncate BEFORE TRUNCATE ON seal_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION rdf_append_only();
"""

SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN
      SELECT RAISE(ABORT, 'UPDATE on audit_events is refused: the audit trail is append-only');
    END
    """,
    """
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN
      SELECT RAISE(ABORT, 'DELETE on audit_events is refused: the audit trail is append-only');
    END
    """,
    """
    CREATE TRIGGER seal_checkpoints_no_delete BEFORE DELETE ON seal_checkpoints BEGIN
      SELECT RAISE(ABORT, 'DELETE on seal_checkpoints is refused');
    END
    """,
    """
    CREATE TRIGGER seal_checkpoints_forward BEFORE UPDATE ON seal_checkpoints
    WHEN NOT (NEW.id = OLD.id AND NEW.seal_count >= OLD.seal_count)
    BEGIN
      SELECT RAISE(ABORT, 'the seal checkpoint only moves forward');
    END
    """,
]


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=True),
        sa.Column("user_name", sa.String(100), nullable=True),
        sa.Column("role", sa.String(12), nullable=True),
        sa.Column("token_hash_prefix", sa.String(8), nullable=True),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("remote_addr", sa.String(64), nullable=True),
        sa.Column("object_ref", sa.String(200), nullable=True),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_user", "audit_events", ["user_name", "id"])
    checkpoints = op.create_table(
        "seal_checkpoints",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("seal_count", sa.BigInteger, nullable=False),
        sa.Column("last_seal", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_seal_checkpoint_single"),
        sa.CheckConstraint("seal_count >= 0", name="ck_seal_checkpoint_count"),
    )
    op.bulk_insert(
        checkpoints,
        [{"id": 1, "seal_count": 0, "last_seal": GENESIS, "updated_at": datetime.now(UTC)}],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DDL)
    else:
        for ddl in SQLITE_TRIGGERS:
            op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS rdf_checkpoint_guard() CASCADE")
    op.drop_table("seal_checkpoints")
    op.drop_table("audit_events")
