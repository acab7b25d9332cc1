"""leads.locale: the language the person used, for every later message to them

Revision ID: c3e8a1f4d2b7
Revises: e4b8c2d6f0a3
Create Date: 2026-12-01 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3e8a1f4d2b7"
down_revision: str | None = "e4b8c2d6f0a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every lead before this one came through English pages.
    with op.batch_alter_table("leads") as batch:
        batch.add_column(
            sa.Column("locale", sa.String(length=10), nullable=False, server_default="en")
        )


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("locale")
