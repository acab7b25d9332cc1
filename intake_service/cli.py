"""`intake-service`: run the whole service, migrate the database, load the default templates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import click

from intake_service.config import ConfigError, Settings

if TYPE_CHECKING:
    from intake_service.db import Database


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.group()
def main() -> None:
    """Lead intake for interventional psychiatry clinics."""


@main.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to DATABASE_URL."""
    from intake_service.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    click.echo("database is at the newest migration")


@main.group()
def templates() -> None:
    """Message template commands."""


@templates.command("load")
def templates_load() -> None:
    """Load the default message templates from templates/messages/ as new versions."""
    saved = _load_templates(_settings())
    if not saved:
        click.echo("templates unchanged: the database already has every default")
    for line in saved:
        click.echo(f"loaded {line}")


def _load_templates(settings: Settings) -> list[str]:
    from intake_service.domain import sequences
    from intake_service.domain.templates import load_defaults

    database = _database(settings)
    try:
        with database.transaction() as session:
            versions = load_defaults(session)
            saved = [f"{v.template.key} ({v.template.channel}) v{v.version}" for v in versions]
            # Sequences name templates, so they load after them.
            saved += [f"sequence for {t}" for t in sequences.load_defaults(session)]
    finally:
        database.dispose()
    return saved


@main.group()
def messages() -> None:
    """Dead letters: messages that failed for good."""


def _database(settings: Settings | None = None) -> Database:
    """The database alone, for commands that need no web app or broker."""
    from intake_service.db import Database
    from intake_service.security import configure_field_encryption

    settings = settings or _settings()
    configure_field_encryption(settings.field_encryption_keys)
    return Database(settings.database_url)


@messages.command("failed")
@click.option("--all", "include_dismissed", is_flag=True, help="Include dismissed ones.")
def messages_failed(include_dismissed: bool) -> None:
    """List failed messages, newest first."""
    from intake_service.domain import dead_letters

    letters = dead_letters.failed(_database(), include_dismissed)
    if not letters:
        click.echo("no failed messages")
    for letter in letters:
        when = letter.failed_at.strftime("%Y-%m-%d %H:%M:%S") if letter.failed_at else "-"
        flag = " (dismissed)" if letter.dismissed else ""
        click.echo(
            f"{letter.id:>7}  {when}  lead {letter.lead_id}  {letter.audience} {letter.channel} "
            f"{letter.template_key}  attempts {letter.attempts}  {letter.last_error}{flag}"
        )


@messages.command("show")
@click.argument("message_id", type=int)
def messages_show(message_id: int) -> None:
    """Show a failed message and every attempt at it."""
    from intake_service.domain import dead_letters

    try:
        letter, attempts = dead_letters.history(_database(), message_id)
    except dead_letters.NotADeadLetter as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"message {letter.id}: {letter.audience} {letter.channel} {letter.template_key}")
    click.echo(f"lead {letter.lead_id}; last error: {letter.last_error}")
    for attempt in attempts:
        click.echo(
            f"  attempt {attempt.number}  {attempt.started_at:%Y-%m-%d %H:%M:%S}  "
            f"{attempt.outcome or 'unfinished'}  {attempt.detail or ''}".rstrip()
        )


@messages.command("retry")
@click.argument("message_id", type=int)
def messages_retry(message_id: int) -> None:
    """Schedule a failed message again, due now."""
    from intake_service.domain import dead_letters

    try:
        dead_letters.retry(_database(), message_id)
    except (dead_letters.NotADeadLetter, dead_letters.CannotRetry) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"message {message_id} is planned again; a worker takes it within seconds")


@messages.command("dismiss")
@click.argument("message_id", type=int)
def messages_dismiss(message_id: int) -> None:
    """Mark a failed message as dealt with; it keeps its history."""
    from intake_service.domain import dead_letters

    try:
        dead_letters.dismiss(_database(), message_id)
    except dead_letters.NotADeadLetter as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"message {message_id} dismissed")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
def run(host: str, port: int) -> None:
    """Run web, one worker and the scheduler together (the embedded default unless configured)."""
    from werkzeug.serving import make_server

    from intake_service import create_app
    from intake_service.migrate import upgrade

    settings = _settings()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    _load_templates(settings)
    app = create_app(settings)

    # The worker is a child process reading the same environment, with the instance path
    # pinned so it finds the same SQLite files and generated keys whatever its directory.
    env = {**os.environ, "INSTANCE_PATH": str(settings.instance_path)}
    worker = subprocess.Popen(  # noqa: S603  (fixed argument list, no shell)
        [
            sys.executable, "-m", "celery", "-A", "worker", "worker", "--beat",
            "--pool", "threads", "--concurrency", "4", "--loglevel", "INFO",
            "--schedule", str(settings.instance_path / "celerybeat-schedule"),
        ],
        env=env,
    )  # fmt: skip
    server = make_server(host, port, app, threaded=True)
    base = f"http://{host}:{port}"
    mode = "embedded default" if settings.embedded else "configured services"
    click.echo(f"\nintake-service is running ({mode})")
    click.echo(f"  contact form:   {base}/contact")
    click.echo(f"  TMS self-screen: {base}/screening/tms")
    if settings.smtp is None or settings.twilio is None:
        click.echo(f"  dev outbox:     {base}/dev/outbox  (mail and texts land here)")
    click.echo("Press Ctrl-C to stop.\n")

    def watch_worker() -> None:
        code = worker.wait()
        if code not in (0, -signal.SIGTERM):
            click.echo(f"the worker stopped unexpectedly (exit {code}); stopping", err=True)
        server.shutdown()

    threading.Thread(target=watch_worker, daemon=True).start()

    def stop(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        _stop_worker(worker)
        server.server_close()
        click.echo("stopped")


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)  # warm shutdown: finish the task in hand
    try:
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
