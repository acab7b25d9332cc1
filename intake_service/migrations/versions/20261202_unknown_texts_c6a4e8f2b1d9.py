"""Texts from unknown numbers page on-call: a message or an urgent page may be about an
inbound text instead of a lead, and such a text records who acknowledged it.

Revision ID: c6a4e8f2b1d9
Revises: b8e2c4d6f1a3
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c6a4e8f2b1d9"
down_revision: str | None = "b8e2c4d6f1a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
# Each row is about a lead or about an inbound text (or both never: see the models).
ABOUT = "lead_id IS NOT NULL OR inbound_message_id IS NOT NULL"


def _about_a_text(table: str) -> None:
    with op.batch_alter_table(table) as batch_op:
        batch_op.add_column(sa.Column("inbound_message_id", sa.Integer(), nullable=True))
        batch_op.alter_column("lead_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f(f"fk_{table}_inbound_message_id_inbound_messages"),
            "inbound_messages",
            ["inbound_message_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint("about", ABOUT)
        batch_op.create_index(batch_op.f(f"ix_{table}_inbound_message_id"), ["inbound_message_id"])


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch_op:
        batch_op.add_column(sa.Column("acknowledged_at", TIMESTAMP, nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=320), nullable=True))
    _about_a_text("messages")
    with op.batch_alter_table("messages") as batch_op:
        batch_op.create_unique_constraint(
            "uq_messages_inbound_message_id_plan_key", ["inbound_message_id", "plan_key"]
        )
    _about_a_text("urgent_pages")
    with op.batch_alter_table("urgent_pages") as batch_op:
        batch_op.create_unique_constraint(
            "uq_urgent_pages_inbound_message_id_round", ["inbound_message_id", "round"]
        )


def _only_about_leads(table: str, unique: str) -> None:
    # What was about a text has nowhere to go in the older schema: pages already sent or due.
    if table == "messages":
        # Foreign keys are off on SQLite while migrating: their attempts go by hand.
        op.execute(
            sa.text(
                "DELETE FROM delivery_attempts WHERE message_id IN "
                "(SELECT id FROM messages WHERE lead_id IS NULL)"
            )
        )
    op.execute(sa.text(f"DELETE FROM {table} WHERE lead_id IS NULL"))  # noqa: S608
    with op.batch_alter_table(table) as batch_op:
        batch_op.drop_constraint(unique, type_="unique")
        batch_op.drop_index(batch_op.f(f"ix_{table}_inbound_message_id"))
        batch_op.drop_constraint(batch_op.f(f"ck_{table}_about"), type_="check")
        batch_op.drop_constraint(
            batch_op.f(f"fk_{table}_inbound_message_id_inbound_messages"), type_="foreignkey"
        )
        batch_op.drop_column("inbound_message_id")
        batch_op.alter_column("lead_id", existing_type=sa.Uuid(), nullable=False)


def downgrade() -> None:
    _only_about_leads("urgent_pages", "uq_urgent_pages_inbound_message_id_round")
    _only_about_leads("messages", "uq_messages_inbound_message_id_plan_key")
    with op.batch_alter_table("inbound_messages") as batch_op:
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("acknowledged_at")
