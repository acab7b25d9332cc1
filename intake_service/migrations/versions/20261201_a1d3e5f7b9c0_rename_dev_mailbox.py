"""Rename the development mail sink: dev_outbox -> dev_mailbox ("outbox" is the event outbox).

Revision ID: a1d3e5f7b9c0
Revises: c944776d739a
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a1d3e5f7b9c0"
down_revision: str | None = "c944776d739a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rename(old: str, new: str) -> None:
    op.rename_table(old, new)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {new} RENAME CONSTRAINT pk_{old} TO pk_{new}")
    with op.batch_alter_table(new) as batch_op:
        batch_op.drop_index(f"ix_{old}_created_at")
        batch_op.create_index(f"ix_{new}_created_at", ["created_at"], unique=False)
        batch_op.drop_constraint(f"uq_{old}_provider_id", type_="unique")
        batch_op.create_unique_constraint(f"uq_{new}_provider_id", ["provider_id"])


def upgrade() -> None:
    _rename("dev_outbox", "dev_mailbox")


def downgrade() -> None:
    _rename("dev_mailbox", "dev_outbox")
