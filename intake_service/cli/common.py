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

    return Database.from_settings(settings or read_settings())
