"""issue 15: worker heartbeats, and which worker process holds each message it is sending

Revision ID: d7e1a9c3f5b2
Revises: f2c9a7d4b1e6
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d7e1a9c3f5b2"
down_revision: str | None = "f2c9a7d4b1e6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("seen_at", TIMESTAMP, nullable=False),
        sa.Column("buried_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_heartbeats")),
    )
    op.create_index(
        op.f("ix_worker_heartbeats_seen_at"), "worker_heartbeats", ["seen_at"], unique=False
    )
    with op.batch_alter_table("messages") as batch_op:
        batch_op.add_column(sa.Column("held_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_column("held_by")
    op.drop_index(op.f("ix_worker_heartbeats_seen_at"), table_name="worker_heartbeats")
    op.drop_table("worker_heartbeats")
