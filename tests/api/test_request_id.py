"""X-Request-ID: taken from the request or generated, on every response, in every log line."""

from __future__ import annotations

import json
import logging
import re

import pytest

from api import create_app
from api.request_id import current_request_id
from tests.log_capture import json_log_lines

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def app(database, engine):
    """The app with two extra routes: one that logs and one that fails unexpectedly."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database.url, "TESTING": True})
    log = logging.getLogger("codes.test.request")

    @app.get("/_test/log")
    def log_something():
        log.info("looking up %s", "alice@example.com")
        return {"requestId": current_request_id()}

    @app.get("/_test/boom")
    def boom():
        raise RuntimeError("exploded for bob@example.com")

    yield app
    from api.extensions import db

    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def log_lines():
    with json_log_lines("api") as lines:
        yield lines


def test_an_incoming_request_id_is_returned_and_bound(client):
    response = client.get("/_test/log", headers={"X-Request-ID": "lb-7f3a.91"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.91"
    assert response.get_json() == {"requestId": "lb-7f3a.91"}


def test_a_request_without_one_gets_a_new_id_each_time(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second)
    assert first != second


@pytest.mark.parametrize("unsafe", ["x" * 200, "two words", "<script>alert(1)</script>", "a;b", "é"])
def test_an_unsafe_request_id_is_replaced(client, unsafe):
    response = client.get("/healthz", headers={"X-Request-ID": unsafe})
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])


def test_exactly_one_request_id_header(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc"})
    assert response.headers.getlist("X-Request-ID") == ["abc"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", "/no/such/route", {}, 404),
        ("put", "/codes/claim", {}, 405),
        ("get", "/codes", {}, 401),
        ("post", "/codes/claim", {"data": "{not json", "headers": {"Authorization": "Bearer x"}}, 401),
        ("get", "/_test/boom", {}, 500),
    ],
)
def test_error_responses_carry_the_request_id(client, method, path, kwargs, status):
    headers = {"X-Request-ID": "err-check-1", **kwargs.pop("headers", {})}
    response = getattr(client, method)(path, headers=headers, **kwargs)
    assert response.status_code == status
    assert response.get_json()["success"] is False
    assert response.headers["X-Request-ID"] == "err-check-1"


def test_oversized_bodies_are_refused_with_the_request_id(client, secret):
    body = b'{"code": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/codes/claim", data=body, headers={**secret, "X-Request-ID": "big-1"})
    assert response.status_code == 413
    assert response.headers["X-Request-ID"] == "big-1"


def test_every_log_line_of_a_request_carries_its_id(client, log_lines):
    client.get("/_test/log", headers={"X-Request-ID": "trace-42"})
    client.get("/_test/log")
    events = [e for e in log_lines() if e["logger"] == "codes.test.request"]
    assert [e["request_id"] for e in events][0] == "trace-42"
    assert GENERATED.fullmatch(events[1]["request_id"])
    assert events[0]["message"] == "looking up a***@example.com"


def test_an_unexpected_error_is_logged_with_the_request_id_and_masked(client, log_lines):
    response = client.get("/_test/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    (event,) = [e for e in log_lines() if e["level"] == "error"]
    assert event["request_id"] == "boom-1"
    assert "RuntimeError: exploded for b***@example.com" in event["exception"]
    assert "bob@example.com" not in json.dumps(log_lines())


def test_keys_never_reach_the_logs(client, log_lines, secret, project):
    client.get("/codes/nope", headers=secret)
    client.get("/codes", headers={"Authorization": "Bearer sk_" + "0" * 48})
    client.get("/_test/boom", headers=secret)
    written = json.dumps(log_lines())
    assert log_lines(), "the requests above log something"
    for key in (project.keys.secret_key, project.keys.public_key):
        assert key not in written and key[3:19] not in written
