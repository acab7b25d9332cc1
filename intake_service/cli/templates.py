"""`intake-service templates`: load the shipped message templates and sequences."""

from __future__ import annotations

import click

from intake_service.cli.common import database, read_settings
from intake_service.config import Settings


@click.group()
def templates() -> None:
    """Message template commands."""


@templates.command("load")
def templates_load() -> None:
    """Load the default message templates from templates/messages/ (English, and each locale's
    subfolder) as new versions; a version an admin saved is never replaced."""
    saved = load_templates(read_settings())
    for line in long_texts():
        click.echo(f"warning: {line}", err=True)
    if not saved:
        click.echo("templates unchanged: the database already has every default")
    for line in saved:
        click.echo(f"loaded {line}")


def long_texts() -> list[str]:
    """Warnings for default text templates over two segments."""
    from intake_service.channels import kind
    from intake_service.domain.templates import length
    from intake_service.domain.templates.versions import read_defaults

    texts = (d for d in read_defaults() if kind(d.channel).billed_by_segments)
    found = (length.warning(d.key, d.source, d.locale) for d in texts)
    return [w for w in found if w]


def load_templates(settings: Settings) -> list[str]:
    from intake_service.domain.outreach import sequences
    from intake_service.domain.templates.versions import load_defaults

    db = database(settings)
    try:
        with db.transaction() as session:
            versions = load_defaults(session)
            saved = [
                f"{v.template.key} ({v.template.channel}, {v.template.locale}) v{v.version}"
                for v in versions
            ]
            # Sequences name templates, so they load after them.
            saved += [f"sequence for {t}" for t in sequences.load_defaults(session)]
    finally:
        db.dispose()
    return saved
