"""One sender's text rate, shared by every worker process and host (SMS_RATE_PER_SECOND).

A carrier throttles a long code to a few texts a second and delays or drops the rest, so the
service paces itself. Two operations, each atomic in one shared store:

- `reserve()`: a slot for a text the scheduler is about to hand on, in one first-come queue of
  slots spaced a little wider than the rate. The scheduler moves the text's due time to its
  slot, so a backlog of texts waits in the database, in order, and not on the broker.
- `acquire()`: the strict gate right before the provider is called: never more than `rate`
  sends in any window of one second (plus a margin for the network's jitter between this call
  and the provider reading the request). A text the gate refuses is re-planned, not sent.

Redis when the deployment has one, in a Lua script on Redis's own clock, so hosts need not agree
on the time (the `limits` library Flask-Limiter uses counts whole-second windows on the caller's
clock and has no queue of slots). In-process for the embedded default, whose one worker process
sends every text.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from intake_service.config import SmsPace

# Between the gate and the provider's clock: the request still has to be built, sent and read.
JITTER_MARGIN = 0.015
# How late a text may start after its slot (a busy worker process) before its gate can refuse
# it: slots are spaced this much wider than the gate's window needs.
LATE_MARGIN = 0.015
WINDOW = 1.0 + JITTER_MARGIN


def spacing(rate: int) -> float:
    """Seconds between two reserved slots: the rate, slowed by both margins (about 97% of it)."""
    return (WINDOW + LATE_MARGIN) / rate


class Pacer(Protocol):
    rate: int

    def acquire(self) -> float:
        """0 if a text may be sent now (and counts it), else the seconds until one may."""

    def reserve(self) -> float:
        """Take the next free slot; the seconds from now until it (0: now)."""


# KEYS: the send log (sorted set of send times), its sequence, the next free slot; all in µs.
# ARGV: "acquire" or "reserve", the rate, the window, the spacing.
_SCRIPT = """
local function int(x) return string.format('%.0f', x) end  -- numbers pass as 14 digits only
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate, window, step = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if ARGV[1] == 'acquire' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now - window))
  if redis.call('ZCARD', KEYS[1]) < rate then
    local seq = redis.call('INCR', KEYS[2])
    redis.call('ZADD', KEYS[1], int(now), int(now) .. ':' .. seq)
    local keep = int(math.ceil(window / 1000) + 1000)
    redis.call('PEXPIRE', KEYS[1], keep)
    redis.call('PEXPIRE', KEYS[2], keep)
    return 0
  end
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
local slot = math.max(tonumber(redis.call('GET', KEYS[3]) or '0'), now)
local keep = int(math.ceil((slot + step - now) / 1000) + 60000)
redis.call('SET', KEYS[3], int(slot + step), 'PX', keep)
return slot - now
"""


@dataclass
class RedisPacer:
    """The pace kept in Redis: every process and host that names the same sender shares it."""

    rate: int
    url: str
    key: str

    def __post_init__(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)
        self._script = client.register_script(_SCRIPT)
        self._keys = [f"{self.key}:sent", f"{self.key}:seq", f"{self.key}:next"]

    def _call(self, operation: str) -> float:
        window, step = round(WINDOW * 1e6), round(spacing(self.rate) * 1e6)
        micros = self._script(keys=self._keys, args=[operation, self.rate, window, step])
        return int(micros) / 1e6

    def acquire(self) -> float:
        return self._call("acquire")

    def reserve(self) -> float:
        return self._call("reserve")


class LocalPacer:
    """The same pace within one process (the embedded default), on the monotonic clock."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._sent: deque[float] = deque()
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        with self._lock:
            now = time.monotonic()
            while self._sent and self._sent[0] <= now - WINDOW:
                self._sent.popleft()
            if len(self._sent) < self.rate:
                self._sent.append(now)
                return 0.0
            return max(1e-6, self._sent[0] + WINDOW - now)

    def reserve(self) -> float:
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + spacing(self.rate)
            return slot - now


_pacers: dict[SmsPace, Pacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(pace: SmsPace | None) -> Pacer | None:
    """The process's pacer for `pace` (one Redis connection pool or one local log), or None
    when texts are not paced."""
    if pace is None:
        return None
    with _pacers_lock:
        pacer = _pacers.get(pace)
        if pacer is None:
            if pace.storage_uri.startswith(("redis://", "rediss://", "unix://")):
                pacer = RedisPacer(pace.rate, pace.storage_uri, f"intake:sms-pace:{pace.sender}")
            else:
                pacer = LocalPacer(pace.rate)
            _pacers[pace] = pacer
        return pacer
