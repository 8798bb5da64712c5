"""Rate limit counters: every counter a request touches, checked and counted in one step.

:meth:`hit` takes all the counters that apply to a request and, atomically, either counts the
request in every one of them or (when one is full) in none and names the full one. In Redis that
is one server-side Lua script, so one round trip whatever the number of limits; in memory it is
the same logic under a lock. The answer carries each counter's count and the end of its window,
all the rate limit headers need.

Windows are fixed: a counter's window starts with the first request it counts and lasts the
limit's period (then the counter expires and the next request starts a new one). Each window gets
a random token when it starts.

:meth:`give_back` takes back one count from counters a request reserved and no longer needs
(api.limits: a claim that turned out not to be a guess), only if the window it was counted in is
still the current one (the token matches), so a late give-back never lowers the count of a newer
window. In Redis it costs the request no round trip of its own: the give-backs wait in the
process and ride on its next script call (the script applies them before it checks anything), or,
when no request comes within ``give_back_seconds``, a background thread of the process sends them.
Until then the counter counts one more than it should: a late give-back can only make a limit
stricter, never let a request through.

Names are built by api.limits and never contain a key or its digest. Redis Cluster: a script may
only touch keys of one hash slot, so every counter name starts with the same hash tag,
``{<prefix>}``, and all of a deployment's counters live on one shard. A counter is a small hash
that expires with its window, and one Redis node runs well over 100,000 such scripts a second,
far more than the API processes in front of it can ask for.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Counter:
    """One counter: its name, the most it may count in a window, the window's length."""

    name: str
    amount: int
    window_seconds: int


@dataclass(frozen=True, slots=True)
class Count:
    """A counter after this request: its count, when its window ends (Unix time), the window."""

    value: int
    reset_at: float
    window: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """``counts``: each counter after the request (when counted); ``refused``: the full counter,
    ``reset_at``: when its window ends."""

    counts: tuple[Count, ...] = ()
    refused: int | None = None
    reset_at: float = 0.0


# A counter is a hash: "n", the count; "w", its window's token; it expires with its window.
# KEYS[1..n]: the request's counters; KEYS[n+1..]: counters to give one count back first.
# ARGV[1]: n; ARGV[2]: the token of a window this call starts; ARGV[2+i]: counter i's amount;
# ARGV[2+n+i]: its window in milliseconds; ARGV[2+2n+j]: the window token of give-back j.
# Returns "0 count_1 pttl_1 token_1 ..." when counted, "i pttl_i" when counter i is full: one
# string, which the client reads in one go (an array costs a parse per element).
_GIVE_BACK_LOOP = """
for j = first, #KEYS do
  if redis.call('HGET', KEYS[j], 'w') == ARGV[offset + j] then
    redis.call('HINCRBY', KEYS[j], 'n', -1)
  end
end
"""
_HIT = (
    """
local n = tonumber(ARGV[1])
local first, offset = n + 1, n + 2
"""
    + _GIVE_BACK_LOOP
    + """
local windows = {}
for i = 1, n do
  local current = redis.call('HMGET', KEYS[i], 'n', 'w')
  if tonumber(current[1] or '0') >= tonumber(ARGV[2 + i]) then
    return i .. ' ' .. redis.call('PTTL', KEYS[i])
  end
  windows[i] = current[2]
end
local out = {0}
for i = 1, n do
  local count, ttl, token
  if windows[i] then
    count, ttl, token = redis.call('HINCRBY', KEYS[i], 'n', 1), redis.call('PTTL', KEYS[i]), windows[i]
  else
    count, ttl, token = 1, tonumber(ARGV[2 + n + i]), ARGV[2]
    redis.call('HSET', KEYS[i], 'n', 1, 'w', token)
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  local at = #out
  out[at + 1] = count
  out[at + 2] = ttl
  out[at + 3] = token
end
return table.concat(out, ' ')
"""
)
# KEYS: counters to give one count back; ARGV: the window token of each.
_GIVE_BACK = "local first, offset = 1, 0\n" + _GIVE_BACK_LOOP + "return 0\n"


