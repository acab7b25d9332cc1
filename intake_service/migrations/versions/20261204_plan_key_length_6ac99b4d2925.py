"""A plan key long enough for the longest address it is built from

A plan key is "<step>[:<occasion>]:<audience>:<channel>:<recipient>", and a recipient may be
an email address of up to 254 characters (email-validator's limit, under the 320 the lead's
column takes): at VARCHAR(200), PostgreSQL refused such a lead's whole planning, its team
alert with it. SQLite never enforced the length.

Revision ID: 6ac99b4d2925
Revises: a4c8e2f6b9d1
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6ac99b4d2925"
down_revision: str | None = "a4c8e2f6b9d1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.alter_column(
            "plan_key", existing_type=sa.String(length=200), type_=sa.String(length=500)
        )


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.alter_column(
            "plan_key", existing_type=sa.String(length=500), type_=sa.String(length=200)
        )
