"""Idempotency keys in the domain: the marker, replays, conflicts, leases, expiry and purging."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from shared import idempotency
from shared.errors import IdempotencyKeyReused, RequestInProgress
from shared.models import IdempotencyKey

T0 = dt.datetime(2030, 1, 1, 12, 0, 0)
LEASE = dt.timedelta(seconds=60)
TTL = dt.timedelta(hours=24)
FP = idempotency.fingerprint("POST", "/codes/generate", b'{"amount": 1}')


def begin(session_factory, project_id, key="key-1", fp=FP):
    with session_factory() as session:
        outcome = idempotency.begin(session, project_id, key, fp, ttl=TTL, lease=LEASE)
        session.commit()
        return outcome


def finish(session_factory, project_id, token, key="key-1", status=200, body='{"success":true}'):
    with session_factory() as session:
        stored = idempotency.finish(session, project_id, key, token, status, body)
        session.commit()
        return stored


def test_fingerprint_ignores_json_formatting_but_not_content():
    spaced = idempotency.fingerprint("post", "/codes/generate", b'{ "type": "numeric",\n "amount": 1 }')
    assert spaced == idempotency.fingerprint("POST", "/codes/generate", b'{"amount":1,"type":"numeric"}')
    assert idempotency.fingerprint("POST", "/codes/generate", b'{"amount": 2}') != FP
    assert idempotency.fingerprint("POST", "/codes/claim", b'{"amount": 1}') != FP
    assert idempotency.fingerprint("DELETE", "/codes/generate", b'{"amount": 1}') != FP


def test_first_request_takes_the_key_then_its_response_is_replayed(session_factory, project, clock_at):
    clock_at(T0)
    taken = begin(session_factory, project.id)
    assert isinstance(taken, idempotency.Acquired)
    assert finish(session_factory, project.id, taken.token, status=409, body='{"error":"x"}')

    assert begin(session_factory, project.id) == idempotency.StoredResponse(409, '{"error":"x"}')


def test_a_different_request_with_the_same_key_is_refused(session_factory, project, clock_at):
    clock_at(T0)
    taken = begin(session_factory, project.id)
    other = idempotency.fingerprint("POST", "/codes/generate", b'{"amount": 2}')
    with pytest.raises(IdempotencyKeyReused):
        begin(session_factory, project.id, fp=other)  # while running
    finish(session_factory, project.id, taken.token)
    with pytest.raises(IdempotencyKeyReused):
        begin(session_factory, project.id, fp=other)  # and once done


def test_a_duplicate_while_the_first_runs_is_in_progress_until_the_lease_ends(
    session_factory, project, clock_at
):
    clock = clock_at(T0)
    first = begin(session_factory, project.id)
    with pytest.raises(RequestInProgress):
        begin(session_factory, project.id)

    clock.advance(seconds=61)  # the first request died: its lease ran out
    second = begin(session_factory, project.id)
    assert isinstance(second, idempotency.Acquired) and second.token != first.token
    # The dead request, should it wake up, can no longer record a response.
    assert not finish(session_factory, project.id, first.token)
    assert finish(session_factory, project.id, second.token, body="second")
    assert begin(session_factory, project.id) == idempotency.StoredResponse(200, "second")


def test_a_released_key_runs_again_as_new(session_factory, project, clock_at):
    clock_at(T0)
    taken = begin(session_factory, project.id)
    with session_factory() as session:
        idempotency.release(session, project.id, "key-1", taken.token)
        session.commit()
    other = idempotency.fingerprint("POST", "/codes/generate", b'{"amount": 2}')
    assert isinstance(begin(session_factory, project.id, fp=other), idempotency.Acquired)


def test_keys_expire_after_their_ttl_and_are_purged(session_factory, project, clock_at):
    clock = clock_at(T0)
    taken = begin(session_factory, project.id)
    finish(session_factory, project.id, taken.token)
    begin(session_factory, project.id, key="key-2")

    clock.advance(hours=23, minutes=59)
    assert isinstance(begin(session_factory, project.id), idempotency.StoredResponse)
    clock.advance(minutes=2)
    other = idempotency.fingerprint("POST", "/codes/generate", b'{"amount": 2}')
    assert isinstance(begin(session_factory, project.id, fp=other), idempotency.Acquired)

    clock.advance(hours=25)
    with session_factory() as session:
        assert idempotency.purge_expired(session) == 2
        session.commit()
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_keys_are_scoped_to_their_project(session_factory, project, make_project, clock_at):
    clock_at(T0)
    other = make_project("other")
    assert isinstance(begin(session_factory, project.id), idempotency.Acquired)
    assert isinstance(begin(session_factory, other.id), idempotency.Acquired)


def test_of_concurrent_duplicates_exactly_one_takes_the_key(database, session_factory, project):
    threads, barrier = 16, threading.Barrier(16)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt():
        barrier.wait()
        try:
            outcome = type(begin(session_factory, project.id, key="raced")).__name__
        except RequestInProgress as exc:
            outcome = exc.code
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert Counter(outcomes) == {"Acquired": 1, "request_in_progress": threads - 1}, database.backend
