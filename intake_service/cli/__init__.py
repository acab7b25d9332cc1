"""`intake-service`: one command group; each area's commands live in a module of this package."""

from __future__ import annotations

import click

from intake_service.cli import database, keys, leads, messages, run, templates, triage, users


@click.group()
def main() -> None:
    """Lead intake for interventional psychiatry clinics."""


main.add_command(database.db)
main.add_command(templates.templates)
main.add_command(messages.messages)
main.add_command(run.run)
main.add_command(users.users)
main.add_command(triage.triage)
main.add_command(keys.keys)
main.add_command(leads.leads)
