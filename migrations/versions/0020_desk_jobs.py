"""Long jobs of the desk pages (web/jobs.py): a ZIP of a period's documents, prepared in
the background while the page answers at once with a link that becomes ready.

* ``desk_jobs``: one row per job, owned by the user who started it (only they fetch it);
  ``state`` queued | running | done | failed, ``done_steps`` of ``total_steps`` for the
  progress, ``heartbeat_at`` renewed at every step (a job whose heartbeat stopped, e.g.
  the server restarted under it, reads as interrupted and may be tried again), the file
  itself once done.

Self-contained: no foreign key to a table of another branch of the migrations.

Revision ID: 0020
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "desk_jobs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("done_steps", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total_steps", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("filename", sa.String(200), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')", name="ck_desk_jobs_state"
        ),
    )
    op.create_index("ix_desk_jobs_owner", "desk_jobs", ["owner_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_desk_jobs_owner", table_name="desk_jobs")
    op.drop_table("desk_jobs")
