"""Alembic environment: the URL comes from the caller (intake-service db upgrade) or Settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import intake_service.models  # noqa: F401  (registers every table on the metadata)
from intake_service.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return str(url)
    from intake_service.config import Settings

    return Settings.from_env().database_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _without_sqlite_cascades(connection: Connection) -> None:
    """Batch mode rebuilds a SQLite table by dropping it; with foreign keys on, that DROP
    deletes every row pointing at it (ON DELETE CASCADE): a migration of leads would empty
    submissions. The pragma only takes effect outside a transaction, so it is set first."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _without_sqlite_cascades(connection)
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _without_sqlite_cascades(conn)
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
