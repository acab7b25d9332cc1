"""Keys long enough for the longest address and domain they are built from

A plan key is "<step>[:<occasion>]:<audience>:<channel>:<recipient>", and a recipient may be
an email address of up to 254 characters (email-validator's limit, under the 320 the lead's
column takes): at VARCHAR(200), PostgreSQL refused such a lead's whole planning, its team
alert with it. An email's provider id is its Message-ID, "<intake-message-<id>@<domain>>" with
MAIL_FROM's domain (up to 253 characters): at VARCHAR(100), a long domain made the record of
a send fail after the server had taken the email, and the email would go again. SQLite never
enforced either length.

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

# table: (column, before, after), each table rebuilt once on SQLite
WIDENED = {
    "messages": (("plan_key", 200, 500), ("provider_id", 100, 320)),
    "delivery_attempts": (("provider_id", 100, 320),),
}


def upgrade() -> None:
    _resize(widen=True)


def downgrade() -> None:
    _resize(widen=False)


def _resize(*, widen: bool) -> None:
    for table, columns in WIDENED.items():
        with op.batch_alter_table(table) as batch_op:
            for column, before, after in columns:
                old, new = (before, after) if widen else (after, before)
                batch_op.alter_column(
                    column, existing_type=sa.String(length=old), type_=sa.String(length=new)
                )
