"""Texting and email that obey the rules: inbound texts, processed webhooks, pending status
callbacks, phone opt-outs; delivery status, error code and SMS length on messages; the inbound
message as evidence on consent events.

Revision ID: b8e2c4d6f1a3
Revises: e3f1a9c7d5b2
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8e2c4d6f1a3"
down_revision: str | None = "e3f1a9c7d5b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("from_number", sa.String(length=32), nullable=False),
        sa.Column("to_number", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),  # encrypted
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("keyword", sa.String(length=20), nullable=True),
        sa.Column("auto_reply", sa.String(length=40), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=True),
        sa.Column("crisis_rule", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_inbound_messages_lead_id_leads"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint("provider_id", name=op.f("uq_inbound_messages_provider_id")),
    )
    with op.batch_alter_table("inbound_messages") as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_messages_from_number"), ["from_number"])
        batch_op.create_index(batch_op.f("ix_inbound_messages_lead_id"), ["lead_id"])
        batch_op.create_index(batch_op.f("ix_inbound_messages_received_at"), ["received_at"])

    op.create_table(
        "processed_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_webhooks")),
        sa.UniqueConstraint("kind", "key", name="uq_processed_webhooks_kind_key"),
    )
    with op.batch_alter_table("processed_webhooks") as batch_op:
        batch_op.create_index(batch_op.f("ix_processed_webhooks_received_at"), ["received_at"])

    op.create_table(
        "pending_status_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_status_events")),
    )
    with op.batch_alter_table("pending_status_events") as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_status_events_provider_id"), ["provider_id"])

    op.create_table(
        "phone_opt_outs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("since", TIMESTAMP, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("inbound_message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_phone_opt_outs_inbound_message_id_inbound_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_opt_outs")),
        sa.UniqueConstraint("phone", name=op.f("uq_phone_opt_outs_phone")),
    )

    with op.batch_alter_table("consent_events") as batch_op:
        batch_op.add_column(sa.Column("inbound_message_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_consent_events_inbound_message_id_inbound_messages"),
            "inbound_messages",
            ["inbound_message_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("messages") as batch_op:
        batch_op.add_column(sa.Column("provider_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("error_code", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("segments", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("encoding", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_column("encoding")
        batch_op.drop_column("segments")
        batch_op.drop_column("error_code")
        batch_op.drop_column("provider_status")
    with op.batch_alter_table("consent_events") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_consent_events_inbound_message_id_inbound_messages"),
            type_="foreignkey",
        )
        batch_op.drop_column("inbound_message_id")
    op.drop_table("phone_opt_outs")
    op.drop_table("pending_status_events")
    op.drop_table("processed_webhooks")
    op.drop_table("inbound_messages")
