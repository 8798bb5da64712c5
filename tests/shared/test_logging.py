"""JSON log lines: one event per line, request ids, masked emails, and no key ever written."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest

from shared.logging import (
    AccessLogFilter,
    JsonFormatter,
    RedactingFilter,
    accept_request_id,
    bound_request_id,
    current_request_id,
    logging_config,
    mask_email,
    redact,
)

PK = "pk_" + "0a1b2c3d" * 6
SK = "sk_" + "f9e8d7c6" * 6


class Capture:
    """A logger whose lines go through the production filter and formatter into a buffer."""

    def __init__(self, name: str = "codes.test", service: str = "api"):
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter(service))
        self.handler.addFilter(RedactingFilter())
        self.logger = logging.getLogger(name)
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.lines()]

    def close(self) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.propagate = True


@pytest.fixture
def capture():
    captured = Capture()
    yield captured
    captured.close()


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("alice@example.com", "a***@example.com"),
        ("Sent to Bob.Smith+promo@mail.example.co.uk.", "Sent to B***@mail.example.co.uk."),
        (
            "GET /codes?reservedFor=carol%40example.org&limit=5",
            "GET /codes?reservedFor=c***%40example.org&limit=5",
        ),
        ("two: x@a.io, y@b.io", "two: x***@a.io, y***@b.io"),
        ("no address here, codes@localhost either", "no address here, codes@localhost either"),
    ],
)
def test_email_addresses_are_masked(text, masked):
    assert redact(text) == masked


def test_masking_twice_changes_nothing():
    once = redact(f"alice@example.com {SK} Bearer {PK}")
    assert redact(once) == once


@pytest.mark.parametrize(
    "secret",
    [SK, PK, SK[:12], "Bearer " + SK, "bearer abc.def.ghi"],
)
def test_keys_and_tokens_never_survive(secret):
    out = redact(f"Authorization failed for {secret} at /codes")
    assert secret not in out
    assert "/codes" in out


DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
CLAIM_TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "line, secret",
    [
        (f"ratelimit 6 per 1 minute (127.0.0.1|{DIGEST}) exceeded at endpoint: codes.Codes", DIGEST),
        (f"[parameters: ('{DIGEST}', 3)]", DIGEST),
        (f"DETAIL:  Key (token_digest)=({DIGEST.upper()}) already exists.", DIGEST.upper()),
        (f"303 -> https://shop.example/welcome?claim_token={CLAIM_TOKEN}", CLAIM_TOKEN),
        (f'{{"token": "{CLAIM_TOKEN}"}}', CLAIM_TOKEN),
        ("secret whsec_b3BlbiBzZXNhbWUgYW5kIGZyaWVuZHMgb2Y9", "b3BlbiBzZXNhbWU"),
    ],
)
def test_digests_claim_tokens_and_webhook_secrets_never_survive(line, secret):
    assert secret not in redact(line)


def test_a_request_id_is_not_mistaken_for_a_token():
    assert redact(f"request {CLAIM_TOKEN} done") == f"request {CLAIM_TOKEN} done"


def test_discord_tokens_and_url_passwords_are_removed():
    token = "MTA4NjY0NTk5NzY4Mzk0NzU4Mw.GhX1aB.abcdefghijklmnopqrstuvwxyz0123456789"
    out = redact(f"login with {token} to postgresql+psycopg://codes:s3cret-pw@db:5432/codes")
    assert token not in out
    assert "s3cret-pw" not in out
    assert "postgresql+psycopg://codes:***@db:5432/codes" in out


def test_mask_email_keeps_the_domain():
    assert mask_email("Lead@Example.com") == "L***@Example.com"


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("3f2c9a1e-7b4d-4c1a-9e8f-0a1b2c3d4e5f", True),
        ("Root=1-67891233-abcdef012345678912345678", True),
        ("req_01HZX.9:abc/def+==", True),
        ("", False),
        ("   ", False),
        ("x" * 129, False),
        ("has space", False),
        ('quote"', False),
        ("line\nbreak", False),
        ("<script>", False),
        ("über", False),
        (None, False),
    ],
)
def test_incoming_request_ids_are_validated(value, accepted):
    assert (accept_request_id(value) is not None) is accepted


def test_a_line_is_one_json_object_with_the_usual_fields(capture):
    capture.logger.info("Sent %s codes", 3, extra={"project_id": 7})
    (line,) = capture.lines()
    event = json.loads(line)
    assert event["message"] == "Sent 3 codes"
    assert event["level"] == "info"
    assert event["logger"] == "codes.test"
    assert event["service"] == "api"
    assert event["project_id"] == 7
    assert isinstance(event["pid"], int)
    assert event["time"].endswith("Z") and "T" in event["time"]
    assert "request_id" not in event


def test_lines_inside_a_bound_request_id_carry_it(capture):
    with bound_request_id("req-1") as request_id:
        assert current_request_id() == "req-1" == request_id
        capture.logger.info("inside")
        with bound_request_id() as generated:
            capture.logger.info("nested")
        capture.logger.info("inside again")
    capture.logger.info("outside")
    events = capture.events()
    assert [e.get("request_id") for e in events] == ["req-1", generated, "req-1", None]
    assert len(generated) == 32


def test_request_ids_do_not_leak_between_threads(capture):
    seen = {}

    def work(name):
        with bound_request_id(f"req-{name}"):
            seen[name] = current_request_id()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {n: f"req-{n}" for n in range(5)}
    assert current_request_id() is None


def test_emails_and_keys_are_masked_in_messages_arguments_and_extras(capture):
    capture.logger.warning(
        "Delivery to %s failed (key %s)", "alice@example.com", SK, extra={"recipient": "bob@example.com"}
    )
    (line,) = capture.lines()
    assert "alice@example.com" not in line and "bob@example.com" not in line
    assert SK not in line and SK[3:15] not in line
    event = json.loads(line)
    assert event["message"] == "Delivery to a***@example.com failed (key sk_***)"
    assert event["recipient"] == "b***@example.com"


def test_tracebacks_are_one_line_and_masked(capture):
    try:
        raise ValueError(f"duplicate claim by alice@example.com with {PK}")
    except ValueError:
        capture.logger.exception("claim failed")
    (line,) = capture.lines()
    event = json.loads(line)
    assert "Traceback (most recent call last)" in event["exception"]
    assert "ValueError: duplicate claim by a***@example.com with pk_***" in event["exception"]
    assert "alice@example.com" not in line and PK not in line


def test_gunicorn_access_records_become_fields_without_headers():
    atoms = {
        "h": "10.0.0.7",
        "m": "POST",
        "U": "/codes/claim",
        "q": "email=alice%40example.com",
        "s": "409",
        "B": 123,
        "M": 14,
        "{user-agent}i": "curl/8.5",
        "{authorization}i": "Bearer " + SK,
        "{x-request-id}o": "abc-123",
    }
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(h)s %(r)s", (atoms,), None)
    assert AccessLogFilter().filter(record) and RedactingFilter().filter(record)
    event = json.loads(JsonFormatter("api").format(record))
    assert event["message"] == "POST /codes/claim 409"
    assert event["request_id"] == "abc-123"
    assert event["http"] == {
        "method": "POST",
        "path": "/codes/claim",
        "query": "email=a***%40example.com",
        "status": 409,
        "bytes": 123,
        "duration_ms": 14,
        "remote_addr": "10.0.0.7",
        "user_agent": "curl/8.5",
    }
    assert SK not in json.dumps(event)


def test_the_process_configuration_routes_everything_through_one_json_handler():
    config = logging_config("worker", "warning")
    assert config["root"] == {"level": "WARNING", "handlers": ["stderr"]}
    assert config["handlers"]["stderr"]["filters"] == ["redact"]
    assert config["formatters"]["json"]["service"] == "worker"
    # gunicorn's loggers write through the root handler only, so each line appears once.
    for name in ("gunicorn.error", "gunicorn.access"):
        assert config["loggers"][name]["handlers"] == []
        assert config["loggers"][name]["propagate"] is True
    assert config["disable_existing_loggers"] is False


def test_a_malformed_log_call_is_written_not_raised(capture):
    capture.logger.info("two placeholders %s %s", "alice@example.com")
    (event,) = capture.events()
    assert event["message"].startswith("two placeholders %s %s")
    assert "a***@example.com" in event["message"]
