"""The Redis transport the service's Celery uses: a Redis outage must not end a worker.

Replays, on a real redis-server that is then stopped, what Celery 5.7's worker does when the
broker connection breaks (Consumer.on_connection_error_after_connected): collect() the
connection, then close it again with ignore_errors. kombu's own transport raised AttributeError
in that second close, and the worker ended ("Unrecoverable error").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import kombu
import pytest
from flask import Flask
from kombu.common import ignore_errors
from kombu.transport import redis as kombu_redis

from intake_service import redis_broker
from tests.support.services import PrivateRedis

KOMBUS_OWN = "kombu.transport.redis:Transport"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def _broken_while_waiting(server: PrivateRedis, transport: str) -> kombu.Connection:
    """A connection as a worker's is when Redis goes away: a task delivered and not yet
    acknowledged on its default channel, and a BRPOP in flight there and on a second channel."""
    connection = kombu.Connection(
        server.url,
        transport=transport,
        transport_options={"socket_connect_timeout": 1, "socket_timeout": 1},
    )
    tasks, events = kombu.Queue("tasks"), kombu.Queue("events")
    with connection.Producer() as producer:
        producer.publish({"task": 1}, routing_key="tasks", declare=[tasks])
    connection.Consumer(tasks, callbacks=[lambda body, message: None], prefetch_count=2).consume()
    connection.drain_events(timeout=2)
    default, other = connection.default_channel, connection.channel()
    kombu.Consumer(other, [events], callbacks=[lambda body, message: None]).consume()
    for channel in (default, other):
        channel.connection.cycle._register_BRPOP(channel)  # as the worker's event loop does
    assert len(default.qos._delivered) == 1
    server.stop()
    return connection


def _close_as_celery_does(connection: kombu.Connection) -> None:
    connection.collect(socket_timeout=1)
    ignore_errors(connection, connection.close)


def test_kombus_own_transport_ended_the_worker_there(redis_server: PrivateRedis) -> None:
    """The failure this transport exists for, so the test below cannot pass for nothing."""
    connection = _broken_while_waiting(redis_server, KOMBUS_OWN)

    with pytest.raises(AttributeError, match="hostname"):
        _close_as_celery_does(connection)


def test_ours_closes_it_quietly_and_connects_again_when_redis_is_back(
    redis_server: PrivateRedis,
) -> None:
    connection = _broken_while_waiting(redis_server, redis_broker.TRANSPORT)

    _close_as_celery_does(connection)

    redis_server.start()
    with connection.clone() as again:
        queue = kombu.Queue("after")
        with again.Producer() as producer:
            producer.publish({"task": 2}, routing_key="after", declare=[queue])
        message = again.SimpleQueue(queue).get(timeout=2)
        assert message.payload == {"task": 2}
        message.ack()


def test_the_service_uses_it_for_redis_and_leaves_rediss_to_kombu(
    make_app: Callable[..., Flask],
) -> None:
    on_redis = make_app(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    on_tls = make_app(CELERY_BROKER_URL="rediss://127.0.0.1:6380/0")

    assert _transport_of(on_redis) is redis_broker.Transport
    assert _transport_of(on_tls) is kombu_redis.Transport


def _transport_of(app: Flask) -> type:
    celery = app.extensions["celery"]
    with celery.connection_for_write() as connection:
        return type(connection.transport)


def test_a_channel_keeps_one_client_for_its_commands_until_its_pool_is_new(
    redis_server: PrivateRedis,
) -> None:
    connection = kombu.Connection(redis_server.url, transport=redis_broker.TRANSPORT)
    channel = connection.default_channel
    queue = kombu.Queue("kept")

    with connection.Producer() as producer:
        for number in range(3):
            producer.publish({"task": number}, routing_key="kept", declare=[queue])
    first = channel._create_client()
    assert channel._create_client() is first
    assert channel._create_client(asynchronous=True) is not first

    channel._disconnect_pools()  # as after a broken connection
    again = channel._create_client()
    assert again is not first and again.connection_pool is channel.pool

    # Publishing, consuming and acknowledging still go through it, on the new pool.
    simple = connection.SimpleQueue(queue)
    taken = [simple.get(timeout=2) for _ in range(3)]
    for message in taken:
        message.ack()
    assert sorted(message.payload["task"] for message in taken) == [0, 1, 2]
    with pytest.raises(simple.Empty):
        simple.get(timeout=0.2)
    connection.close()
