"""issue 10: block list, SMS pauses, spam reasons, email key, routing queues, escalations

Revision ID: e3f1a9c7d5b2
Revises: c3e8a1f4d2b7
Create Date: 2026-12-01 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3f1a9c7d5b2"
down_revision: str | None = "c3e8a1f4d2b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _routing_tables()
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_escalations_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("lead_id", "round", name="uq_escalations_lead_id_round"),
    )
    op.create_index("ix_escalations_open_due", "escalations", ["done_at", "due_at"])
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("queue_id", sa.Integer(), nullable=True))
        batch.create_index("ix_leads_queue_id", ["queue_id"])
        batch.create_foreign_key(
            "fk_leads_queue_id_routing_queues", "routing_queues", ["queue_id"], ["id"]
        )
        batch.add_column(sa.Column("spam_reasons", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("email_key", sa.String(length=320), nullable=True))
        batch.create_index("ix_leads_email_key", ["email_key"])
    # Earlier leads match by case-folded address (Gmail's dots are folded from now on).
    op.execute("UPDATE leads SET email_key = lower(email) WHERE email IS NOT NULL")
    op.create_table(
        "blocked_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocked_values")),
        sa.UniqueConstraint("kind", "value", name="uq_blocked_values_kind_value"),
    )
    op.create_table(
        "sms_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=320), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_pauses")),
        sa.UniqueConstraint("scope", "value", name="uq_sms_pauses_scope_value"),
    )


def _routing_tables() -> None:
    op.create_table(
        "routing_queues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("emails", sa.String(length=2000), nullable=False),
        sa.Column("lead_user_id", sa.Integer(), nullable=True),
        sa.Column("last_position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_user_id"], ["users.id"], name=op.f("fk_routing_queues_lead_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_routing_queues_name")),
    )
    op.create_table(
        "queue_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("off", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["routing_queues.id"],
            name=op.f("fk_queue_members_queue_id_routing_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_queue_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_members")),
        sa.UniqueConstraint("queue_id", "user_id", name="uq_queue_members_queue_user"),
    )
    op.create_table(
        "routing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("treatment", sa.String(length=20), nullable=True),
        sa.Column("priority", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("hour_from", sa.Integer(), nullable=True),
        sa.Column("hour_to", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["routing_queues.id"],
            name=op.f("fk_routing_rules_queue_id_routing_queues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
    )


def downgrade() -> None:
    op.drop_table("sms_pauses")
    op.drop_table("blocked_values")
    with op.batch_alter_table("leads") as batch:
        batch.drop_index("ix_leads_email_key")
        batch.drop_column("email_key")
        batch.drop_column("spam_reasons")
        batch.drop_constraint("fk_leads_queue_id_routing_queues", type_="foreignkey")
        batch.drop_index("ix_leads_queue_id")
        batch.drop_column("queue_id")
    op.drop_index("ix_escalations_open_due", table_name="escalations")
    op.drop_table("escalations")
    op.drop_table("routing_rules")
    op.drop_table("queue_members")
    op.drop_table("routing_queues")
