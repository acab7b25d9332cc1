"""What the migration tests share: an empty database on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import PostgresServer, unique_name


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no revision applied), once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.sqlite'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = unique_name("intake_migrate")
    url = server.create_database(name)
    yield url
    server.drop_database(name)
