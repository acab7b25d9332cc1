"""`intake-service db`: migrations."""

from __future__ import annotations

import click

from intake_service.cli.common import read_settings


@click.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to DATABASE_URL."""
    from intake_service.migrate import upgrade

    settings = read_settings()
    upgrade(settings.database_url)
    click.echo("database is at the newest migration")
