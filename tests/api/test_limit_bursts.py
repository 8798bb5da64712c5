"""Limits hold exactly under bursts, through a real multi-process server, on both databases.

Two servers per database, with the default limits (10 guesses, 30 claims per address a minute):
- "redis": gunicorn.conf.py with two worker processes counting in Redis (``TEST_REDIS_URL``,
  under a key prefix of this run's own, deleted at the end);
- "make-run": the very gunicorn command of the Makefile's ``run`` target, without REDIS_URL, with
  3 workers asked for on top (``GUNICORN_CMD_ARGS``, ``WEB_CONCURRENCY``): it serves ONE process,
  so its counters in memory are exact.

Each burst comes from a loopback address of its own (127.0.0.x: a real source address, no
X-Forwarded-For), fired at once from 50 or 70 threads behind a barrier.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import shlex
import threading
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import pytest
import redis
from sqlalchemy import text

from tests.support import ROOT, Gunicorn, free_port, redis_url_or_skip, subprocess_env

pytestmark = [pytest.mark.server, pytest.mark.slow]

GUESSES_PER_MINUTE = 10  # RATELIMIT_CLAIM_GUESSES's default
CLAIMS_PER_MINUTE = 30  # RATELIMIT_CLAIM_PER_IP's default
_addresses = (f"127.0.0.{n}" for n in itertools.count(10))


def make_run_command(port: int) -> tuple[list[str], str]:
    """The gunicorn options and app of the Makefile's run target, as make would run them."""
    line = next(line for line in (ROOT / "Makefile").read_text().splitlines() if "$(BIN)/gunicorn " in line)
    words = shlex.split(line.strip().replace("$(PORT)", str(port)))
    assert words[0] == "$(BIN)/gunicorn", line
    return words[1:-1], words[-1]


def _clean_env(**extra: str) -> dict[str, str]:
    env = subprocess_env(**extra)
    for name in list(env):
        if name.startswith("RATELIMIT_") or name in ("REDIS_URL", "TRUSTED_PROXIES", "PORT"):
            del env[name]
    env.update(extra)
    return env


def worker_pids(server: Gunicorn) -> list[int]:
    pid = server.process.pid
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.fixture(scope="module", params=["redis", "make-run"])
def server(request, database, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    port = free_port()
    env = _clean_env(DATABASE_URL=database.url, INSTANCE_DIR=str(instance), LOG_LEVEL="WARNING")
    if request.param == "redis":
        url = redis_url_or_skip()
        prefix = f"codes-test-{uuid.uuid4().hex}"
        env.update(REDIS_URL=url, WEB_CONCURRENCY="2", WEB_THREADS="4")
        # On loopback only (the file binds every interface, where another suite may hold the port).
        args = ("--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}")
        app = f"api:create_app({{'RATELIMIT_KEY_PREFIX': {prefix!r}}})"
    else:
        args, app = make_run_command(port)
        env.update(GUNICORN_CMD_ARGS="--workers 3", WEB_CONCURRENCY="3")
    gunicorn = Gunicorn(env=env, log_path=instance / "gunicorn.log", args=tuple(args), port=port, app=app)
    with gunicorn:
        gunicorn.kind = request.param
        yield gunicorn
    if request.param == "redis":
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"\\{{{prefix}\\}}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def request_from(
    address: str, server: Gunicorn, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60, source_address=(address, 0))
    try:
        conn.request("POST" if body is not None else "GET", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def claim_from(address: str, server: Gunicorn, key: str, code: str, email: str) -> tuple[int, str]:
    body = json.dumps({"code": code, "email": email}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return request_from(address, server, "/codes/claim", body, headers)


def at_once(calls) -> list:
    """Run every call on a thread of its own, all released together."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def generate(server: Gunicorn, secret_key: str, **body) -> str:
    headers = {"Authorization": f"Bearer {secret_key}", "Content-Type": "application/json"}
    body = json.dumps({"amount": 1, **body}).encode()
    status, text = request_from("127.0.0.1", server, "/codes/generate", body, headers)
    assert status == 200, text
    return json.loads(text)["data"][0]["code"]


def test_the_make_run_configuration_serves_one_process(server):
    if server.kind == "make-run":
        assert len(worker_pids(server)) == 1
        assert "serving with 1" in server.log()
    else:
        assert len(worker_pids(server)) == 2


def test_fifty_simultaneous_wrong_guesses_get_ten_answers(server, engine, make_project):
    project = make_project(f"guess-{uuid.uuid4().hex[:6]}")
    real = generate(server, project.keys.secret_key)
    address = next(_addresses)

    results = at_once(
        [
            lambda i=i: claim_from(address, server, project.keys.public_key, f"NOPE{i:04d}X", "a@example.com")
            for i in range(50)
        ]
    )

    statuses = Counter(status for status, _ in results)
    assert statuses == {404: GUESSES_PER_MINUTE, 429: 50 - GUESSES_PER_MINUTE}, statuses
    assert all('"code_not_found"' in text for status, text in results if status == 404)
    assert all('"rate_limited"' in text for status, text in results if status == 429)
    # Locked out: even a real code is refused from there (so a 429 says nothing about existence);
    # another address claims it.
    assert claim_from(address, server, project.keys.public_key, real, "b@example.com")[0] == 429
    assert claim_from(next(_addresses), server, project.keys.public_key, real, "b@example.com")[0] == 200


def test_seventy_simultaneous_claims_from_one_address_let_thirty_through(server, engine, make_project):
    project = make_project(f"claims-{uuid.uuid4().hex[:6]}")
    code = generate(server, project.keys.secret_key, allowedClaims=1000)
    address = next(_addresses)

    results = at_once(
        [
            lambda i=i: claim_from(address, server, project.keys.public_key, code, f"c{i}@example.com")
            for i in range(70)
        ]
    )

    statuses = Counter(status for status, _ in results)
    assert statuses == {200: CLAIMS_PER_MINUTE, 429: 70 - CLAIMS_PER_MINUTE}, statuses
    refused = [json.loads(text) for status, text in results if status == 429]
    assert {body["message"] for body in refused} == {
        f"Too many requests: at most {CLAIMS_PER_MINUTE} per 1 minute. Try again later."
    }
    with engine.connect() as conn:
        counter = conn.execute(text("SELECT claims FROM codes WHERE code = :code"), {"code": code}).scalar()
        rows = conn.execute(text("SELECT count(*) FROM claims")).scalar()
    assert counter == rows == CLAIMS_PER_MINUTE


def test_simultaneous_wrong_guesses_on_the_claim_page_get_ten_answers(server, engine, make_project):
    name = f"page-{uuid.uuid4().hex[:6]}"
    make_project(name)
    address = next(_addresses)
    # The form's CSRF token and the session cookie it belongs to.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(address, 0))
    conn.request("GET", f"/p/{name}")
    response = conn.getresponse()
    assert response.status == 200
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.read().decode()).group(1)
    conn.close()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}

    results = at_once(
        [
            lambda i=i: request_from(
                address,
                server,
                f"/p/{name}",
                urlencode({"csrf_token": token, "code": f"NOPE{i:04d}X", "email": "a@example.com"}).encode(),
                headers,
            )
            for i in range(25)
        ]
    )

    statuses = Counter(status for status, _ in results)
    assert statuses == {404: GUESSES_PER_MINUTE, 429: 25 - GUESSES_PER_MINUTE}, statuses
