"""Rate limits: per IP and per key on every route, tighter ones on claims, generate and send,
anti-guessing on claims, trusted proxies, Redis storage, and what is never limited.

Each test builds an app with small limits and memory counters of its own. Limits do not depend on
the database, so these run on SQLite only.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
import redis

from shared.projects import digest
from tests.api.conftest import bearer
from tests.support import redis_url_or_skip

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

# Every limit loose, so a test tightens only the one it is about.
LOOSE = {
    "RATELIMIT_PER_IP": "1000/minute",
    "RATELIMIT_PER_KEY": "1000/minute",
    "RATELIMIT_CLAIM_PER_IP": "1000/minute",
    "RATELIMIT_GENERATE_PER_KEY": "1000/minute",
    "RATELIMIT_SEND_PER_KEY": "1000/minute",
    "RATELIMIT_CLAIM_GUESSES": "1000/minute",
}


@pytest.fixture
def limited(make_app):
    def make(**limits):
        return make_app(**{"RATELIMIT_ENABLED": True, **LOOSE, **limits}).test_client()

    return make


def from_ip(ip: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def assert_rate_limited(response, limit: int):
    assert response.status_code == 429, response.get_json()
    body = response.get_json()
    assert set(body) == {"success", "code", "error", "message", "time"}
    assert (body["success"], body["code"], body["error"]) == (False, 429, "rate_limited")
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) >= int(time.time())


def make_code(client, key_headers, **body) -> str:
    response = client.post(
        "/codes/generate", json={"amount": 1, **body}, headers=key_headers, **from_ip("10.9.9.9")
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"][0]["code"]


def claim(client, headers, code, email="lead@example.com", ip="10.0.0.1"):
    return client.post("/codes/claim", json={"code": code, "email": email}, headers=headers, **from_ip(ip))


def test_per_ip_limit_counts_every_route_and_answers_429_in_the_error_shape(limited, secret, public):
    client = limited(RATELIMIT_PER_IP="3/minute")
    ip = from_ip("10.0.0.1")

    first = client.get("/codes", headers=secret, **ip)
    assert first.status_code == 200
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("3", "2")
    assert "Retry-After" not in first.headers
    assert (
        client.post(
            "/codes/claim", json={"code": "nope", "email": "a@example.com"}, headers=public, **ip
        ).status_code
        == 404
    )
    assert client.get("/no-such-route", **ip).status_code == 404

    assert_rate_limited(client.get("/codes", headers=secret, **ip), 3)
    assert_rate_limited(client.get("/no-such-route", **ip), 3)
    assert client.get("/codes", headers=secret, **from_ip("10.0.0.2")).status_code == 200


def test_per_key_limit_is_shared_across_ips_and_separate_per_key(limited, secret, public, make_project):
    client = limited(RATELIMIT_PER_KEY="2/minute")
    other = bearer(make_project("other").keys.secret_key)

    assert client.get("/codes", headers=secret, **from_ip("10.0.0.1")).status_code == 200
    assert client.get("/codes", headers=secret, **from_ip("10.0.0.2")).status_code == 200
    assert_rate_limited(client.get("/codes", headers=secret, **from_ip("10.0.0.3")), 2)

    assert client.get("/codes", headers=other, **from_ip("10.0.0.3")).status_code == 200
    assert claim(client, public, "nope", ip="10.0.0.3").status_code == 404
    # Requests without a well-formed key are limited by IP only: they never touch a key's counter.
    for _ in range(3):
        assert (
            client.get("/codes", headers=bearer("sk_" + "0" * 47), **from_ip("10.0.0.4")).status_code == 401
        )


def test_claims_per_ip(limited, secret, public):
    client = limited(RATELIMIT_CLAIM_PER_IP="2/minute")
    code = make_code(client, secret, allowedClaims=10)

    assert claim(client, public, code, "a@example.com").status_code == 200
    assert claim(client, public, code, "b@example.com").status_code == 200
    assert_rate_limited(claim(client, public, code, "c@example.com"), 2)

    assert client.get("/codes", headers=secret, **from_ip("10.0.0.1")).status_code == 200
    assert claim(client, public, code, "c@example.com", ip="10.0.0.2").status_code == 200


def test_generate_and_send_per_key(limited, secret, make_project):
    client = limited(RATELIMIT_GENERATE_PER_KEY="1/minute", RATELIMIT_SEND_PER_KEY="1/minute")
    other = bearer(make_project("other").keys.secret_key)

    code = make_code(client, secret)
    assert_rate_limited(client.post("/codes/generate", json={"amount": 1}, headers=secret), 1)
    assert client.post("/codes/generate", json={"amount": 1}, headers=other).status_code == 200

    send = {"code": code, "emails": ["a@example.com"]}
    assert client.post("/codes/send", json=send, headers=secret).status_code == 200
    assert_rate_limited(client.post("/codes/send", json=send, headers=secret), 1)
    # Other routes with the same key are not affected.
    assert client.get(f"/codes/{code}", headers=secret).status_code == 200


def test_guessing_unknown_codes_blocks_claims_from_that_ip_for_that_project(
    limited, secret, public, make_project
):
    client = limited(RATELIMIT_CLAIM_GUESSES="3/minute")
    code = make_code(client, secret, allowedClaims=10)
    other = make_project("other")
    other_code = make_code(client, bearer(other.keys.secret_key))

    for guess in ("aaaaaa", "bbbbbb", "cccccc"):
        assert claim(client, public, guess).get_json()["error"] == "code_not_found"
    blocked = claim(client, public, code)
    assert_rate_limited(blocked, 3)
    assert "unknown codes" in blocked.get_json()["message"]

    # Only claims are blocked, only from that IP, only for that project.
    assert client.get("/codes", headers=secret, **from_ip("10.0.0.1")).status_code == 200
    assert claim(client, public, code, ip="10.0.0.2").status_code == 200
    assert claim(client, bearer(other.keys.public_key), other_code).status_code == 200


def test_refusals_of_existing_codes_do_not_count_as_guesses(limited, secret, public):
    client = limited(RATELIMIT_CLAIM_GUESSES="2/minute")
    full = make_code(client, secret, allowedClaims=1)
    reserved = make_code(client, secret, reservedFor="vip@example.com")
    fresh = make_code(client, secret)
    assert claim(client, public, full, "first@example.com").status_code == 200

    for i in range(5):
        assert claim(client, public, full, f"late{i}@example.com").get_json()["error"] == "code_fully_claimed"
        assert claim(client, public, full, "first@example.com").get_json()["error"] == "code_already_claimed"
        assert claim(client, public, reserved, f"x{i}@example.com").get_json()["error"] == "code_reserved"
        assert claim(client, public, full, "not-an-email").status_code == 422

    assert claim(client, public, fresh).status_code == 200


def test_a_replayed_guess_does_not_count_again(limited, public):
    client = limited(RATELIMIT_CLAIM_GUESSES="2/minute")
    replayed = {**public, "Idempotency-Key": "guess-1"}

    assert claim(client, replayed, "aaaaaa").status_code == 404
    for _ in range(5):
        again = claim(client, replayed, "aaaaaa")
        assert (again.status_code, again.headers["Idempotent-Replayed"]) == (404, "true")
    assert claim(client, public, "bbbbbb").status_code == 404
    assert_rate_limited(claim(client, public, "cccccc"), 2)


def test_claims_are_allowed_again_when_the_window_ends(limited, secret, public):
    client = limited(RATELIMIT_CLAIM_GUESSES="2/second")
    code = make_code(client, secret)
    assert claim(client, public, "aaaaaa").status_code == 404
    assert claim(client, public, "bbbbbb").status_code == 404
    blocked = claim(client, public, code)
    assert blocked.status_code == 429

    time.sleep(1.05)
    assert claim(client, public, code).status_code == 200


def test_ratelimit_enabled_false_turns_every_limit_off(make_app, secret):
    client = make_app(RATELIMIT_ENABLED=False, RATELIMIT_PER_IP="1/minute").test_client()
    responses = [client.get("/codes", headers=secret) for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5
    assert not any(name.startswith("X-RateLimit") for r in responses for name, _ in r.headers)


def test_health_probes_are_never_limited(limited):
    client = limited(RATELIMIT_PER_IP="1/minute")
    for path in ("/healthz", "/readyz") * 3:
        response = client.get(path)
        assert response.status_code != 429
        assert "X-RateLimit-Limit" not in response.headers
    assert client.get("/codes").status_code == 401
    assert client.get("/codes").status_code == 429


def test_forwarded_for_is_ignored_without_trusted_proxies(limited, secret):
    client = limited(RATELIMIT_PER_IP="1/minute")
    assert client.get("/codes", headers={**secret, "X-Forwarded-For": "1.1.1.1"}).status_code == 200
    assert client.get("/codes", headers={**secret, "X-Forwarded-For": "2.2.2.2"}).status_code == 429


def test_trusted_proxies_take_the_client_ip_from_the_hop_they_appended(limited, secret):
    client = limited(RATELIMIT_PER_IP="1/minute", TRUSTED_PROXIES=1)

    def via_proxy(forwarded_for: str):
        return client.get("/codes", headers={**secret, "X-Forwarded-For": forwarded_for})

    assert via_proxy("1.1.1.1").status_code == 200
    assert via_proxy("2.2.2.2").status_code == 200
    assert via_proxy("1.1.1.1").status_code == 429
    # A client cannot pick its IP: the proxy appends the real one, and only that hop is trusted.
    assert via_proxy("3.3.3.3, 2.2.2.2").status_code == 429


def test_every_rate_limited_operation_documents_its_429(client):
    spec = client.get("/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            documented = "429" in operation["responses"]
            assert documented == (path not in ("/healthz", "/readyz")), (method, path)
            if documented:
                response = operation["responses"]["429"]
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }
                assert {"Retry-After", "X-RateLimit-Limit"} <= set(response["headers"])


def test_a_malformed_limit_fails_at_startup(make_app):
    with pytest.raises(ValueError):
        make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_IP="lots per minute")


def test_redis_counters_are_shared_by_every_process(limited, secret):
    url = redis_url_or_skip()
    prefix = f"codes-test-{uuid.uuid4().hex}"
    first = limited(REDIS_URL=url, RATELIMIT_KEY_PREFIX=prefix, RATELIMIT_PER_IP="2/minute")
    second = limited(REDIS_URL=url, RATELIMIT_KEY_PREFIX=prefix, RATELIMIT_PER_IP="2/minute")

    assert first.get("/codes", headers=secret).status_code == 200
    assert second.get("/codes", headers=secret).status_code == 200
    assert_rate_limited(first.get("/codes", headers=secret), 2)
    assert_rate_limited(second.get("/codes", headers=secret), 2)


def test_without_redis_each_process_falls_back_to_memory(limited, secret):
    # Nothing listens on port 1: every request must still be served, and limited.
    client = limited(REDIS_URL="redis://127.0.0.1:1/0", RATELIMIT_PER_IP="2/minute")
    assert client.get("/codes", headers=secret).status_code == 200
    assert client.get("/codes", headers=secret).status_code == 200
    assert client.get("/codes", headers=secret).status_code == 429


def test_one_redis_round_trip_per_request_and_counters_named_by_key_rows(limited, secret, public, project):
    url = redis_url_or_skip()
    prefix = f"codes-test-{uuid.uuid4().hex}"
    # Give-backs wait for the next request (the background thread's delay is out of reach here).
    client = limited(REDIS_URL=url, RATELIMIT_KEY_PREFIX=prefix, RATELIMIT_GIVE_BACK_SECONDS=30)
    code = make_code(client, secret, allowedClaims=10)
    watcher = redis.Redis.from_url(url)

    def round_trips(request) -> tuple[int, list[str]]:
        """The status, and the commands the app sent to this test's counters meanwhile."""
        with watcher.monitor() as monitor:
            status = request()
            watcher.echo(f"{prefix}-done")
            seen = []
            while f"{prefix}-done" not in (command := monitor.next_command())["command"]:
                # What the app sent (the script's own commands show as client_type "lua").
                if prefix in command["command"] and command["client_type"] != "lua":
                    seen.append(command["command"])
        return status, seen

    def lookup():
        return client.get(f"/codes/{code}", headers=secret).status_code

    status, sent = round_trips(lookup)
    assert status == 200 and [c.split()[0] for c in sent] == ["EVALSHA"], sent
    assert "claim-guesses" not in sent[0]
    # A claim reserves a guess (one call); not being a guess, it gives it back on the next call.
    status, sent = round_trips(lambda: claim(client, public, code, "a@example.com").status_code)
    assert status == 200 and [c.split()[0] for c in sent] == ["EVALSHA"], sent
    assert sent[0].count("claim-guesses") == 1
    status, sent = round_trips(lookup)
    assert status == 200 and [c.split()[0] for c in sent] == ["EVALSHA"], sent
    assert sent[0].count("claim-guesses") == 1  # the claim's reservation, given back
    status, sent = round_trips(lambda: claim(client, public, "nope").status_code)
    assert status == 404 and [c.split()[0] for c in sent] == ["EVALSHA"], sent

    names = [name.decode() for name in watcher.scan_iter(match=f"\\{{{prefix}\\}}:*", count=1000)]
    keys = f"p{project.id}.sk", f"p{project.id}.pk"
    pattern = re.compile(
        rf"\{{{prefix}\}}:(ip:[0-9.]+|key:p\d+\.[ps]k|claim-ip:[0-9.]+|generate-key:p\d+\.sk"
        rf"|claim-guesses:[0-9.]+\|p\d+\.pk):60s"
    )
    assert names and all(pattern.fullmatch(name) for name in names), names
    assert {name.split(":")[2].split("|")[-1] for name in names} >= set(keys)
    raw_keys = (secret["Authorization"][7:], public["Authorization"][7:])
    for value in (*raw_keys, *(digest(key) for key in raw_keys)):
        assert not any(value[:16] in name for name in names)
    # Only the guess kept its reservation.
    (guesses,) = [name for name in names if "claim-guesses" in name]
    assert watcher.hget(guesses, "n") == b"1"
    watcher.delete(*names)
    watcher.close()


def test_a_give_back_no_request_carries_is_sent_by_the_process_soon_after(limited, secret, public):
    url = redis_url_or_skip()
    prefix = f"codes-test-{uuid.uuid4().hex}"
    client = limited(REDIS_URL=url, RATELIMIT_KEY_PREFIX=prefix, RATELIMIT_GIVE_BACK_SECONDS=0.05)
    code = make_code(client, secret, allowedClaims=10)
    watcher = redis.Redis.from_url(url)
    assert claim(client, public, code).status_code == 200
    (guesses,) = watcher.keys(f"\\{{{prefix}\\}}:claim-guesses:*")
    deadline = time.monotonic() + 5
    while watcher.hget(guesses, "n") != b"0" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert watcher.hget(guesses, "n") == b"0"
    watcher.delete(*watcher.keys(f"\\{{{prefix}\\}}:*"))
    watcher.close()
