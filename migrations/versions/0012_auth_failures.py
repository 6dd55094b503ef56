"""Bad-token counters shared by every worker (api/ratelimit.py): one row per key — a
presented credential's hash (``cred:…``) or a client address (``addr:…``) — with the start
of its window and the failures counted in it. Never holds a token.

Revision ID: 0012
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
    )
    op.create_index("ix_auth_failures_window_start", "auth_failures", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_auth_failures_window_start", table_name="auth_failures")
    op.drop_table("auth_failures")
