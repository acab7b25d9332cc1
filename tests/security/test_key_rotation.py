"""`intake-service keys rotate`: everything re-encrypted under the newest key, in batches,
resumably, with the rows remaining said as it goes; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.fernet import Fernet, InvalidToken

from intake_service import create_app
from intake_service.cli import main
from intake_service.config import Settings
from intake_service.db import Base, Database, utcnow
from intake_service.domain.compliance.keys import field_key_rotation
from intake_service.migrate import upgrade
from intake_service.models import DevMailboxEntry, LeadEvent, Message, Submission, Triage, User
from intake_service.security.rotation import encrypted_tables
from tests.conftest import base_env
from tests.support import factories

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
LOST = Fernet.generate_key().decode()
SECRET_WORDS = "I have felt hopeless since spring"


def env_for(tmp_path: Path, url: str, keys: str) -> dict[str, str]:
    return base_env(tmp_path / "instance", DATABASE_URL=url, FIELD_ENCRYPTION_KEYS=keys)


def app_db(env: dict[str, str]) -> tuple[Any, Database]:
    app = create_app(Settings.from_env(env))
    return app, app.extensions["intake.db"]


def fill(db: Database, leads: int = 3) -> None:
    """Leads with every kind of encrypted field: answers, messages, notes, bodies, triage, TOTP."""
    with db.transaction() as session:
        staff = factories.user(session, "clinician", totp_secret="JBSWY3DPEHPK3PXP")
        for n in range(leads):
            lead = factories.lead(
                session,
                message=f"{SECRET_WORDS} ({n})",
                answers={"items": [1, 2, 3]},
                triage={"reasons": ["core_tms_indication"], "candidacies": {"tms": "likely"}},
            )
            factories.message(session, lead, channel="email", subject="Hello", body_text="Body")
            factories.lead_event(session, lead, "note_added", utcnow(), staff, note=f"note {n}")
        session.add(
            DevMailboxEntry(
                created_at=utcnow(),
                channel="email",
                provider_id="p1",
                sender="a@b.example",
                recipient="c@d.example",
                subject="s",
                body_text="t",
                body_html="<p>h</p>",
                headers={},
            )
        )


def raw_tokens(db: Database) -> list[str]:
    tokens = []
    with db.engine.connect() as connection:
        for table in encrypted_tables(Base.metadata):
            for row in connection.execute(sa.select(*(table.raw.c[c] for c in table.columns))):
                tokens.extend(t for t in row if t is not None)
    return tokens


def readable_by(key: str, token: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


@pytest.fixture
def url(backend_url: str) -> str:
    upgrade(backend_url)
    return backend_url


def test_rotate_reencrypts_everything_in_batches_and_says_what_remains(
    tmp_path: Path, url: str
) -> None:
    _, db = app_db(env_for(tmp_path, url, OLD))
    fill(db)
    before = raw_tokens(db)
    db.dispose()
    assert before and all(readable_by(OLD, t) for t in before)

    result = CliRunner().invoke(
        main, ["keys", "rotate", "--batch-size", "2"], env=env_for(tmp_path, url, f"{NEW},{OLD}")
    )

    assert result.exit_code == 0, result.output
    remaining = [int(n) for n in re.findall(r"; (\d+) rows remain", result.output)]
    assert len(remaining) > 3, result.output  # batch by batch
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] == 0
    assert re.search(r"^\d+ rows hold data under an older key", result.output, re.MULTILINE)
    assert "the older keys can now be removed" in result.output
    _, fresh = app_db(env_for(tmp_path, url, NEW))  # the old key gone
    try:
        after = raw_tokens(fresh)
        assert len(after) == len(before)
        assert all(readable_by(NEW, t) and not readable_by(OLD, t) for t in after)
        with fresh.session() as session:
            messages = sorted(s.message for s in session.scalars(sa.select(Submission)))
            assert messages[0] == f"{SECRET_WORDS} (0)"
            assert session.scalars(sa.select(Submission)).first().answers == {"items": [1, 2, 3]}  # type: ignore[union-attr]
            assert {e.note for e in session.scalars(sa.select(LeadEvent))} >= {"note 0"}
            assert session.scalars(sa.select(Message)).first().body_text == "Body"  # type: ignore[union-attr]
            assert session.scalars(sa.select(Triage)).first().reasons == ["core_tms_indication"]  # type: ignore[union-attr]
            assert session.scalars(sa.select(User)).one().totp_secret == "JBSWY3DPEHPK3PXP"
            assert session.scalars(sa.select(DevMailboxEntry)).one().body_html == "<p>h</p>"
            audit = session.execute(
                sa.text("SELECT detail FROM audit_events WHERE kind = 'keys.rotated'")
            ).scalar_one()
        assert "rotated" in str(audit)
        status = CliRunner().invoke(main, ["keys", "status"], env=env_for(tmp_path, url, NEW))
        assert status.exit_code == 0 and "0 rows remain to re-encrypt" in status.output
    finally:
        fresh.dispose()


def test_an_interrupted_rotation_resumes_where_it_stopped(tmp_path: Path, url: str) -> None:
    _, db = app_db(env_for(tmp_path, url, OLD))
    fill(db, leads=4)
    db.dispose()
    _, db = app_db(env_for(tmp_path, url, f"{NEW},{OLD}"))
    rotation = field_key_rotation(db, (NEW, OLD), batch_size=2)
    initial = sum(rotation.stale().values())

    class Stop(Exception):
        pass

    def stop_after_first_batch(_table: str, done: int, _remaining: int) -> None:
        if done:
            raise Stop

    with pytest.raises(Stop):
        rotation.rotate(stop_after_first_batch)
    halfway = sum(rotation.stale().values())
    assert 0 < halfway < initial  # the first batch was committed, the rest not yet touched

    report = rotation.rotate()

    assert report.total_rotated == halfway  # done rows were skipped, not rewritten
    assert sum(rotation.stale().values()) == 0
    db.dispose()


def test_rows_under_a_key_no_longer_configured_are_reported_not_lost(
    tmp_path: Path, url: str
) -> None:
    _, db = app_db(env_for(tmp_path, url, LOST))
    with db.transaction() as session:
        factories.lead(session, message="written under a key that was thrown away")
    db.dispose()
    _, db = app_db(env_for(tmp_path, url, OLD))
    fill(db, leads=1)
    db.dispose()

    result = CliRunner().invoke(
        main, ["keys", "rotate"], env=env_for(tmp_path, url, f"{NEW},{OLD}")
    )

    assert result.exit_code == 1
    assert "1 rows could not be read with any configured key" in result.output
    _, db = app_db(env_for(tmp_path, url, NEW))
    lost = [t for t in raw_tokens(db) if readable_by(LOST, t)]
    assert len(lost) == 1  # left exactly as it was
    db.dispose()


def test_a_concurrent_edit_is_not_overwritten(tmp_path: Path, url: str) -> None:
    _, db = app_db(env_for(tmp_path, url, f"{NEW},{OLD}"))
    with db.transaction() as session:
        lead = factories.lead(session, message="old text")
        lead_id = lead.id
    rotation = field_key_rotation(db, (NEW, OLD))
    (table,) = [t for t in rotation.tables if t.name == "submissions"]
    with db.engine.connect() as connection:
        (row,) = connection.execute(table.rows_after(None, 10)).all()
    old_token = Fernet(OLD.encode()).encrypt(b'"stale"').decode()
    # The row as the rotation read it held an old token; the app has since written new text.
    stale_row = (row[0], Fernet(OLD.encode()).encrypt(b"{}").decode(), old_token)
    with db.engine.begin() as connection:
        assert rotation._rotate_row(connection, table, stale_row) == "current"
    with db.session() as session:
        (submission,) = session.scalars(
            sa.select(Submission).where(Submission.lead_id == lead_id)
        ).all()
        assert submission.message == "old text"
    db.dispose()


def test_every_encrypted_column_is_found() -> None:
    found = {(t.name, c) for t in encrypted_tables(Base.metadata) for c in t.columns}
    assert {
        ("submissions", "answers"),
        ("submissions", "message"),
        ("lead_events", "note"),
        ("messages", "body_text"),
        ("triages", "reasons"),
        ("users", "totp_secret"),
        ("dev_mailbox", "body_html"),
    } <= found
    assert not any(table == "leads" for table, _ in found)
