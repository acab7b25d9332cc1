"""One sender's text rate, shared by every worker process and host (SMS_RATE_PER_SECOND).

A carrier throttles a long code to a few texts a second and delays or drops the rest, so the
service paces itself. Two operations, each atomic in one shared store:

- `reserve()`: a slot for a text the scheduler is about to hand on, in one first-come queue of
  slots spaced a little wider than the rate. The scheduler moves the text's due time to its
  slot, so a backlog of texts waits in the database, in order, and not on the broker.
- `acquire()`: the strict gate right before the provider is called: never more than `rate`
  sends in any second, each counted from the provider's answer (`answered()`), so the delay of
  a request on its way cannot squeeze more than `rate` into one of the provider's seconds. A
  text the gate refuses is re-planned, not sent.

Redis when the deployment has one, in a Lua script on Redis's own clock, so hosts need not agree
on the time (the `limits` library Flask-Limiter uses counts whole-second windows on the caller's
clock and has no queue of slots). In-process for the embedded default, whose one worker process
sends every text.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from intake_service.config import SmsPace

# A send counts from its answer, not from the gate: the provider has read a request before it
# answers, so however long the request took to get there, no second holds more than the rate.
WINDOW = 1.0
# How much a send may take, or start late after its slot (a busy worker process), before the
# gate holds the next one: slots are spaced this much wider than the window needs.
LATE_MARGIN = 0.03
# A send still unanswered after this long (its worker died) stops counting.
HOLD = 60.0


def spacing(rate: int) -> float:
    """Seconds between two reserved slots: the rate, slowed by the margin (about 97% of it)."""
    return (WINDOW + LATE_MARGIN) / rate


class Pacer(Protocol):
    rate: int

    def acquire(self) -> tuple[float, str]:
        """(0, token) if a text may be sent now: it counts as sending until `answered(token)`;
        else (the seconds to wait, "")."""

    def answered(self, token: str) -> None:
        """The provider answered the send `token` (or it failed): it counts from now."""

    def reserve(self) -> float:
        """Take the next free slot; the seconds from now until it (0: now)."""


# KEYS: the send log (sorted set: a send's answer time, or its gate time + HOLD while it is
# unanswered), its sequence, the next free slot; all in µs.
# ARGV: "acquire", "answered" or "reserve", the rate, the window, the spacing, hold, the token.
_SCRIPT = """
local function int(x) return string.format('%.0f', x) end  -- numbers pass as 14 digits only
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate, window, step = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local hold = tonumber(ARGV[5])
local keep = int(math.ceil((window + hold) / 1000) + 1000)
if ARGV[1] == 'answered' then
  redis.call('ZADD', KEYS[1], 'XX', int(now), ARGV[6])
  return 0
end
if ARGV[1] == 'acquire' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now - window))
  if redis.call('ZCARD', KEYS[1]) < rate then
    local token = int(now) .. ':' .. redis.call('INCR', KEYS[2])
    redis.call('ZADD', KEYS[1], int(now + hold), token)
    redis.call('PEXPIRE', KEYS[1], keep)
    redis.call('PEXPIRE', KEYS[2], keep)
    return {0, token}
  end
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  -- An unanswered send ahead is answered in moments: look again within one slot.
  return {int(math.max(1, math.min(tonumber(oldest[2]) + window - now, step))), ''}
end
local slot = math.max(tonumber(redis.call('GET', KEYS[3]) or '0'), now)
local expiry = int(math.ceil((slot + step - now) / 1000) + 60000)
redis.call('SET', KEYS[3], int(slot + step), 'PX', expiry)
return int(slot - now)
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

    def _call(self, operation: str, token: str = "") -> Any:
        window, step = round(WINDOW * 1e6), round(spacing(self.rate) * 1e6)
        args: list[str | int] = [operation, self.rate, window, step, round(HOLD * 1e6), token]
        return self._script(keys=self._keys, args=args)

    def acquire(self) -> tuple[float, str]:
        micros, token = self._call("acquire")
        return int(micros) / 1e6, token.decode() if isinstance(token, bytes) else str(token)

    def answered(self, token: str) -> None:
        self._call("answered", token)

    def reserve(self) -> float:
        return int(self._call("reserve")) / 1e6


class LocalPacer:
    """The same pace within one process (the embedded default), on the monotonic clock."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._sends: dict[str, float] = {}  # token -> answer time (or gate time + HOLD)
        self._seq = 0
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> tuple[float, str]:
        with self._lock:
            now = time.monotonic()
            self._sends = {k: at for k, at in self._sends.items() if at > now - WINDOW}
            if len(self._sends) < self.rate:
                self._seq += 1
                token = str(self._seq)
                self._sends[token] = now + HOLD
                return 0.0, token
            oldest = min(self._sends.values())
            return max(1e-6, min(oldest + WINDOW - now, spacing(self.rate))), ""

    def answered(self, token: str) -> None:
        with self._lock:
            if token in self._sends:
                self._sends[token] = time.monotonic()

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
