"""`intake-service messages`: dead letters, listed, shown, retried or dismissed."""

from __future__ import annotations

import click

from intake_service.cli.common import database


@click.group()
def messages() -> None:
    """Dead letters: messages that failed for good."""


@messages.command("failed")
@click.option("--all", "include_dismissed", is_flag=True, help="Include dismissed ones.")
def messages_failed(include_dismissed: bool) -> None:
    """List failed messages, newest first."""
    from intake_service.domain.outreach import dead_letters

    letters = dead_letters.failed(database(), include_dismissed)
    if not letters:
        click.echo("no failed messages")
    for letter in letters:
        when = letter.failed_at.strftime("%Y-%m-%d %H:%M:%S") if letter.failed_at else "-"
        flag = " (dismissed)" if letter.dismissed else ""
        click.echo(
            f"{letter.id:>7}  {when}  {letter.about}  {letter.audience} {letter.channel} "
            f"{letter.template_key}  attempts {letter.attempts}  {letter.last_error}{flag}"
        )


@messages.command("show")
@click.argument("message_id", type=int)
def messages_show(message_id: int) -> None:
    """Show a failed message and every attempt at it."""
    from intake_service.domain.outreach import dead_letters

    try:
        letter, attempts = dead_letters.history(database(), message_id)
    except dead_letters.NotADeadLetter as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"message {letter.id}: {letter.audience} {letter.channel} {letter.template_key}")
    click.echo(f"{letter.about}; last error: {letter.last_error}")
    for attempt in attempts:
        click.echo(
            f"  attempt {attempt.number}  {attempt.started_at:%Y-%m-%d %H:%M:%S}  "
            f"{attempt.outcome or 'unfinished'}  {attempt.detail or ''}".rstrip()
        )


@messages.command("retry")
@click.argument("message_id", type=int)
def messages_retry(message_id: int) -> None:
    """Schedule a failed message again, due now."""
    from intake_service.domain.outreach import dead_letters

    try:
        dead_letters.retry(database(), message_id)
    except (dead_letters.NotADeadLetter, dead_letters.CannotRetry) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"message {message_id} is planned again; a worker takes it within seconds")


@messages.command("dismiss")
@click.argument("message_id", type=int)
def messages_dismiss(message_id: int) -> None:
    """Mark a failed message as dealt with; it keeps its history."""
    from intake_service.domain.outreach import dead_letters

    try:
        dead_letters.dismiss(database(), message_id)
    except dead_letters.NotADeadLetter as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"message {message_id} dismissed")
