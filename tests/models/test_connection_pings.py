"""The pool pings a connection only after it sat idle, and replaces one that died meanwhile.

On real PostgreSQL: a connection's server process is ended with pg_terminate_backend, as a
database restart or an idle timeout would end it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from intake_service import db
from tests.support.statements import counting


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    made = db.make_engine(pg_url)
    yield made
    made.dispose()


def backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def terminate(engine: sa.Engine, pid: int) -> None:
    """End that server process from a connection outside the pool."""
    with engine.pool._creator() as other:  # type: ignore[attr-defined]
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        other.commit()


def test_a_connection_just_given_back_is_used_without_a_ping(engine: sa.Engine) -> None:
    first = backend_pid(engine)
    with counting(engine) as counts:
        again = backend_pid(engine)

    assert again == first  # the same pooled connection
    assert (counts.checkouts, counts.pings) == (1, 0)


def test_an_idle_connection_is_pinged_before_use(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = backend_pid(engine)
    monkeypatch.setattr(db, "PING_IDLE_AFTER", 0.0)  # every connection counts as idle now
    with counting(engine) as counts:
        again = backend_pid(engine)

    assert again == first and counts.pings == 1


def test_an_idle_connection_that_died_is_replaced_before_the_statement(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = backend_pid(engine)
    terminate(engine, dead)
    monkeypatch.setattr(db, "PING_IDLE_AFTER", 0.0)

    with counting(engine) as counts:
        replacement = backend_pid(engine)  # no error reaches the caller

    assert replacement != dead and counts.pings == 1


def test_a_connection_that_died_within_the_second_fails_once_then_the_pool_recovers(
    engine: sa.Engine,
) -> None:
    dead = backend_pid(engine)
    terminate(engine, dead)

    with pytest.raises(sa.exc.OperationalError) as failed:
        backend_pid(engine)
    assert failed.value.connection_invalidated  # SQLAlchemy saw a disconnect

    assert backend_pid(engine) != dead
