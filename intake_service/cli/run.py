"""`intake-service run`: web, one worker and the scheduler together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from intake_service import embedded_broker
from intake_service.cli.common import read_settings
from intake_service.cli.templates import load_templates
from intake_service.config import Settings

if TYPE_CHECKING:
    from flask import Flask

# How long the watcher waits, when the worker exits, for the stop that explains it: a Ctrl-C
# in a terminal reaches the worker and this process at the same moment, and the worker's warm
# shutdown (exit 1 on SIGINT) can finish before this process's handler has run.
STOP_GRACE_SECONDS = 2.0


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
def run(host: str, port: int) -> None:
    """Run web, one worker and the scheduler together (the embedded default unless configured)."""
    from werkzeug.serving import make_server

    from intake_service import create_app
    from intake_service.migrate import upgrade

    settings = read_settings()
    from intake_service.security.files import private_directory, private_sqlite_database

    private_directory(settings.instance_path)
    embedded = settings.database_url.startswith("sqlite") and settings.broker_url.startswith(
        embedded_broker.URL_PREFIX
    )
    # Held until this process and its worker have both exited (the worker inherits it).
    instance_lock = hold_instance(settings.instance_path) if embedded else None
    if settings.broker_url.startswith(embedded_broker.URL_PREFIX):
        # The embedded broker's queue holds only ids, but keep it as private as the database.
        private_sqlite_database(embedded_broker.database_path(settings.broker_url))
    upgrade(settings.database_url)
    load_templates(settings)
    app = create_app(settings)
    if embedded:
        recover_interrupted(app, settings)

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
        pass_fds=() if instance_lock is None else (instance_lock,),
    )  # fmt: skip
    from intake_service.web.security_headers import BannerlessRequestHandler

    server = make_server(host, port, app, threaded=True, request_handler=BannerlessRequestHandler)
    click.echo("\n".join(banner(settings, f"http://{host}:{port}")))
    stopping = threading.Event()

    def watch_worker() -> None:
        code = worker.wait()
        if not stopping.wait(STOP_GRACE_SECONDS):
            click.echo(f"the worker stopped unexpectedly (exit {code}); stopping", err=True)
        server.shutdown()

    threading.Thread(target=watch_worker, daemon=True).start()

    def stop(*_: Any) -> None:
        stopping.set()  # first: whatever the worker does from now on was asked for
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stopping.set()
        _stop_worker(worker)
        server.server_close()
        click.echo("stopped")


def hold_instance(instance_path: Path) -> int:
    """Lock the instance folder for this run (an flock, released when the last holder exits).

    The recovery at start assumes that nothing else works on the instance's files: a second
    `run` on the same folder would take back what the first one's worker holds.
    """
    import fcntl

    descriptor = os.open(instance_path / "run.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise click.ClickException(
            f"another intake-service run (or its worker) is using {instance_path}; stop it first"
        ) from None
    return descriptor


def recover_interrupted(app: Flask, settings: Settings) -> None:
    """After a crash or a kill, hand on at once what the last run left half done.

    Before this run's worker starts, on the embedded default only: its SQLite files are this
    run's alone, so nothing else is working on them, and whatever a worker had taken, was
    sending, or a request had not yet published belongs to processes that are gone. The
    database's sweeps would find all of it too, but only after their delays (minutes).
    """
    import datetime as dt

    from intake_service.broker import current_broker
    from intake_service.db import get_db
    from intake_service.domain.events import outbox
    from intake_service.domain.outreach import scheduler

    restored = embedded_broker.restore_taken(settings.broker_url)
    with app.app_context():
        door = current_broker()
        handed = scheduler.hand_to_workers(
            door, scheduler.claim_abandoned(get_db(), settings.delivery)
        )
        republish_after = dt.timedelta(seconds=settings.outbox_republish_after)
        published = outbox.sweep(get_db(), republish_after, door)
    if restored or handed or published:
        click.echo(
            f"resuming after an interrupted run: {restored} tasks queued again, "
            f"{handed} messages handed on, {published} leads published"
        )


def banner(settings: Settings, base: str) -> list[str]:
    """What `run` prints on start: where the pages are, and the dev mailbox where one is used."""
    from intake_service.domain import dev_mailbox

    mode = "embedded default" if settings.embedded else "configured services"
    lines = [
        f"\nintake-service is running ({mode})",
        f"  contact form:    {base}/contact",
        f"  TMS self-screen: {base}/screening/tms",
    ]
    # The same test as the pages themselves: never in production, where they do not exist.
    if dev_mailbox.available(settings):
        lines.append(f"  dev mailbox:     {base}/dev/mailbox  (mail and texts land here)")
    lines.append("Press Ctrl-C to stop.\n")
    return lines


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)  # warm shutdown: finish the task in hand
    try:
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
