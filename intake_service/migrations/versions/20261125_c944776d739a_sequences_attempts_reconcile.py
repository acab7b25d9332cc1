"""sequences, delivery attempts, reconciliation

Revision ID: c944776d739a
Revises: 247bf5401a34
Create Date: 2026-11-25 11:40:48.290195
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c944776d739a"
down_revision: str | None = "247bf5401a34"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sequences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("treatment", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequences")),
        sa.UniqueConstraint("treatment", name=op.f("uq_sequences_treatment")),
    )
    op.create_table(
        "sequence_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sequence_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("audience", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("template_key", sa.String(length=100), nullable=False),
        sa.Column("delay_seconds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sequence_id"],
            ["sequences.id"],
            name=op.f("fk_sequence_steps_sequence_id_sequences"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequence_steps")),
        sa.UniqueConstraint(
            "sequence_id", "key", "audience", "channel", name="uq_sequence_steps_step"
        ),
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_delivery_attempts_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_attempts_message_id"), ["message_id"], unique=False
        )

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_status", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("email_status", sa.String(length=30), nullable=True))
        batch_op.add_column(
            sa.Column("sequence_stopped_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("sequence_stop_reason", sa.String(length=40), nullable=True))

    with op.batch_alter_table("messages", schema=None) as batch_op:
        # Every message planned before sequences existed was a first-contact message.
        batch_op.add_column(
            sa.Column("step_key", sa.String(length=40), nullable=False, server_default="first")
        )
        batch_op.add_column(
            sa.Column("needs_reconcile", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("retry_base", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("retry_base")
        batch_op.drop_column("dismissed_at")
        batch_op.drop_column("needs_reconcile")
        batch_op.drop_column("step_key")

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("sequence_stop_reason")
        batch_op.drop_column("sequence_stopped_at")
        batch_op.drop_column("email_status")
        batch_op.drop_column("phone_status")

    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_attempts_message_id"))

    op.drop_table("delivery_attempts")
    op.drop_table("sequence_steps")
    op.drop_table("sequences")