def _token() -> str:
    return secrets.token_hex(6)


class MemoryCounters:
    """The counters of this process, in its memory: exact only if it is the only process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, list] = {}  # name -> [count, window end, window token]
        self._next_sweep = 0.0

    def hit(self, counters: Sequence[Counter]) -> Outcome:
        now = time.time()
        with self._lock:
            if now >= self._next_sweep:
                self._counts = {name: value for name, value in self._counts.items() if value[1] > now}
                self._next_sweep = now + 60
            current = []
            for index, counter in enumerate(counters):
                entry = self._counts.get(counter.name)
                if entry is None or entry[1] <= now:
                    entry = [0, now + counter.window_seconds, None]
                if entry[0] >= counter.amount:
                    return Outcome(refused=index, reset_at=entry[1])
                current.append(entry)
            token = _token()
            for counter, entry in zip(counters, current, strict=True):
                entry[0] += 1
                entry[2] = entry[2] or token
                self._counts[counter.name] = entry
            return Outcome(counts=tuple(Count(entry[0], entry[1], entry[2]) for entry in current))

    def give_back(self, counted: Sequence[tuple[str, str]]) -> None:
        """One count back from each (counter name, window token), if that window is current."""
        with self._lock:
            for name, window in counted:
                entry = self._counts.get(name)
                if entry is not None and entry[2] == window and entry[0] > 0:
                    entry[0] -= 1


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
        # No retries: a script call that timed out may have run, and running it again would count
        # the request twice and give a count back twice. (redis-py's default depends on how the
        # client is built and on the URL's options, so it is said here.)
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        self._hit = self.client.register_script(_HIT)
        self._give_back = self.client.register_script(_GIVE_BACK)
        self.fallback = MemoryCounters()
        self._retry_seconds = retry_seconds
        self._backoff = retry_seconds
        self._down_until = 0.0
        self.give_back_seconds = give_back_seconds
        self._returns: list[tuple[str, str]] = []  # (name, window) waiting to be given back
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._sender_pid = 0  # the process whose thread sends the give-backs (none after a fork)

    def hit(self, counters: Sequence[Counter]) -> Outcome:
        if time.monotonic() < self._down_until:
            return self.fallback.hit(counters)
        returns = self._take_returns()
        keys = [c.name for c in counters] + [name for name, _ in returns]
        args = [len(counters), _token(), *(c.amount for c in counters)]
        args += [c.window_seconds * 1000 for c in counters]
        args += [window for _, window in returns]
        try:
            result = self._hit(keys=keys, args=args)
        except redis.RedisError as exc:
            self._went_down(exc)
            return self.fallback.hit(counters)
        self._backoff = self._retry_seconds
        now = time.time()
        fields = result.split()
        if fields[0] != b"0":
            return Outcome(refused=int(fields[0]) - 1, reset_at=now + max(int(fields[1]), 0) / 1000)
        return Outcome(
            counts=tuple(
                Count(int(fields[i]), now + int(fields[i + 1]) / 1000, fields[i + 2].decode())
                for i in range(1, len(fields), 3)
            )
        )

    def give_back(self, counted: Sequence[tuple[str, str]]) -> None:
        """Queue one count back for each (counter name, window token); see the module's doc."""
        if time.monotonic() < self._down_until:
            self.fallback.give_back(counted)
            return
        with self._lock:
            self._returns.extend(counted)
            if self._sender_pid != os.getpid():
                self._sender_pid = os.getpid()
                threading.Thread(target=self._send_returns, name="rate-limit-give-back", daemon=True).start()
        self._wake.set()

    def _take_returns(self) -> list[tuple[str, str]]:
        with self._lock:
            returns, self._returns = self._returns, []
        return returns

    def _send_returns(self) -> None:
        """The background thread: give-backs that no request carried within give_back_seconds."""
        while True:
            self._wake.wait()
            time.sleep(self.give_back_seconds)
            self._wake.clear()
            returns = self._take_returns()
            if returns:
                try:
                    self._give_back(keys=[name for name, _ in returns], args=[w for _, w in returns])
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
