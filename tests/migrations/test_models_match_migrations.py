"""The models and the migrations describe the same schema.

A model changed without its migration works in every test that builds tables from the
migrations' schema only until a column the model widened is filled: SQLite never checks a
VARCHAR's length, PostgreSQL does. Alembic's own comparison (what `alembic revision
--autogenerate` would write) must find nothing to do, on PostgreSQL and on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import intake_service.models  # noqa: F401  (every model registers its table)
from intake_service.db import Base, make_engine
from intake_service.migrate import upgrade
from tests.support.services import PostgresServer, unique_name


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrated.sqlite'}"
        upgrade(url)
        yield url
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = unique_name("intake_drift")
    url = server.create_database(name)
    upgrade(url)
    yield url
    server.drop_database(name)


def test_autogenerate_finds_nothing_the_migrations_left_out(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], "\n".join(str(d) for d in differences)
