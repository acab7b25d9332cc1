"""Dev-mode files holding patients' data or secrets are readable by the service's user only."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from intake_service.config import Settings
from intake_service.db import make_engine
from intake_service.security.files import private_directory, private_sqlite_database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> object:
    """A permissive umask, as on many shared machines, so nothing passes by luck."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_generated_secrets_and_their_folder_are_private(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = {"APP_ENV": "development", "INSTANCE_PATH": str(instance)}

    Settings.from_env(env)

    assert mode(instance) == 0o700
    for name in ("secret_key", "field_encryption_key"):
        assert mode(instance / name) == 0o600, name


def test_sqlite_database_and_its_journals_are_private(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = make_app()
    with app.test_client() as client:
        client.get("/contact")
    database = Path(app.extensions["intake.settings"].database_url.removeprefix("sqlite:///"))
    with app.extensions["intake.db"].engine.connect() as connection:
        connection.exec_driver_sql("SELECT count(*) FROM leads")
        companions = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
        assert any(p.name.endswith("-wal") for p in companions), companions
        for path in companions:
            assert mode(path) == 0o600, path.name
    assert mode(database.parent) == 0o700


def test_an_existing_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    database = tmp_path / "old.sqlite"
    database.write_text("")
    database.chmod(0o644)

    make_engine(f"sqlite:///{database}").dispose()

    assert mode(database) == 0o600


def test_a_shared_folder_is_left_alone(tmp_path: Path) -> None:
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)  # as /tmp is: narrowing it would break every other user
    private_directory(sticky)
    assert stat.S_IMODE(sticky.stat().st_mode) == 0o1777


def test_an_existing_instance_folder_of_ours_is_narrowed(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    instance.chmod(0o755)
    private_directory(instance)
    assert mode(instance) == 0o700


def test_a_database_named_outside_the_instance_leaves_its_folder_as_it_was(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    private_sqlite_database(folder / "intake.sqlite")
    assert mode(folder) == 0o755
    assert mode(folder / "intake.sqlite") == 0o600
