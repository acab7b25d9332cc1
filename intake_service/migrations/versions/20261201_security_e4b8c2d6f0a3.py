"""security: blind index of phones and emails (backfilled), retention marker, consent archive,
staff second factor

Revision ID: e4b8c2d6f0a3
Revises: d4a8e2c6f0b3
Create Date: 2026-12-01 19:00:00

The backfill hashes existing leads' phones and emails with the blind-index key: the one passed
by the caller (`config.attributes["blind_index_key"]`, bytes), else the one the environment's
settings give (BLIND_INDEX_KEY, or derived from SECRET_KEY), read only if there is a row to fill.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4b8c2d6f0a3"
down_revision: str | None = "d4a8e2c6f0b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def _blind_index():  # type: ignore[no-untyped-def]
    from intake_service.security.blind_index import BlindIndex

    key = op.get_context().config.attributes.get("blind_index_key")  # type: ignore[union-attr]
    if key:
        return BlindIndex(key)
    from intake_service.config import Settings

    return BlindIndex.from_settings(Settings.from_env())


def _backfill() -> None:
    leads = sa.table(
        "leads",
        sa.column("id", sa.Uuid()),
        sa.column("phone", sa.String()),
        sa.column("email", sa.String()),
        sa.column("phone_hash", sa.String()),
        sa.column("email_hash", sa.String()),
    )
    connection = op.get_bind()
    todo = sa.or_(
        sa.and_(leads.c.phone.is_not(None), leads.c.phone_hash.is_(None)),
        sa.and_(leads.c.email.is_not(None), leads.c.email_hash.is_(None)),
    )
    if connection.execute(sa.select(leads.c.id).where(todo).limit(1)).first() is None:
        return
    index = _blind_index()
    last = None
    while True:
        query = sa.select(leads.c.id, leads.c.phone, leads.c.email).order_by(leads.c.id)
        if last is not None:
            query = query.where(leads.c.id > last)
        rows = connection.execute(query.limit(BATCH)).all()
        if not rows:
            return
        for lead_id, phone, email in rows:
            connection.execute(
                leads.update()
                .where(leads.c.id == lead_id)
                .values(
                    phone_hash=index.phone(phone) if phone else None,
                    email_hash=index.email(email) if email else None,
                )
            )
        last = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("phone_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("email_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("health_erased_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_leads_phone_hash", ["phone_hash"])
        batch.create_index("ix_leads_email_hash", ["email_hash"])
    _backfill()
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.Text(), nullable=True))
        batch.add_column(sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    op.create_table(
        "consent_archive",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wording_version", sa.String(length=40), nullable=False),
        sa.Column("wording", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("contact", sa.String(length=320), nullable=True),
        sa.Column("contact_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_archive")),
    )
    op.create_index("ix_consent_archive_lead_id", "consent_archive", ["lead_id"])
    op.create_index("ix_consent_archive_contact_hash", "consent_archive", ["contact_hash"])


def downgrade() -> None:
    op.drop_index("ix_consent_archive_contact_hash", table_name="consent_archive")
    op.drop_index("ix_consent_archive_lead_id", table_name="consent_archive")
    op.drop_table("consent_archive")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_enabled_at")
        batch.drop_column("totp_secret")
    with op.batch_alter_table("leads") as batch:
        batch.drop_index("ix_leads_email_hash")
        batch.drop_index("ix_leads_phone_hash")
        batch.drop_column("health_erased_at")
        batch.drop_column("email_hash")
        batch.drop_column("phone_hash")
