"""issue 12: the clinic's logo for the public pages (clinic_assets)

Opening hours, times to first contact and the primary colour are clinic_settings rows (JSON
values): no schema change for them.

Revision ID: f2c9a7d4b1e6
Revises: c6a4e8f2b1d9
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f2c9a7d4b1e6"
down_revision: str | None = "c6a4e8f2b1d9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clinic_assets",
        sa.Column("key", sa.String(length=20), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_clinic_assets_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_clinic_assets")),
    )


def downgrade() -> None:
    op.drop_table("clinic_assets")
