"""The embedded broker (intake_service/embedded_broker.py) through kombu, as Celery uses it."""

from __future__ import annotations

import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Consumer, Producer, Queue

from intake_service import embedded_broker

# The fallback poll, made far longer than any wait below: only a wake-up can deliver in time.
SLOW_POLL = 60.0


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"


def connect(url: str) -> Connection:
    return Connection(
        embedded_broker.connection_url(url),
        transport=embedded_broker.TRANSPORT,
        transport_options={"polling_interval": SLOW_POLL},
    )


def publish(url: str, *bodies: dict[str, Any], queue: str = "jobs") -> None:
    with connect(url) as connection:
        producer = Producer(connection)
        for body in bodies:
            producer.publish(body, routing_key=queue, declare=[Queue(queue)])


def rows(url: str) -> list[tuple[str, int]]:
    """(queue, taken) of every message in the broker file."""
    database = sqlite3.connect(embedded_broker.database_path(url))
    try:
        return database.execute("SELECT queue, taken FROM queue_messages ORDER BY id").fetchall()
    finally:
        database.close()


@pytest.fixture
def consumer(url: str) -> Iterator[tuple[Connection, list[Any]]]:
    received: list[Any] = []
    with (
        connect(url) as connection,
        Consumer(
            connection,
            [Queue("jobs")],
            callbacks=[lambda body, message: received.append((body, message))],
            prefetch_count=4,
        ),
    ):
        yield connection, received


def test_a_consumer_is_woken_by_a_publish_from_another_connection(
    url: str, consumer: tuple[Connection, list[Any]]
) -> None:
    connection, received = consumer
    later = threading.Timer(0.3, publish, args=(url, {"n": 1}))
    started = time.monotonic()
    later.start()

    connection.drain_events(timeout=10)  # raises TimeoutError if nothing came
    later.join()

    assert [body for body, _ in received] == [{"n": 1}]
    assert time.monotonic() - started < SLOW_POLL / 2


def test_a_taken_message_stays_until_acknowledged(
    url: str, consumer: tuple[Connection, list[Any]]
) -> None:
    connection, received = consumer
    publish(url, {"n": 1})
    connection.drain_events(timeout=10)

    assert rows(url) == [("jobs", 1)]  # taken, not gone: its worker may still die
    received[0][1].ack()
    assert rows(url) == []


def test_a_rejected_message_is_put_back_in_place_not_copied(
    url: str, consumer: tuple[Connection, list[Any]]
) -> None:
    connection, received = consumer
    publish(url, {"n": 1})
    connection.drain_events(timeout=10)
    received[0][1].reject(requeue=True)

    assert rows(url) == [("jobs", 0)]
    connection.drain_events(timeout=10)
    assert [body for body, _ in received] == [{"n": 1}, {"n": 1}]


def test_what_a_killed_worker_held_is_given_back_by_restore_taken(url: str) -> None:
    publish(url, {"n": 1}, {"n": 2})
    # A worker takes both and dies before acknowledging: its channel is never closed.
    dead = connect(url)
    channel = dead.default_channel
    taken = [channel.basic_get("jobs"), channel.basic_get("jobs")]
    assert all(message is not None for message in taken)
    assert rows(url) == [("jobs", 1), ("jobs", 1)]

    assert embedded_broker.restore_taken(url) == 2

    received: list[Any] = []
    with (
        connect(url) as connection,
        Consumer(
            connection,
            [Queue("jobs")],
            callbacks=[lambda body, message: (received.append(body), message.ack())],
        ),
    ):
        connection.drain_events(timeout=10)
        connection.drain_events(timeout=10)
    assert received == [{"n": 1}, {"n": 2}]
    assert rows(url) == []


def test_a_closed_consumer_puts_back_what_it_had_not_acknowledged(url: str) -> None:
    publish(url, {"n": 1})
    with connect(url) as connection:
        with Consumer(connection, [Queue("jobs")], callbacks=[lambda body, message: None]):
            connection.drain_events(timeout=10)
        assert rows(url) == [("jobs", 1)]
    # A warm shutdown: kombu restores the unacknowledged message, here in its own row.
    assert rows(url) == [("jobs", 0)]


def test_a_broker_file_in_a_folder_not_made_yet_is_made_private(tmp_path: Path) -> None:
    """A web or worker process started on its own (not through `intake-service run`) may be
    the first to open the broker: its folder and file are made, and nobody else may read them."""
    path = tmp_path / "instance" / "not-yet" / "broker.sqlite"
    url = f"sqla+sqlite:///{path}"

    publish(url, {"lead": "1"})

    assert rows(url) == [("jobs", 0)]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
