"""Fixtures for the fault suite: private Redis and PostgreSQL for the session, a stack per test.

The servers are the suite's own (free ports, a temporary cluster), so stopping them never
disturbs the machine's shared Redis and PostgreSQL. Each scenario gets a fresh database cloned
from a template that is migrated and has the default templates loaded once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from intake_service.migrate import upgrade
from tests.conftest import TEST_FERNET_KEY
from tests.support.processes import BIN
from tests.support.services import (
    REQUIRE_SERVICES,
    PrivatePostgres,
    PrivateRedis,
    start_private_postgres,
    unique_name,
)

from .harness import SUMMARIES, TEAM_EMAILS, Stack


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "faults: kills and restarts real processes and servers (private Redis and PostgreSQL)",
    )


@dataclass
class FaultServers:
    redis: PrivateRedis
    postgres: PrivatePostgres
    template: str

    def heal(self) -> None:
        """Bring both servers back, whatever the last scenario left stopped."""
        self.redis.start()
        if not self.postgres.running():
            self.postgres.start()


def _missing(what: str) -> NoReturn:
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is needed for the fault suite, and CI requires it")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def fault_servers() -> Iterator[FaultServers]:
    if shutil.which("redis-server") is None:
        _missing("redis-server")
    try:
        postgres = start_private_postgres()
    except LookupError:
        _missing("the PostgreSQL server (initdb, pg_ctl)")
    workdir = Path(tempfile.mkdtemp(prefix="intake-faults-"))
    redis_server = PrivateRedis(workdir)
    try:
        redis_server.start()
        template = unique_name("faults_tpl")
        url = postgres.create_database(template)
        upgrade(url)
        env = {
            "APP_ENV": "production",
            "METRICS_TOKEN": "metrics-token-0123456789abcdef",
            "QUIET_HOURS_ENABLED": "false",  # the suite runs at any hour
            # Hundreds of texts to one area code in a minute is the load under test, not pumping.
            "SMS_DAILY_CAP_PER_PREFIX": "1000000",
            "SMS_SURGE_MIN_PER_HOUR": "1000000",
            "INSTANCE_PATH": str(workdir / "instance"),
            "SECRET_KEY": "faults-secret-key-0123456789abcdef",
            "FIELD_ENCRYPTION_KEYS": TEST_FERNET_KEY,  # the key every stack uses
            "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
            "MAIL_FROM": "Sunrise Clinic <intake@sunrise.example>",
            "TEAM_EMAILS": ",".join(TEAM_EMAILS),
            "CLINIC_NAME": "Sunrise Clinic",
            "CLINIC_PHONE": "(310) 555-0100",
            "CLINIC_ADDRESS": "100 Main St, Los Angeles, CA 90001",
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": redis_server.url,
            # Production starts only with real transports; loading templates sends nothing.
            "SMTP_URL": "smtp://127.0.0.1:25",
            "SMS_ENABLED": "false",
        }
        loaded = subprocess.run(
            [str(BIN / "intake-service"), "templates", "load"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        yield FaultServers(redis_server, postgres, template)
    finally:
        redis_server.stop()
        postgres.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def make_stack(
    fault_servers: FaultServers, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Stack]]:
    """Start a stack on a fresh database; keyword arguments go to Stack (workers=, env=)."""
    stacks: list[Stack] = []

    def make(name: str, **options: object) -> Stack:
        fault_servers.heal()
        database = unique_name(f"faults_{name}")
        url = fault_servers.postgres.create_database(database, template=fault_servers.template)
        stack = Stack(name, tmp_path, fault_servers.redis.url, url, **options)  # type: ignore[arg-type]
        stacks.append(stack)
        return stack.start()

    yield make
    for stack in stacks:
        stack.close()
    fault_servers.heal()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per fault scenario at the end of the run, even with output captured."""
    if SUMMARIES:
        terminalreporter.section("fault scenarios")
        for line in SUMMARIES:
            terminalreporter.write_line(line)
