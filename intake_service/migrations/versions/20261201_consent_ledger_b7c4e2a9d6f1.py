"""Keep the consent ledger when a lead is deleted: lead_id ON DELETE SET NULL, and each event
names the contact point (phone or email) it was about, so the proof stands on its own.

Revision ID: b7c4e2a9d6f1
Revises: b7c2d4e6f8a1
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c4e2a9d6f1"
down_revision: str | None = "b7c2d4e6f8a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_consent_events_lead_id_leads"


def upgrade() -> None:
    with op.batch_alter_table("consent_events") as batch_op:
        batch_op.add_column(sa.Column("contact_point", sa.String(length=320), nullable=True))
        batch_op.create_index("ix_consent_events_contact_point", ["contact_point"], unique=False)
        batch_op.alter_column("lead_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.create_foreign_key(FK, "leads", ["lead_id"], ["id"], ondelete="SET NULL")
    # Events recorded so far were about the lead's address of the time, which is still its own.
    op.execute(
        "UPDATE consent_events SET contact_point = ("
        " SELECT CASE WHEN consent_events.channel = 'sms' THEN leads.phone ELSE leads.email END"
        " FROM leads WHERE leads.id = consent_events.lead_id)"
    )


def downgrade() -> None:
    orphans = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM consent_events WHERE lead_id IS NULL")
    )
    if orphans:
        # The old schema cannot hold an event without its lead; dropping them would destroy
        # the proof of consent this revision exists to keep.
        raise RuntimeError(
            f"{orphans} consent events belong to deleted leads; the schema before this "
            "revision cannot keep them, so the downgrade stops here."
        )
    with op.batch_alter_table("consent_events") as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.create_foreign_key(FK, "leads", ["lead_id"], ["id"], ondelete="CASCADE")
        batch_op.alter_column("lead_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_index("ix_consent_events_contact_point")
        batch_op.drop_column("contact_point")
