"""Shared fixtures: settings, an app on SQLite or on PostgreSQL, Redis queues.

Every test gets its own database: SQLite in tmp_path, or a PostgreSQL database cloned from a
template migrated once per session with `alembic upgrade head`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from intake_service import create_app
from intake_service.config import Settings
from intake_service.db import Database
from intake_service.migrate import upgrade
from intake_service.security.files import private_sqlite_database
from tests.support.services import (
    PostgresServer,
    RedisServer,
    postgres_for_tests,
    redis_for_tests,
    unique_name,
)

pytest_plugins = [
    "tests.support.smtp_server",
    "tests.support.twilio_standin",
    "tests.support.guards",
]

TEST_FERNET_KEY = Fernet.generate_key().decode()


def base_env(instance: Path, **overrides: str) -> dict[str, str]:
    """A complete test environment: embedded parts, no outside services, fixed keys."""
    env = {
        "APP_ENV": "test",
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test-secret-key-0123456789",
        "FIELD_ENCRYPTION_KEYS": TEST_FERNET_KEY,
        "DATABASE_URL": f"sqlite:///{instance / 'intake.sqlite'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{instance / 'broker.sqlite'}",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        "MAIL_FROM": "Sunrise Clinic <intake@sunrise.example>",
        "TEAM_EMAILS": "team@sunrise.example",
        "CLINIC_NAME": "Sunrise Clinic",
        "CLINIC_PHONE": "(310) 555-0100",
        "CLINIC_ADDRESS": "100 Main St, Los Angeles, CA 90001",
        "CLINIC_TIMEZONE": "America/Los_Angeles",
        # Tests run at any hour: the window is tested where it is the subject, with its own clock.
        "QUIET_HOURS_ENABLED": "false",
        # Suites post one person's form many times over; the cap is tested where it is the
        # subject (tests/web/test_contact_limit.py).
        "SUBMISSIONS_PER_CONTACT_PER_HOUR": "0",
    }
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL the tests use: the machine's, or a private one (tests/support/services.py)."""
    with postgres_for_tests() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The Redis the tests use: the machine's, or a private one (tests/support/services.py)."""
    with redis_for_tests(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def pg_template(postgres_server: PostgresServer) -> Iterator[str]:
    """A PostgreSQL database migrated to head once; each test clones it."""
    name = unique_name("intake_tpl")
    upgrade(postgres_server.create_database(name))
    yield name
    postgres_server.drop_database(name)


@pytest.fixture
def pg_url(postgres_server: PostgresServer, pg_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database at head, for this test only."""
    name = unique_name("intake_test")
    url = postgres_server.create_database(name, template=pg_template)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a test; keyword arguments override environment variables by name."""

    def make(**overrides: str) -> Settings:
        return Settings.from_env(base_env(tmp_path / "instance", **overrides))

    return make


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once per run; each test starts from a copy.

    Running every migration costs about half a second per test, which over the suite's SQLite
    apps is most of CI's time; the migrations themselves are tested in tests/migrations.
    """
    path = tmp_path_factory.mktemp("sqlite-template") / "intake.sqlite"
    upgrade(f"sqlite:///{path}")
    return path


def migrated(database_url: str, template: Path) -> None:
    """Bring a test's database to head: a copy of the template for a new SQLite file."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix):
        target = Path(database_url.removeprefix(prefix))
        if not target.exists():
            # Made as the service makes its own: a 0600 file in a 0700 folder.
            private_sqlite_database(target)
            shutil.copyfile(template, target)
            return
    upgrade(database_url)


@pytest.fixture
def make_app(
    make_settings: Callable[..., Settings], sqlite_template: Path
) -> Iterator[Callable[..., Flask]]:
    """Build an app on a migrated database; keyword arguments override environment variables."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        settings = make_settings(**overrides)
        migrated(settings.database_url, sqlite_template)
        app = create_app(settings)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["intake.db"].dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'intake.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """An app on SQLite with CSRF off, for tests that post forms directly."""
    application = make_app()
    application.config["WTF_CSRF_ENABLED"] = False
    return application


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Database:
    database: Database = app.extensions["intake.db"]
    return database


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("APP_ENV", "test")
