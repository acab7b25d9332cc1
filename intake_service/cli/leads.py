"""`intake-service leads export ID`, `leads delete ID`: a patient's rights from the command line."""

from __future__ import annotations

import json
import uuid

import click

from intake_service.cli import common

CLI_ACTOR_EMAIL = "command-line"


@click.group()
def leads() -> None:
    """A lead's data: export it, or delete it."""


def _lead_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise click.BadParameter(f"{raw!r} is not a lead id (a UUID)") from None


@leads.command("export")
@click.argument("lead_id")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the JSON to this file (created readable by you only) instead of stdout.",
)
def leads_export(lead_id: str, output: str | None) -> None:
    """Everything held about a lead, as JSON (decrypted: it is for the patient). Audited."""
    from pathlib import Path

    from intake_service.domain.compliance import audit, rights
    from intake_service.security.files import private_file

    key = _lead_id(lead_id)
    database = common.database()
    try:
        with database.transaction() as session:
            document = rights.export_lead(session, key, audit.Actor(None, CLI_ACTOR_EMAIL))
    except rights.UnknownLead:
        raise click.ClickException(f"no lead has the id {key}") from None
    finally:
        database.dispose()
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    if output is None:
        click.echo(text)
        return
    path = Path(output)
    private_file(path)  # health information: 0600 before a byte is written
    path.write_text(text + "\n")
    click.echo(f"wrote the export of lead {key} to {path}", err=True)


@leads.command("delete")
@click.argument("lead_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def leads_delete(lead_id: str, yes: bool) -> None:
    """Delete a lead and all its data; its consent ledger is kept as proof. Audited."""
    from intake_service.domain.compliance import audit, rights

    key = _lead_id(lead_id)
    if not yes:
        click.confirm(
            f"Delete lead {key} and everything about it (its consent ledger is kept)?",
            abort=True,
        )
    database = common.database()
    try:
        with database.transaction() as session:
            deleted = rights.delete_lead(session, key, audit.Actor(None, CLI_ACTOR_EMAIL))
    except rights.UnknownLead:
        raise click.ClickException(f"no lead has the id {key}") from None
    finally:
        database.dispose()
    rows = sum(deleted.values())
    click.echo(f"deleted lead {key}: {rows} rows; its consent ledger is kept in consent_archive")
