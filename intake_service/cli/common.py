"""What every command needs: settings read once, and the database without the web app."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from intake_service.config import ConfigError, Settings

if TYPE_CHECKING:
    from intake_service.db import Database


def read_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def database(settings: Settings | None = None) -> Database:
    """The database alone, for commands that need no web app or broker."""
    from intake_service.db import Database
    from intake_service.security.blind_index import BlindIndex, bind_blind_index
    from intake_service.security.encryption import configure_field_encryption

    settings = settings or read_settings()
    configure_field_encryption(settings.field_encryption_keys)
    database = Database(settings.database_url)
    bind_blind_index(database.engine, BlindIndex.from_settings(settings))
    return database
