"""kombu's Redis transport, with a channel that says "disconnected" once its connection is gone.

Celery 5.7's worker, when the broker connection breaks, collects the connection (closing its
channels and dropping the transport's link to it) and then closes it once more. A channel whose
first close failed half way (the read of its pending BRPOP raising, Redis being away) is closed
again in that second pass, and gives back its unacknowledged deliveries through a new Redis
client built from the connection that is no longer there: kombu raised AttributeError, which
Celery does not ignore, and the worker ended ("Unrecoverable error") in the middle of a Redis
outage (a CI fault run's worker did). Here that moment raises a
connection error, which Celery's close ignores as meant: the worker reconnects when Redis is
back, and what it held returns through Redis's visibility timeout and the requeue sweep.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

TRANSPORT = "intake_service.redis_broker:Transport"


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection was closed")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)
        return params


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel
