"""The Idempotency-Key header on generate, claim, send and delete, as a REST client retries."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, func, select

from api.extensions import db
from shared import idempotency
from shared.models import Claim, Code, Delivery, IdempotencyKey
from tests.api.conftest import bearer


def with_key(headers: dict, key: str = "retry-1") -> dict:
    return {**headers, "Idempotency-Key": key}


def count(engine, model, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def assert_replay_of(first, again):
    assert again.status_code == first.status_code
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


def test_a_retried_generate_replays_and_creates_nothing_more(client, secret, engine):
    body = {"amount": 3, "type": "numeric"}
    first = client.post("/codes/generate", json=body, headers=with_key(secret))
    assert first.status_code == 200
    # The same body, formatted otherwise, is the same request.
    again = client.post("/codes/generate", data='{"type":"numeric",   "amount":3}', headers=with_key(secret))
    assert_replay_of(first, again)
    assert count(engine, Code) == 3


def test_a_retried_claim_replays_its_token(client, public, generate, engine):
    code = generate(allowedClaims=5)[0]["code"]
    body = {"code": code, "email": "lead@example.com"}
    first = client.post("/codes/claim", json=body, headers=with_key(public))
    again = client.post("/codes/claim", json=body, headers=with_key(public))
    assert first.status_code == 200
    assert_replay_of(first, again)
    assert again.get_json()["data"]["token"] == first.get_json()["data"]["token"]
    assert count(engine, Claim) == 1


def test_a_retried_send_queues_once(client, secret, generate, engine):
    code = generate()[0]["code"]
    body = {"code": code, "emails": ["a@example.com", "b@example.com"]}
    first = client.post("/codes/send", json=body, headers=with_key(secret))
    assert first.get_json()["data"]["notifiedLeads"] == 2
    assert_replay_of(first, client.post("/codes/send", json=body, headers=with_key(secret)))
    assert count(engine, Delivery) == 2


@pytest.mark.parametrize("method", ["post", "delete"])
def test_a_retried_delete_replays_the_deleted_code_not_a_404(client, secret, generate, method):
    code = generate()[0]["code"]
    send = getattr(client, method)
    first = send("/codes/delete", json={"code": code}, headers=with_key(secret))
    assert first.status_code == 200
    assert_replay_of(first, send("/codes/delete", json={"code": code}, headers=with_key(secret)))
    # Without the key, the retry is what it is.
    assert send("/codes/delete", json={"code": code}, headers=secret).status_code == 404


def test_a_refusal_is_a_result_and_is_replayed(client, public, generate):
    code = generate(allowedClaims=1)[0]["code"]
    assert (
        client.post("/codes/claim", json={"code": code, "email": "a@example.com"}, headers=public).status_code
        == 200
    )
    body = {"code": code, "email": "b@example.com"}
    first = client.post("/codes/claim", json=body, headers=with_key(public))
    assert first.get_json()["error"] == "code_fully_claimed"
    assert_replay_of(first, client.post("/codes/claim", json=body, headers=with_key(public)))


def test_the_same_key_with_another_body_is_409_idempotency_key_reused(client, secret, engine):
    assert client.post("/codes/generate", json={"amount": 1}, headers=with_key(secret)).status_code == 200
    reused = client.post("/codes/generate", json={"amount": 2}, headers=with_key(secret))
    assert reused.status_code == 409
    assert reused.get_json()["error"] == "idempotency_key_reused"
    assert "Idempotent-Replayed" not in reused.headers
    # Another route is another request too.
    other = client.post("/codes/delete", json={"amount": 1}, headers=with_key(secret))
    assert other.status_code in (409, 422)
    assert count(engine, Code) == 1


def test_a_duplicate_while_the_first_runs_is_409_request_in_progress(app, client, secret, project):
    body = {"amount": 1}
    fingerprint = idempotency.fingerprint("POST", "/codes/generate", b'{"amount": 1}')
    with app.app_context():
        idempotency.begin(db.session, project.id, "retry-1", fingerprint)
        db.session.commit()
    response = client.post("/codes/generate", json=body, headers=with_key(secret))
    assert response.status_code == 409
    assert response.get_json()["error"] == "request_in_progress"


def test_a_key_held_by_a_dead_request_is_taken_over_after_its_lease(app, client, secret, project, clock_at):
    clock = clock_at(dt.datetime(2030, 1, 1, 12, 0))
    fingerprint = idempotency.fingerprint("POST", "/codes/generate", b'{"amount":1}')
    with app.app_context():
        idempotency.begin(db.session, project.id, "retry-1", fingerprint)
        db.session.commit()
    clock.advance(seconds=61)
    response = client.post("/codes/generate", json={"amount": 1}, headers=with_key(secret))
    assert response.status_code == 200
    assert_replay_of(response, client.post("/codes/generate", json={"amount": 1}, headers=with_key(secret)))


def test_keys_expire_after_24_hours(client, secret, engine, clock_at):
    clock = clock_at(dt.datetime(2030, 1, 1, 12, 0))
    assert client.post("/codes/generate", json={"amount": 1}, headers=with_key(secret)).status_code == 200
    clock.advance(hours=24, seconds=1)
    fresh = client.post("/codes/generate", json={"amount": 2}, headers=with_key(secret))
    assert fresh.status_code == 200 and "Idempotent-Replayed" not in fresh.headers
    assert count(engine, Code) == 3


def test_keys_are_scoped_to_the_project(client, secret, make_project, engine):
    other = bearer(make_project("other").keys.secret_key)
    assert client.post("/codes/generate", json={"amount": 1}, headers=with_key(secret)).status_code == 200
    response = client.post("/codes/generate", json={"amount": 2}, headers=with_key(other))
    assert response.status_code == 200 and "Idempotent-Replayed" not in response.headers
    assert count(engine, Code) == 3


def test_validation_failures_are_not_stored_so_the_key_can_be_retried(client, secret, engine):
    past = {"amount": 1, "validUntil": "2001-01-01T00:00:00Z"}
    assert client.post("/codes/generate", json=past, headers=with_key(secret)).status_code == 422
    assert client.post("/codes/generate", json={"amount": "1"}, headers=with_key(secret)).status_code == 422
    fixed = client.post("/codes/generate", json={"amount": 1}, headers=with_key(secret))
    assert fixed.status_code == 200 and "Idempotent-Replayed" not in fixed.headers


def test_server_errors_give_the_key_back(client, secret, engine, monkeypatch):
    from shared import codes

    real = codes.generate_codes

    def broken(*args, **kwargs):
        raise RuntimeError("database fell over")

    monkeypatch.setattr(codes, "generate_codes", broken)
    assert client.post("/codes/generate", json={"amount": 1}, headers=with_key(secret)).status_code == 500
    assert count(engine, IdempotencyKey) == 0
    monkeypatch.setattr(codes, "generate_codes", real)
    assert client.post("/codes/generate", json={"amount": 1}, headers=with_key(secret)).status_code == 200


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "has space", "tab\there"])
def test_a_malformed_key_is_400(client, secret, key):
    response = client.post("/codes/generate", json={"amount": 1}, headers=with_key(secret, key))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_idempotency_key"


def test_authentication_comes_before_the_key(client, public):
    response = client.post("/codes/generate", json={"amount": 1}, headers=with_key(public))
    assert response.get_json()["error"] == "secret_key_required"


def test_without_the_header_no_query_touches_the_keys(app, client, public, generate):
    code = generate(allowedClaims=5)[0]["code"]
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        body = {"code": code, "email": "lead@example.com"}
        assert client.post("/codes/claim", json=body, headers=public).status_code == 200
        plain = len(statements)
        body = {"code": code, "email": "other@example.com"}
        assert client.post("/codes/claim", json=body, headers=with_key(public)).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert not any("idempotency_keys" in s for s in statements[:plain])
    assert any("idempotency_keys" in s for s in statements[plain:])


def test_the_openapi_document_describes_the_header(client):
    spec = client.get("/openapi.json").get_json()
    described = {
        (path, method)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method != "parameters"
        and any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    }
    assert described == {
        ("/codes/generate", "post"),
        ("/codes/import", "post"),
        ("/codes/claim", "post"),
        ("/codes/send", "post"),
        ("/codes/delete", "post"),
        ("/codes/delete", "delete"),
    }
    assert "409" in spec["paths"]["/codes/delete"]["delete"]["responses"]


def test_purge_command_deletes_expired_keys(app, runner, client, secret, engine, clock_at):
    clock = clock_at(dt.datetime(2030, 1, 1, 12, 0))
    assert client.post("/codes/generate", json={"amount": 1}, headers=with_key(secret)).status_code == 200
    assert (
        client.post("/codes/generate", json={"amount": 1}, headers=with_key(secret, "k2")).status_code == 200
    )
    clock.advance(hours=25)
    result = runner.invoke(args=["purge-idempotency-keys"])
    assert result.exit_code == 0, result.output
    assert "Purged 2" in result.output
    assert count(engine, IdempotencyKey) == 0
