"""No API key, whole or in part, in a log line, an error body or a traceback.

The keys are sent the way clients send them (valid, mistyped, truncated, as the wrong kind, in the
wrong scheme) and the way careless clients misplace them (in the path, the query, the body, the
Idempotency-Key), through every outcome: success, 401, 403, 404, 409, 422, 429 and a 500. Every
record is captured at DEBUG, SQLAlchemy's statement and parameter logging included.
"""

from __future__ import annotations

import io
import logging
import traceback

import pytest

from shared.logging import JsonFormatter, RedactingFilter
from tests.api.conftest import bearer

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

FRAGMENT = 10  # any 10 consecutive characters of a key's random part is "part of a key"


def fragments(key: str) -> set[str]:
    secret_part = key[3:]
    return {secret_part[i : i + FRAGMENT] for i in range(len(secret_part) - FRAGMENT + 1)}


def assert_no_key(texts: list[str], keys: list[str]) -> None:
    haystack = "\n".join(texts)
    for key in keys:
        leaked = [piece for piece in fragments(key) if piece in haystack]
        assert not leaked, f"part of a key leaked: {leaked[:3]}"


def record_texts(records: list[logging.LogRecord]) -> list[str]:
    texts = []
    for record in records:
        texts.append(record.getMessage())
        texts.extend(repr(value) for name, value in vars(record).items() if name not in ("msg", "args"))
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    return texts


def response_texts(responses) -> list[str]:
    return [response.get_data(as_text=True) + repr(list(response.headers)) for response in responses]


def variants(key: str) -> list[dict]:
    """How a key arrives in the Authorization header, right and wrong."""
    flipped = key[:-1] + ("0" if key[-1] != "0" else "1")
    return [
        bearer(key),
        bearer(flipped),
        bearer(key[:20]),
        bearer(key + "ff"),
        bearer(key.upper()),
        {"Authorization": f"Token {key}"},
        {"Authorization": key},
        bearer(f" {key} "),
    ]


@pytest.fixture
def limited_client(make_app):
    return make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_PER_KEY="6/minute",
        RATELIMIT_PER_IP="1000/minute",
        RATELIMIT_CLAIM_GUESSES="2/minute",
    ).test_client()


def exercise(client, project, generate_code, monkeypatch):
    keys = [project.keys.secret_key, project.keys.public_key]
    code = generate_code()
    responses = []
    # A crash inside a claim: logged with its traceback.
    from shared import codes

    def crash(*args, **kwargs):
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(codes, "claim_code", crash)
        crashed = client.post(
            "/codes/claim",
            json={"code": code, "email": "a@example.com"},
            headers=bearer(project.keys.public_key),
        )
    assert crashed.status_code == 500
    responses.append(crashed)

    for key in keys:
        for headers in variants(key):
            responses += [
                client.get("/codes", headers=headers),
                client.get(f"/codes/{code}", headers=headers),
                client.post("/codes/generate", json={"amount": 1}, headers=headers),
                client.post("/codes/claim", json={"code": code, "email": "a@example.com"}, headers=headers),
                client.post("/codes/claim", json={"code": "nope", "email": "a@example.com"}, headers=headers),
                client.post("/codes/claim", json={"code": code, "email": "bad"}, headers=headers),
                client.post("/codes/send", json={"code": code, "emails": ["x"]}, headers=headers),
                client.post("/codes/delete", json={"code": "nope"}, headers=headers),
                client.post("/claims/exchange", json={"token": "nope"}, headers=headers),
            ]
    return keys, responses


