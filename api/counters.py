"""Rate limit counters: every counter a request touches, checked and counted in one step.

:meth:`Counters.hit` takes all the counters that apply to a request and, atomically, either counts
the request in every one of them or (when one is full) in none and names the full one. In Redis
that is one server-side Lua script, so one round trip whatever the number of limits; in memory it
is the same logic under a lock. :meth:`Counters.give_back` takes one count back from counters a
request reserved and no longer needs (api.limits: a claim that turned out not to be a guess). In
Redis that costs the request no round trip of its own: the names wait in the process and ride on
its next script call (the script gives them back before it checks anything), or, when no request
comes within ``give_back_seconds``, a background thread of the process sends them. Until then the
counter counts one more than it should: a late give-back can only make a limit stricter, never
let a request through.

Windows are fixed and aligned on the clock (a minute window runs from :00 to :59), so a counter's
name says which window it counts and a count given back always lands in the window it was taken
from. Names are built by api.limits and never contain a key or its digest.

Redis Cluster: a script may only touch keys of one hash slot, so every counter name starts with
the same hash tag, ``{<prefix>}``. All of the deployment's counters then live on one shard: a
counter is a few bytes that expires with its window, and one Redis node runs well over 100,000
such scripts a second, far more than the API processes in front of it can ask for.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Counter:
    """One counter of the current window: its name, the most it may reach, when it resets."""

    name: str
    amount: int
    window_seconds: int
    reset_at: int  # Unix time at which this window ends

    @classmethod
    def of(cls, name: str, amount: int, window_seconds: int, now: float) -> Counter:
        window = int(now // window_seconds)
        return cls(
            f"{name}:{window_seconds}s:{window}", amount, window_seconds, (window + 1) * window_seconds
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """``counts``: each counter after this request (when allowed); ``refused``: the full one."""

    counts: tuple[int, ...] = ()
    refused: int | None = None


# KEYS[1..n]: the request's counters; KEYS[n+1..]: counters to give one count back first.
# ARGV[1]: n; ARGV[1+i]: counter i's amount; ARGV[1+n+i]: milliseconds until its window ends.
# Returns {0, count_1, ..., count_n} when counted, {i} when counter i is full (nothing counted).
_HIT = """
local n = tonumber(ARGV[1])
for i = n + 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECR', KEYS[i]) end
end
for i = 1, n do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[1 + i]) then return {i} end
end
local counts = {0}
for i = 1, n do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1 + n + i]) end
  counts[i + 1] = count
end
return counts
"""
# KEYS: counters to give one count back (a counter whose window ended is gone and stays gone).
_GIVE_BACK = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECR', KEYS[i]) end
end
return 0
"""


class MemoryCounters:
    """The counters of this process, in its memory: exact only if it is the only process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}  # name -> (count, window end)
        self._next_sweep = 0.0

    def hit(self, counters: Sequence[Counter]) -> Outcome:
        now = time.time()
        with self._lock:
            if now >= self._next_sweep:
                self._counts = {name: value for name, value in self._counts.items() if value[1] > now}
                self._next_sweep = now + 60
            current = [self._counts.get(counter.name, (0, 0.0))[0] for counter in counters]
            for index, (counter, count) in enumerate(zip(counters, current, strict=True)):
                if count >= counter.amount:
                    return Outcome(refused=index)
            for counter, count in zip(counters, current, strict=True):
                self._counts[counter.name] = (count + 1, counter.reset_at)
            return Outcome(counts=tuple(count + 1 for count in current))

    def give_back(self, counters: Sequence[Counter]) -> None:
        with self._lock:
            for counter in counters:
                count, ends = self._counts.get(counter.name, (0, 0.0))
                if count > 0:
                    self._counts[counter.name] = (count - 1, ends)


class RedisCounters:
    """The counters in Redis, shared by every process: one script call per request.

    redis-py's ``register_script`` sends EVALSHA and, the first time a server answers NOSCRIPT
    (a restart, a failover), loads the script and retries. If Redis cannot be reached, each
    process counts in its own memory (logged once) and tries Redis again after ``retry_seconds``,
    doubling up to a minute: a request never fails because of its counters.
    """

    def __init__(
        self, url: str, *, timeout: float = 0.5, retry_seconds: float = 1.0, give_back_seconds: float = 0.02
    ):
        self.client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        self._hit = self.client.register_script(_HIT)
        self._give_back = self.client.register_script(_GIVE_BACK)
        self.fallback = MemoryCounters()
        self._retry_seconds = retry_seconds
        self._backoff = retry_seconds
        self._down_until = 0.0
        self.give_back_seconds = give_back_seconds
        self._returns: list[str] = []  # counter names waiting to be given one count back
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._sender_pid = 0  # the process whose thread sends the give-backs (none after a fork)

    def hit(self, counters: Sequence[Counter]) -> Outcome:
        if time.monotonic() < self._down_until:
            return self.fallback.hit(counters)
        now_ms = time.time() * 1000
        args = [len(counters), *(c.amount for c in counters)]
        args += [max(int(c.reset_at * 1000 - now_ms), 1) for c in counters]
        try:
            result = self._hit(keys=[c.name for c in counters] + self._take_returns(), args=args)
        except redis.RedisError as exc:
            self._went_down(exc)
            return self.fallback.hit(counters)
        self._backoff = self._retry_seconds
        if result[0]:
            return Outcome(refused=int(result[0]) - 1)
        return Outcome(counts=tuple(int(count) for count in result[1:]))

    def give_back(self, counters: Sequence[Counter]) -> None:
        if time.monotonic() < self._down_until:
            self.fallback.give_back(counters)
            return
        with self._lock:
            self._returns.extend(c.name for c in counters)
            if self._sender_pid != os.getpid():
                self._sender_pid = os.getpid()
                threading.Thread(target=self._send_returns, name="rate-limit-give-back", daemon=True).start()
        self._wake.set()

    def _take_returns(self) -> list[str]:
        with self._lock:
            names, self._returns = self._returns, []
        return names

    def _send_returns(self) -> None:
        """The background thread: give-backs that no request carried within give_back_seconds."""
        while True:
            self._wake.wait()
            time.sleep(self.give_back_seconds)
            self._wake.clear()
            names = self._take_returns()
            if names:
                try:
                    self._give_back(keys=names)
                except redis.RedisError as exc:
                    self._went_down(exc)

    def _went_down(self, exc: redis.RedisError) -> None:
        # The error's class only: never a counter name or an address from the message.
        log.warning(
            "rate limit counters: Redis unreachable (%s); counting in memory for %.0f s",
            type(exc).__name__,
            self._backoff,
        )
        self._down_until = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, 60.0)


Counters = MemoryCounters | RedisCounters


def counters_for(redis_url: str | None, *, give_back_seconds: float = 0.02) -> Counters:
    if redis_url:
        return RedisCounters(redis_url, give_back_seconds=give_back_seconds)
    return MemoryCounters()
