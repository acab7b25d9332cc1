"""spam, SMS pumping, returning leads: block list, texting pauses, spam reasons, email key

Revision ID: e3f1a9c7d5b2
Revises: b7c4e2a9d6f1
Create Date: 2026-12-01 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3f1a9c7d5b2"
down_revision: str | None = "b7c4e2a9d6f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
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


def downgrade() -> None:
    op.drop_table("sms_pauses")
    op.drop_table("blocked_values")
    with op.batch_alter_table("leads") as batch:
        batch.drop_index("ix_leads_email_key")
        batch.drop_column("email_key")
        batch.drop_column("spam_reasons")
