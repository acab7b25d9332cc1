"""`intake-service keys ...`: re-encrypt under the newest field key; rebuild the blind index."""

from __future__ import annotations

import click

from intake_service.cli import common
from intake_service.security.rotation import DEFAULT_BATCH

CLI_ACTOR_EMAIL = "command-line"


@click.group()
def keys() -> None:
    """Encryption keys over stored data."""


def _progress(table: str, done: int, remaining: int) -> None:
    click.echo(f"{table}: {done} rows rewritten; {remaining} rows remain")


@keys.command("rotate")
@click.option("--batch-size", default=DEFAULT_BATCH, show_default=True, type=click.IntRange(1))
def keys_rotate(batch_size: int) -> None:
    """Re-encrypt every encrypted field under the first FIELD_ENCRYPTION_KEYS key.

    Resumable: stopped halfway, run it again; rows already under the newest key are skipped.
    """
    from intake_service.domain.compliance import audit
    from intake_service.domain.compliance.keys import field_key_rotation, rotate_field_keys

    settings = common.read_settings()
    database = common.database(settings)
    try:
        stale = sum(field_key_rotation(database, settings.field_encryption_keys).stale().values())
        click.echo(f"{stale} rows hold data under an older key")
        report = rotate_field_keys(
            database,
            settings.field_encryption_keys,
            audit.Actor(None, CLI_ACTOR_EMAIL),
            batch_size,
            _progress,
        )
    finally:
        database.dispose()
    click.echo(f"done: {report.total_rotated} rows re-encrypted under the newest key; 0 remain")
    if report.total_unreadable:
        raise click.ClickException(
            f"{report.total_unreadable} rows could not be read with any configured key and were "
            "left as they are; add the key they were written with to FIELD_ENCRYPTION_KEYS"
        )
    if len(settings.field_encryption_keys) > 1:
        click.echo("the older keys can now be removed from FIELD_ENCRYPTION_KEYS")


@keys.command("status")
def keys_status() -> None:
    """Count rows still encrypted under an older key (reads only)."""
    from intake_service.domain.compliance.keys import field_key_rotation

    settings = common.read_settings()
    database = common.database(settings)
    try:
        stale = field_key_rotation(database, settings.field_encryption_keys).stale()
    finally:
        database.dispose()
    for table, count in stale.items():
        if count:
            click.echo(f"{table}: {count} rows under an older key")
    click.echo(f"{sum(stale.values())} rows remain to re-encrypt")


@keys.command("reindex")
@click.option("--batch-size", default=DEFAULT_BATCH, show_default=True, type=click.IntRange(1))
def keys_reindex(batch_size: int) -> None:
    """Recompute the blind index of phones and emails (after BLIND_INDEX_KEY or SECRET_KEY
    changed)."""
    from intake_service.domain.compliance import audit
    from intake_service.domain.compliance.keys import reindex_contacts

    database = common.database()
    try:
        rows = reindex_contacts(database, audit.Actor(None, CLI_ACTOR_EMAIL), batch_size, _progress)
    finally:
        database.dispose()
    click.echo(f"done: {rows} rows reindexed")
