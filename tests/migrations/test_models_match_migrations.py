"""The models and the migrations describe the same schema.

A model changed without its migration works in every test that builds tables from the
migrations' schema only until a column the model widened is filled: SQLite never checks a
VARCHAR's length, PostgreSQL does. Alembic's own comparison (what `alembic revision
--autogenerate` would write) must find nothing to do, on PostgreSQL and on SQLite.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import intake_service.models  # noqa: F401  (every model registers its table)
from intake_service.db import Base, make_engine
from intake_service.migrate import upgrade


def test_autogenerate_finds_nothing_the_migrations_left_out(empty_url: str) -> None:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], "\n".join(str(d) for d in differences)
