"""crisis path: triage reasons and crisis words, lead acknowledgement, urgent pages

Revision ID: b7c2d4e6f8a1
Revises: 5a7f3c2e9b41
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c2d4e6f8a1"
down_revision: str | None = "5a7f3c2e9b41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("triages") as batch:
        batch.add_column(sa.Column("candidacies", sa.Text(), nullable=True))
        batch.add_column(sa.Column("flags", sa.Text(), nullable=True))
        batch.add_column(sa.Column("crisis_version", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("crisis", sa.Text(), nullable=True))
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("acknowledged_by", sa.String(length=320), nullable=True))
    op.create_table(
        "urgent_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_urgent_pages_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_urgent_pages")),
        sa.UniqueConstraint("lead_id", "round", name="uq_urgent_pages_lead_id_round"),
    )
    op.create_index("ix_urgent_pages_open_due", "urgent_pages", ["done_at", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_urgent_pages_open_due", table_name="urgent_pages")
    op.drop_table("urgent_pages")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("acknowledged_by")
        batch.drop_column("acknowledged_at")
    with op.batch_alter_table("triages") as batch:
        batch.drop_column("crisis")
        batch.drop_column("crisis_version")
        batch.drop_column("flags")
        batch.drop_column("candidacies")
