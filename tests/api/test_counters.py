"""The counting step (api/counters.py), in memory and in Redis alike: all or nothing, windows that
start with their first count, and give-backs that only ever reach the window they were taken in.

No database: these run once (they ask for no ``database``)."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from api.counters import Counter, MemoryCounters, RedisCounters
from tests.support import redis_url_or_skip


@pytest.fixture(params=["memory", "redis"])
def counters(request):
    if request.param == "memory":
        yield MemoryCounters(), "{t}"
        return
    url = redis_url_or_skip()
    tag = "{codes-test-" + uuid.uuid4().hex + "}"
    counters = RedisCounters(url, give_back_seconds=0.01)
    yield counters, tag
    client = redis.Redis.from_url(url)
    names = list(client.scan_iter(match=tag.replace("{", "\\{").replace("}", "\\}") + ":*"))
    if names:
        client.delete(*names)
    client.close()


def settle(counters) -> None:
    """Let a Redis give-back that no request carries reach Redis (its thread waits 10 ms)."""
    if isinstance(counters, RedisCounters):
        time.sleep(0.2)


def test_a_request_is_counted_in_every_counter_or_in_none(counters):
    counters, tag = counters
    wide, narrow = Counter(f"{tag}:wide", 10, 60), Counter(f"{tag}:narrow", 2, 60)

    first = counters.hit([wide, narrow])
    assert [count.value for count in first.counts] == [1, 1] and first.refused is None
    assert 58 < first.counts[0].reset_at - time.time() <= 60
    assert [count.value for count in counters.hit([wide, narrow]).counts] == [2, 2]
    refused = counters.hit([wide, narrow])
    assert refused.refused == 1 and refused.counts == ()
    assert 58 < refused.reset_at - time.time() <= 60
    # The refused request was not counted in the wide counter either.
    assert [count.value for count in counters.hit([wide]).counts] == [3]


def test_a_window_starts_with_its_first_count(counters):
    counters, tag = counters
    counter = Counter(f"{tag}:second", 2, 1)
    counters.hit([counter])
    counters.hit([counter])
    assert counters.hit([counter]).refused == 0
    time.sleep(1.1)
    assert [count.value for count in counters.hit([counter]).counts] == [1]


def test_a_give_back_reaches_only_the_window_it_was_taken_in(counters):
    counters, tag = counters
    counter = Counter(f"{tag}:guesses", 3, 1)
    taken = counters.hit([counter]).counts[0]
    counters.hit([counter])
    counters.give_back([(counter.name, taken.window)])
    settle(counters)
    assert [count.value for count in counters.hit([counter]).counts] == [2]  # 2 - 1 + 1

    time.sleep(1.1)  # that window ended; a new one starts
    fresh = counters.hit([counter]).counts[0]
    assert fresh.value == 1 and fresh.window != taken.window
    counters.give_back([(counter.name, taken.window)])  # too late: ignored
    settle(counters)
    assert [count.value for count in counters.hit([counter]).counts] == [2]
