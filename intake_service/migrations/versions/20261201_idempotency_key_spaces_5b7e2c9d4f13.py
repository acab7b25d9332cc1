"""Give API idempotency keys their own key space: "api:" and the key's SHA-256.

Form tokens were stored as "web-form:<token>" and API keys as sent, so an API client could claim
a form's key. From now on domain.intake.stored_key scopes every key by its door; this moves the
API keys already stored into their space, so a client's retry that straddles the deploy is still
answered as a replay. Data only: the column is unchanged.

Revision ID: 5b7e2c9d4f13
Revises: b7c4e2a9d6f1
Create Date: 2026-12-01
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b7e2c9d4f13"
down_revision: str | None = "b7c4e2a9d6f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_submissions = sa.table(
    "submissions",
    sa.column("id", sa.Uuid()),
    sa.column("via", sa.String()),
    sa.column("idempotency_key", sa.String()),
)
_PREFIX = "api:"  # as domain.intake.stored_key makes them, frozen here as migrations must be


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_submissions.c.id, _submissions.c.idempotency_key).where(
            _submissions.c.via == "api",
            _submissions.c.idempotency_key.is_not(None),
        )
    ).all()
    for row_id, key in rows:
        digest = hashlib.sha256(key.encode()).hexdigest()
        bind.execute(
            sa.update(_submissions)
            .where(_submissions.c.id == row_id)
            .values(idempotency_key=_PREFIX + digest)
        )


def downgrade() -> None:
    # A digest cannot be turned back into the client's key; the old code simply will not
    # recognise these keys as replays, which costs at most a duplicate on a straddling retry.
    pass
