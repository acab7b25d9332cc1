"""Access to the machine's PostgreSQL and Redis, each test with its own database and queue."""

from __future__ import annotations

import os
import socket
import uuid

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# In CI a test that needs a service fails when it is missing instead of skipping quietly.
REQUIRE_SERVICES = (
    os.environ.get("INTAKE_REQUIRE_SERVICES", "") == "1" or os.environ.get("CI") == "true"
)


def service_missing(what: str, error: Exception) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is not reachable, and CI requires it: {error}")
    pytest.skip(f"{what} is not reachable: {error}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def admin_engine() -> sa.Engine:
    # AUTOCOMMIT: CREATE/DROP DATABASE cannot run inside a transaction.
    return sa.create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )


def database_url(name: str) -> str:
    base = sa.engine.make_url(PG_ADMIN_URL)
    return base.set(database=name).render_as_string(hide_password=False)
