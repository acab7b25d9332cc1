"""Apply Alembic migrations programmatically (intake-service db upgrade, tests, run)."""

from __future__ import annotations

import functools

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from intake_service.paths import migrations_root

# Alembic's default table: env.py names no other.
VERSION_TABLE = "alembic_version"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_root()))
    # Passed as an attribute, not an ini option: configparser would choke on '%' in passwords.
    config.attributes["url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


@functools.cache
def code_heads() -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this code; read once per process."""
    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())


def database_heads(engine: Engine) -> frozenset[str]:
    """The revision(s) the database is at (empty before its first upgrade).

    Read from Alembic's own table rather than through a MigrationContext, which logs two lines
    each time: readiness is polled every few seconds.
    """
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return frozenset()
        return frozenset(
            connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        )
