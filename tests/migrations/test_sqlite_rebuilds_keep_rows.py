"""SQLite migrations rebuild tables (batch mode): rows pointing at a rebuilt table must stay.

With foreign keys on, dropping the old `leads` table while rebuilding it deletes every
submission (ON DELETE CASCADE); env.py turns the pragma off for migrations.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import sqlalchemy as sa

from intake_service.migrate import upgrade
from tests.domain.test_intake_transaction import OLD_LEADS, OLD_SUBMISSIONS

# Before the migrations that rebuild `leads` (blind index, locale, spam and routing columns).
EARLY = "b7c4e2a9d6f1"


def test_upgrading_the_embedded_database_keeps_every_submission(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'intake.sqlite'}"
    upgrade(url, EARLY)
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    lead_id = uuid.uuid4()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(OLD_LEADS).values(
                id=lead_id, created_at=now, updated_at=now, first_name="Jane", last_name="Doe",
                callback_window="any", treatment_interest="tms", status="new", urgent=False,
                source={},
            )
        )  # fmt: skip
        conn.execute(
            sa.insert(OLD_SUBMISSIONS).values(
                id=uuid.uuid4(), lead_id=lead_id, created_at=now, form="contact", via="web",
                idempotency_key="web-form:1", fingerprint="f",
            )
        )  # fmt: skip

    upgrade(url)

    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM submissions")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM leads")).scalar() == 1
    engine.dispose()
