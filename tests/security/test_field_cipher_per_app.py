"""Field encryption belongs to each app's database, not to the process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask

from intake_service.cli.common import database as cli_database
from intake_service.config import Settings
from intake_service.db import Database
from intake_service.domain import intake
from intake_service.models import Submission
from intake_service.security.encryption import FieldCipher


def submit_message(app: Flask, text: str) -> None:
    contact = intake.Contact(first_name="Jane", email="jane@patients.example")
    intake.submit(
        app.extensions["intake.db"], intake.SubmissionInput("contact", contact, message=text)
    )


def stored(db: Database) -> tuple[str | None, str]:
    """The message as the app reads it, and the ciphertext the database holds."""
    with db.session() as session:
        message = session.scalars(sa.select(Submission.message)).one()
        token = session.execute(sa.text("SELECT message FROM submissions")).scalar_one()
    return message, token


def test_two_apps_in_one_process_each_read_and_write_with_their_own_keys(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app_a = make_app(FIELD_ENCRYPTION_KEYS=key_a)
    # Made second: with one process-wide cipher, app A would now write with key B.
    app_b = make_app(FIELD_ENCRYPTION_KEYS=key_b, DATABASE_URL=f"sqlite:///{tmp_path / 'b.sqlite'}")

    submit_message(app_a, "Evenings after six.")
    submit_message(app_b, "Mornings only.")

    message_a, token_a = stored(app_a.extensions["intake.db"])
    message_b, token_b = stored(app_b.extensions["intake.db"])
    assert (message_a, message_b) == ("Evenings after six.", "Mornings only.")
    assert FieldCipher((key_a,)).decrypt(token_a) == "Evenings after six."
    assert FieldCipher((key_b,)).decrypt(token_b) == "Mornings only."
    with pytest.raises(ValueError, match="could not be read"):
        FieldCipher((key_b,)).decrypt(token_a)


def test_database_opened_without_keys_refuses_encrypted_columns_clearly(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    submit_message(app, "Evenings after six.")
    bare = Database(app.extensions["intake.db"].url)
    try:
        with bare.session() as session:
            assert session.execute(sa.text("SELECT count(*) FROM submissions")).scalar() == 1
            with pytest.raises(RuntimeError, match="without field encryption keys"):
                session.scalars(sa.select(Submission.message)).one()
    finally:
        bare.dispose()


def test_command_line_database_reads_with_the_settings_keys(
    make_app: Callable[..., Flask], make_settings: Callable[..., Settings]
) -> None:
    key = Fernet.generate_key().decode()
    submit_message(make_app(FIELD_ENCRYPTION_KEYS=key), "Evenings after six.")
    make_app(FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode())  # another app, other keys

    db = cli_database(make_settings(FIELD_ENCRYPTION_KEYS=key))
    try:
        assert stored(db)[0] == "Evenings after six."
    finally:
        db.dispose()
