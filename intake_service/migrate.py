"""Apply Alembic migrations programmatically (intake-service db upgrade, tests, run)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from intake_service.paths import migrations_root


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_root()))
    # Passed as an attribute, not an ini option: configparser would choke on '%' in passwords.
    config.attributes["url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` to `revision`."""
    command.upgrade(alembic_config(database_url), revision)
