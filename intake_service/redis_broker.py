"""kombu's Redis transport, with a channel that says "disconnected" once its connection is gone.

Celery 5.7's worker, when the broker connection breaks, collects the connection (closing its
channels and dropping the transport's link to it) and then closes it once more. A channel whose
first close failed half way (the read of its pending BRPOP raising, Redis being away) is closed
again in that second pass, and gives back its unacknowledged deliveries through a new Redis
client built from the connection that is no longer there: kombu raised AttributeError, which
Celery does not ignore, and the worker ended ("Unrecoverable error") in the middle of a Redis
outage (a CI fault run's worker did). Here that moment raises a connection error, which
Celery's close ignores as meant: the worker reconnects when Redis is back, and what it held
returns through Redis's visibility timeout and the requeue sweep.

The channel also keeps one Redis client for its commands (publish, acknowledge, restore)
where kombu builds a new one for each: a redis-py client copies some 200 reply callbacks
when made, and a worker made about eleven per lead (6% of its CPU under cProfile).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

TRANSPORT = "intake_service.redis_broker:Transport"


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    _commands: Any = None  # the client kept for the channel's commands, bound to its pool

    def _create_client(self, asynchronous: bool = False) -> Any:
        # The asynchronous client (the BRPOP the event loop waits on) stays kombu's.
        if asynchronous:
            return super()._create_client(asynchronous=True)
        # A client holds no connection, only its pool, and redis-py's clients are safe to share
        # between threads. A new pool (after a disconnect) gets a new client.
        pool = self.pool
        if self._commands is None or self._commands.connection_pool is not pool:
            self._commands = super()._create_client()
        return self._commands

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection was closed")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)
        return params


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel
