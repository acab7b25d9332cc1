"""Engine, sessions and the transaction helper; the typed declarative base."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, make_url, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from intake_service.security.encryption import FieldCipher, bind_cipher

if TYPE_CHECKING:
    from intake_service.config import Settings
from intake_service.security.blind_index import BlindIndex, bind_blind_index
from intake_service.security.files import private_sqlite_database
from intake_service.sqlite_writes import OrderedConnection, writer_lock

# Stable constraint names, so Alembic migrations name the same things on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone; without this, values read back naive and compare wrongly with aware ones.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend: WAL and a busy timeout on SQLite; on PostgreSQL a pool
    whose idle connections are pinged before use."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            # The embedded default keeps its file in ./instance; a first start must create it,
            # readable by this user only (it holds names and phone numbers).
            private_sqlite_database(Path(database))
        file_based = bool(database) and database != ":memory:"
        connect_args: dict[str, Any] = {"timeout": 30, "check_same_thread": False}
        if file_based:
            # Writers of this file queue on a lock that hands over at once (sqlite_writes.py).
            connect_args["factory"] = OrderedConnection
        engine = create_engine(url, connect_args=connect_args, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            if file_based:
                dbapi_connection.writer = writer_lock(Path(str(database)))
            cursor = dbapi_connection.cursor()
            # WAL lets the web read while the worker writes; foreign keys are off by default.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        pool_timeout=5,
        # An unreachable database must fail fast (503) rather than hang a request.
        connect_args={"connect_timeout": 3},
        # Logged database errors must never carry the statement's parameters (IPs, ciphertext).
        hide_parameters=True,
    )
    ping_when_idle(engine)
    return engine


# A pooled connection given back less than this long ago is used without a ping.
PING_IDLE_AFTER = 1.0


def ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only when it sat idle for PING_IDLE_AFTER or more.

    SQLAlchemy's pool_pre_ping pings at every checkout: a round trip for each request and each
    task, a ninth of a submission's. Under load a connection comes back within milliseconds of
    its last use, when a dead one is all but impossible; one that sat idle (overnight, across a
    database restart) is pinged and, if dead, replaced before it is used. A connection that died
    within the second still fails its statement once, and SQLAlchemy then discards the pool's
    older connections, as the ping would have.
    """

    @event.listens_for(engine, "checkin")
    def _given_back(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:  # None when it was invalidated
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")  # none yet on a connection just made
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_AFTER:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool replaces the connection and checks out again, as after a failed pre-ping.
            raise DisconnectionError() from error


class Database:
    """One engine and session factory per app (and per worker process).

    Without a cipher, encrypted columns cannot be read or written (RuntimeError); plain
    columns can, which is all migrations and some test checks need.
    """

    def __init__(self, url: str, cipher: FieldCipher | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        if cipher is not None:
            bind_cipher(self.engine, cipher)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The app's database, encrypting fields with the settings' keys (newest first) and
        hashing phone and email lookups with its blind-index key (security/blind_index.py)."""
        database = cls(settings.database_url, FieldCipher(settings.field_encryption_keys))
        bind_blind_index(database.engine, BlindIndex.from_settings(settings))
        # Rules that take no settings argument (the contact policy) read them from the session.
        database.sessions.configure(info={"settings": settings})
        return database

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits when the block ends, or rolls back if it raises."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading, or for callers that commit in several steps themselves."""
        with self.sessions() as session:
            yield session

    def ping(self) -> None:
        """Raise if the database does not answer (readiness checks)."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def get_db() -> Database:
    """The Database of the current Flask app (web request or Celery task)."""
    db: Database = current_app.extensions["intake.db"]
    return db
