"""`intake-service messages failed|show|retry|dismiss`: dead letters seen and handled by a person.

Each test runs the real command line (click's CliRunner against `intake_service.cli:main`) with
an environment pointing at a migrated SQLite database in tmp_path, where a team email failed
for good against a real SMTP server.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from intake_service.cli import main
from intake_service.db import Database
from intake_service.models import Lead, Message, MessageStatus
from tests.conftest import base_env
from tests.domain.builders import (
    attempts_of,
    database,
    deliver,
    find,
    load_templates,
    message,
    process,
    submit,
)
from tests.support.smtp_server import SmtpServer


@dataclass
class DeadLetterSetup:
    app: Flask
    env: dict[str, str]
    message_id: int
    lead_id: str

    @property
    def db(self) -> Database:
        return database(self.app)

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["messages", *args], env=self.env)


@pytest.fixture
def dead_letter(
    make_app: Callable[..., Flask], smtp_server: SmtpServer, tmp_path: Path
) -> DeadLetterSetup:
    """A team email the relay deferred once too often (DELIVERY_MAX_ATTEMPTS=1): failed."""
    knobs = {"SMTP_URL": smtp_server.url, "SMTP_TIMEOUT": "2", "DELIVERY_MAX_ATTEMPTS": "1"}
    app = make_app(**knobs)  # migrates the database the command line will read
    load_templates(database(app))
    lead_id = submit(app)
    process(app, lead_id)
    team = find(app, lead_id, "first", "email", audience="team")
    smtp_server.reject_next(451, stage="rcpt")
    assert deliver(app, team.id).status == MessageStatus.FAILED
    # make_app reads base_env(tmp_path / "instance"): the same database, keys and instance.
    return DeadLetterSetup(app, base_env(tmp_path / "instance", **knobs), team.id, str(lead_id))


REASON = "gave up after 1 attempts: recipient_deferred"


def listed_ids(output: str) -> list[int]:
    return [int(line.split()[0]) for line in output.splitlines() if re.match(r"^\s*\d+\s", line)]


def test_failed_lists_the_message_with_its_reason(dead_letter: DeadLetterSetup) -> None:
    result = dead_letter.run("failed")

    assert result.exit_code == 0, result.output
    assert listed_ids(result.output) == [dead_letter.message_id]
    (line,) = result.output.splitlines()
    assert f"lead {dead_letter.lead_id}" in line
    assert "team email team_new_lead" in line
    assert "attempts 1" in line
    assert line.endswith(REASON)


def test_show_prints_the_attempt_history(dead_letter: DeadLetterSetup) -> None:
    result = dead_letter.run("show", str(dead_letter.message_id))

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"message {dead_letter.message_id}: team email team_new_lead"
    assert lines[1] == f"lead {dead_letter.lead_id}; last error: {REASON}"
    assert len(lines) == 3
    assert re.fullmatch(
        r"  attempt 1  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  transient  recipient_deferred", lines[2]
    ), lines[2]


def test_retry_plans_the_message_due_now_and_the_next_delivery_sends_it(
    dead_letter: DeadLetterSetup, smtp_server: SmtpServer
) -> None:
    before = dt.datetime.now(dt.UTC)

    result = dead_letter.run("retry", str(dead_letter.message_id))

    assert result.exit_code == 0, result.output
    assert f"message {dead_letter.message_id} is planned again" in result.output
    planned = message(dead_letter.db, dead_letter.message_id)
    # Attempts keep counting (they are claim tokens); the retry ladder restarts from here.
    assert planned.status == MessageStatus.PLANNED
    assert planned.retry_base == planned.attempts == 1
    assert planned.due_at <= dt.datetime.now(dt.UTC)
    assert planned.due_at >= before - dt.timedelta(seconds=1)
    outcome = deliver(dead_letter.app, dead_letter.message_id)
    assert outcome.status == MessageStatus.SENT
    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ("team@sunrise.example",)
    assert [o for _, o, _ in attempts_of(dead_letter.db, dead_letter.message_id)] == [
        "transient",
        "sent",
    ]
    assert dead_letter.run("failed").output.strip() == "no failed messages"


def test_dismiss_hides_the_message_from_failed_but_not_from_failed_all(
    dead_letter: DeadLetterSetup,
) -> None:
    result = dead_letter.run("dismiss", str(dead_letter.message_id))

    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"message {dead_letter.message_id} dismissed"
    assert dead_letter.run("failed").output.strip() == "no failed messages"
    everything = dead_letter.run("failed", "--all")
    assert everything.exit_code == 0, everything.output
    assert listed_ids(everything.output) == [dead_letter.message_id]
    assert everything.output.rstrip().endswith(f"{REASON} (dismissed)")
    # Dismissed is looked at, not deleted: the history is still there, and it stays failed.
    assert dead_letter.run("show", str(dead_letter.message_id)).exit_code == 0
    assert message(dead_letter.db, dead_letter.message_id).status == MessageStatus.FAILED


def test_retry_of_a_dismissed_message_brings_it_back(dead_letter: DeadLetterSetup) -> None:
    dead_letter.run("dismiss", str(dead_letter.message_id))

    assert dead_letter.run("retry", str(dead_letter.message_id)).exit_code == 0

    retried = message(dead_letter.db, dead_letter.message_id)
    assert (retried.status, retried.dismissed_at) == (MessageStatus.PLANNED, None)


@pytest.mark.parametrize("command", ["show", "retry", "dismiss"])
def test_unknown_id_exits_non_zero_with_a_sentence(
    dead_letter: DeadLetterSetup, command: str
) -> None:
    result = dead_letter.run(command, "999999")

    assert result.exit_code != 0
    assert "no failed message with id 999999" in result.output
    assert "Traceback" not in result.output
    assert message(dead_letter.db, dead_letter.message_id).status == MessageStatus.FAILED


@pytest.mark.parametrize("command", ["retry", "dismiss"])
def test_a_message_that_did_not_fail_cannot_be_retried_or_dismissed(
    dead_letter: DeadLetterSetup, command: str
) -> None:
    lead_id = submit(dead_letter.app)
    process(dead_letter.app, lead_id)
    queued = find(dead_letter.app, lead_id, "first", "email")

    result = dead_letter.run(command, str(queued.id))

    assert result.exit_code != 0
    assert f"no failed message with id {queued.id}" in result.output
    after = message(dead_letter.db, queued.id)
    assert (after.status, after.dismissed_at) == (MessageStatus.QUEUED, None)


def test_id_that_is_not_a_number_is_a_usage_error(dead_letter: DeadLetterSetup) -> None:
    result = dead_letter.run("show", "latest")

    assert result.exit_code == 2
    assert "'latest' is not a valid integer" in result.output


def test_failed_on_a_database_without_failures_says_so(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    make_app()

    result = CliRunner().invoke(main, ["messages", "failed"], env=base_env(tmp_path / "instance"))

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no failed messages"


def test_retry_of_a_text_to_an_opted_out_number_is_refused_with_a_sentence(
    dead_letter: DeadLetterSetup,
) -> None:
    # Texting a number that sent STOP again would break the law, not just fail.
    with dead_letter.db.transaction() as session:
        failed = session.get_one(Message, dead_letter.message_id)
        failed.audience, failed.channel = "patient", "sms"
        session.get_one(Lead, failed.lead_id).phone_status = "opted_out"

    result = dead_letter.run("retry", str(dead_letter.message_id))

    assert result.exit_code != 0
    assert "marked opted_out" in result.output
    assert message(dead_letter.db, dead_letter.message_id).status == MessageStatus.FAILED