def test_keys_in_the_authorization_header_never_reach_a_log_record(
    limited_client, project, generate, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # statements and their parameters
    keys, responses = exercise(limited_client, project, lambda: generate()[0]["code"], monkeypatch)

    statuses = {response.status_code for response in responses}
    assert {200, 401, 403, 404, 409, 422, 429, 500} <= statuses
    assert any(r.exc_info for r in caplog.records), "the 500 was logged with its traceback"
    assert any(r.name.startswith("sqlalchemy") for r in caplog.records), "statements were logged"
    assert_no_key(record_texts(caplog.records), keys)
    assert_no_key(response_texts(responses), keys)


@pytest.fixture
def production_log():
    """Log lines as production writes them (shared.logging): redacted JSON."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter("api"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_misplaced_keys_never_reach_a_log_line_or_an_error(
    client, project, secret, public, generate, production_log, monkeypatch
):
    keys = [project.keys.secret_key, project.keys.public_key]
    code = generate()[0]["code"]
    secret_key, public_key = keys
    responses = [
        client.get(f"/codes/{secret_key}", headers=secret),
        client.get(f"/codes/code/{public_key}", headers=secret),
        client.get(f"/codes?cursor={secret_key}", headers=secret),
        client.get(f"/codes?reservedFor={secret_key}", headers=secret),
        client.get(f"/codes/{secret_key}/claims", headers=secret),
        client.post("/codes/claim", json={"code": secret_key, "email": "a@example.com"}, headers=public),
        client.post("/codes/claim", json={"code": code, "email": secret_key}, headers=public),
        client.post(
            "/codes/claim",
            json={"code": code, "email": f"{public_key}@example.com", secret_key: 1},
            headers=public,
        ),
        client.post("/codes/generate", json={"amount": 1, "reservedFor": secret_key}, headers=secret),
        client.post("/codes/generate", json={"amount": 1}, headers={**secret, "Idempotency-Key": secret_key}),
        client.post("/codes/generate", json={"amount": 2}, headers={**secret, "Idempotency-Key": secret_key}),
        client.post("/claims/exchange", json={"token": secret_key}, headers=secret),
        client.post("/codes/send", json={"code": code, "emails": [secret_key]}, headers=secret),
        client.get(f"/{secret_key}"),
    ]
    from shared import codes

    def crash(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(codes, "get_code", crash)
    crashed = client.get(f"/codes/{secret_key}", headers=secret)
    assert crashed.status_code == 500
    responses.append(crashed)

    lines = production_log.getvalue().splitlines()
    assert any('"exception"' in line for line in lines), "the 500 was logged with its traceback"
    assert_no_key(lines, keys)
    assert_no_key([response.get_data(as_text=True) for response in responses], keys)


def digest_fragments(value: str, size: int = 16) -> set[str]:
    return {value[i : i + size] for i in range(len(value) - size + 1)}


def test_digests_of_keys_and_claim_tokens_never_reach_a_log_line(
    limited_client, project, generate, production_log, monkeypatch
):
    """Key digests name the limiter's counters (its "ratelimit ... exceeded" line) and SQL
    parameters name key and token digests (a traceback): neither reaches a line, nor does a token."""
    from sqlalchemy import text

    from api.extensions import db
    from shared import codes
    from shared.codes.claim import token_digest
    from shared.projects import digest

    client = limited_client
    code = generate(allowedClaims=5)[0]["code"]
    claimed = client.post(
        "/codes/claim", json={"code": code, "email": "a@example.com"}, headers=bearer(project.keys.public_key)
    )
    assert claimed.status_code == 200, claimed.get_json()
    token = claimed.get_json()["data"]["token"]
    secret = bearer(project.keys.secret_key)
    assert client.post("/claims/exchange", json={"token": token}, headers=secret).status_code == 200
    assert client.post("/claims/exchange", json={"token": token}, headers=secret).status_code == 404

    # A crash whose statement carries the key and token digests as parameters.
    def crash(session, project_id, token):
        statement = text("SELECT id FROM claims WHERE token_digest = :token AND no_such_column = :key")
        db.session.execute(statement, {"token": token_digest(token), "key": digest(project.keys.secret_key)})

    with monkeypatch.context() as patched:
        patched.setattr(codes, "exchange_token", crash)
        crashed = client.post("/claims/exchange", json={"token": token}, headers=secret)
    assert crashed.status_code == 500

    # Past the per-key limit (6 a minute): the limiter writes its line.
    statuses = [client.get("/codes", headers=secret).status_code for _ in range(8)]
    assert statuses[-1] == 429

    lines = production_log.getvalue().splitlines()
    assert any("no_such_column" in line and '"exception"' in line for line in lines), "the crash's traceback"
    assert any("exceeded" in line for line in lines), "the limiter's line"
    secrets = [
        digest(project.keys.secret_key),
        digest(project.keys.public_key),
        token,
        token_digest(token),
    ]
    haystack = "\n".join(lines)
    for value in secrets:
        leaked = [piece for piece in digest_fragments(value) if piece in haystack]
        assert not leaked, f"a digest or token leaked: {leaked[:2]}"
