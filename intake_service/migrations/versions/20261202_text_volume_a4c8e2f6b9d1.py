"""issue 15: hourly counts of texts per prefix and country; messages indexed by recipient

The SMS-pumping checks counted the messages table at every planning and send (a week of a
country's texts each time, by a sequential scan); they now read `text_volume`. The upgrade
fills it from the last eight days of texts, so a surge or a cap in progress is not forgotten.

Revision ID: a4c8e2f6b9d1
Revises: d7e1a9c3f5b2
Create Date: 2026-12-02
"""

import datetime as dt
from collections import Counter
from collections.abc import Sequence

import phonenumbers
import sqlalchemy as sa
from alembic import op

revision: str = "a4c8e2f6b9d1"
down_revision: str | None = "d7e1a9c3f5b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
# What counted when this revision was written (domain/compliance/text_volume.py may move on).
KEPT = dt.timedelta(days=8)
AT_PROVIDER = ("sent", "delivered", "undelivered")


def upgrade() -> None:
    volume = op.create_table(
        "text_volume",
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("hour", TIMESTAMP, nullable=False),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("at_provider", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "value", "hour", name=op.f("pk_text_volume")),
    )
    with op.batch_alter_table("messages") as batch_op:
        batch_op.create_index("ix_messages_recipient_created_at", ["recipient", "created_at"])
    op.bulk_insert(volume, _recent_counts())


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_index("ix_messages_recipient_created_at")
    op.drop_table("text_volume")


def _recent_counts() -> list[dict[str, object]]:
    messages = sa.table(
        "messages",
        sa.column("recipient", sa.String()),
        sa.column("channel", sa.String()),
        sa.column("audience", sa.String()),
        sa.column("status", sa.String()),
        sa.column("created_at", TIMESTAMP),
        sa.column("sent_at", TIMESTAMP),
    )
    since = dt.datetime.now(dt.UTC) - KEPT
    rows = op.get_bind().execute(
        sa.select(messages.c.recipient, messages.c.status, messages.c.created_at,
                  messages.c.sent_at)
        .where(messages.c.channel == "sms", messages.c.audience == "patient",
               messages.c.created_at >= since)
    )  # fmt: skip
    planned: Counter[tuple[str, str, dt.datetime]] = Counter()
    taken: Counter[tuple[str, str, dt.datetime]] = Counter()
    for recipient, status, created_at, sent_at in rows:
        for scope, value in _scopes(recipient):
            planned[scope, value, _hour(created_at)] += 1
            if scope == "prefix" and status in AT_PROVIDER:
                taken[scope, value, _hour(sent_at or created_at)] += 1
    return [
        {"scope": s, "value": v, "hour": h, "planned": planned[k], "at_provider": taken[k]}
        for k in sorted(planned.keys() | taken.keys())
        for s, v, h in [k]
    ]


def _scopes(e164: str) -> list[tuple[str, str]]:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return []
    national = phonenumbers.national_significant_number(number)
    country = f"+{number.country_code}"
    return [("prefix", f"{country}{national[:3]}"), ("country", country)]


def _hour(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
