"""Every failure has one JSON shape, and checks run in order: auth, then body, then domain."""

from __future__ import annotations

import json
import logging
import time

import pytest

from shared import codes
from tests.api.conftest import bearer


def assert_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    body = response.get_json()
    assert body["success"] is False
    assert body["code"] == status
    assert body["error"] == error
    assert isinstance(body["message"], str) and body["message"]
    assert abs(body["time"] - time.time() * 1000) < 60_000
    return body


def test_unknown_route_is_json_404(client):
    assert_error(client.get("/nowhere"), 404, "not_found")


def test_wrong_method_is_json_405_with_allow(client, secret):
    response = client.put("/codes/generate", headers=secret)
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_missing_authorization_is_401(client):
    body = assert_error(client.post("/codes/generate", json={"amount": 1}), 401, "unauthorized")
    assert body["message"] == "Incorrect Bearer token specified"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic abc",
        "sk_" + "a" * 48,
        "Bearer sk_123",
        "Bearer pk_" + "A" * 48,
        "Bearer sk_" + "0" * 48,
    ],
)
def test_malformed_or_unknown_key_is_401(client, project, header):
    response = client.get("/codes", headers={"Authorization": header})
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("get", "/codes", None),
        ("get", "/codes/anything", None),
        ("get", "/codes/code/anything", None),
        ("get", "/codes/anything/claims", None),
        ("post", "/codes/generate", {"amount": 1}),
        ("post", "/codes/send", {"code": "x", "emails": ["a@example.com"]}),
        ("post", "/codes/delete", {"code": "x"}),
        ("delete", "/codes/delete", {"code": "x"}),
        ("post", "/claims/exchange", {"token": "x"}),
    ],
)
def test_public_key_may_only_claim(client, public, method, path, body):
    response = getattr(client, method)(path, json=body, headers=public)
    assert_error(response, 403, "secret_key_required")


def test_authentication_comes_before_the_body(client):
    assert_error(client.post("/codes/generate", data="{nope"), 401, "unauthorized")


UNKNOWN_PUBLIC = bearer("pk_" + "0" * 48)
UNKNOWN_SECRET = bearer("sk_" + "0" * 48)


_CLAIMS_GONE_WRONG = [
    ("post", "/codes/claim", {"json": {"code": "x", "email": "nope"}}),
    ("post", "/codes/claim", {"json": {"code": "x"}}),
    ("post", "/codes/claim", {"data": '{"code": "x"', "content_type": "application/json"}),
    ("post", "/codes/claim", {"json": {"code": "no-such-code", "email": "a@example.com"}}),
    ("post", "/codes/claim", {"json": {"code": "x", "email": "a@example.com", "extra": 1}}),
]
_SECRET_ROUTES_GONE_WRONG = [
    ("post", "/codes/generate", {"json": {"amount": 0}}),
    ("get", "/codes/no-such-code", {}),
    ("get", "/codes/code/no-such-code", {}),
    ("get", "/codes/" + "x" * 300, {}),
]


@pytest.mark.parametrize(
    "key,method,path,kwargs",
    [(UNKNOWN_PUBLIC, *case) for case in _CLAIMS_GONE_WRONG]
    + [(UNKNOWN_SECRET, *case) for case in _CLAIMS_GONE_WRONG + _SECRET_ROUTES_GONE_WRONG],
)
def test_an_unknown_key_is_401_whatever_else_is_wrong(client, project, key, method, path, kwargs):
    response = getattr(client, method)(path, headers=key, **kwargs)
    assert_error(response, 401, "unauthorized")


def test_an_unknown_key_with_a_bad_idempotency_key_is_401(client, project):
    response = client.post(
        "/codes/claim",
        json={"code": "x", "email": "a@example.com"},
        headers={**UNKNOWN_PUBLIC, "Idempotency-Key": "bad key with spaces"},
    )
    assert_error(response, 401, "unauthorized")


def test_an_unknown_public_key_on_a_secret_route_is_401_not_403(client, project):
    assert_error(client.get("/codes/anything", headers=UNKNOWN_PUBLIC), 401, "unauthorized")


def test_another_projects_key_claims_nothing_and_finds_nothing(client, project, make_project, generate):
    (code,) = generate(allowedClaims=5)
    other = make_project("other")
    claim = {"code": code["code"], "email": "a@example.com"}
    assert_error(
        client.post("/codes/claim", json=claim, headers=bearer(other.keys.public_key)), 404, "code_not_found"
    )
    assert_error(
        client.get(f"/codes/{code['code']}", headers=bearer(other.keys.secret_key)), 404, "code_not_found"
    )
    assert_error(client.post("/codes/claim", json=claim, headers=UNKNOWN_SECRET), 401, "unauthorized")
    looked_up = client.get(f"/codes/{code['code']}", headers=bearer(project.keys.secret_key))
    assert looked_up.get_json()["data"]["claims"] == 0


def test_body_comes_before_the_domain(client, public):
    response = client.post("/codes/claim", json={"code": "unknown-code", "email": "nope"}, headers=public)
    body = assert_error(response, 422, "validation_error")
    assert list(body["errors"]) == ["email"]


def test_malformed_json_is_400_invalid_json(client, secret):
    response = client.post(
        "/codes/generate", data='{"amount": 1', headers=secret, content_type="application/json"
    )
    assert_error(response, 400, "invalid_json")


def test_json_without_content_type_is_read(client, secret):
    response = client.post("/codes/generate", data='{"amount": 1}', headers=secret)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "payload, message",
    [
        (b'{"amount": 1, "batch": ' + b"[" * 32 + b"]" * 32 + b"}", "more than 32 deep"),
        (b"[" * 1000 + b"]" * 1000, "more than 32 deep"),
        (b'{"a":' * 100_000, "more than 32 deep"),
        (b'{"amount": 1, "amount": 2}', 'names "amount" more than once'),
        (b'{"amount": 1, "batch": {"x": 1, "x": 2}}', 'names "x" more than once'),
        (b'{"amount": NaN}', "NaN is not a JSON number"),
        (b'{"amount": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"batch": "\xff"}', "not valid UTF-8"),
        (b'{"batch": "\xed\xa0\x80"}', "not valid UTF-8"),
        (b'{"amount": ' + b"9" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_json_bodies_are_read_strictly(client, secret, payload, message):
    response = client.post("/codes/generate", data=payload, headers=secret, content_type="application/json")
    body = assert_error(response, 400, "invalid_json")
    assert message in body["message"]


def test_32_levels_and_a_byte_order_mark_are_fine(client, secret):
    nested = b'{"amount": 1, "batch": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}'
    response = client.post("/codes/generate", data=nested, headers=secret, content_type="application/json")
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["batch"]
    bom = b'\xef\xbb\xbf{"amount": 1}'
    assert client.post("/codes/generate", data=bom, headers=secret).status_code == 200


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/codes/claim", {"code": "a\ud800b", "email": "a@example.com"}, "code"),
        ("/codes/claim", {"code": "abc\u0000", "email": "a@example.com"}, "code"),
        ("/codes/claim", {"code": "abc", "email": "a\u0000@example.com"}, "email"),
        ("/codes/send", {"code": "abc", "emails": ["a@example.com", "b\udfff@example.com"]}, "emails.1"),
        ("/codes/delete", {"code": "\udc00"}, "code"),
        ("/claims/exchange", {"token": "a\ud800"}, "token"),
        ("/webhooks", {"url": "https://shop.example/\u0000"}, "url"),
        ("/webhooks/construct", {"event": "\u0000"}, "event"),
    ],
)
def test_nul_and_lone_surrogates_are_refused_by_field(client, secret, path, body, field):
    # As a client's JSON library sends them: escaped (\ud800, \u0000).
    response = client.post(path, data=json.dumps(body), headers=secret, content_type="application/json")
    errors = assert_error(response, 422, "validation_error")["errors"]
    assert errors == {field: ["Must not contain NUL or unpaired surrogate characters."]}


@pytest.mark.parametrize(
    "path",
    [
        "/codes/abc%00",
        "/codes/code/%00",
        "/codes/abc%00/claims",
        "/codes/abc%00/deliveries",
        "/codes/%00/claims.csv",
    ],
)
def test_nul_in_a_code_in_the_path_is_422(client, secret, path):
    assert_error(client.get(path, headers=secret), 422, "validation_error")


@pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "42", "null"])
def test_a_body_that_is_not_an_object_is_422(client, secret, payload):
    response = client.post("/codes/generate", data=payload, headers=secret, content_type="application/json")
    body = assert_error(response, 422, "validation_error")
    assert body["errors"]


def test_validation_names_every_bad_field(client, secret):
    response = client.post(
        "/codes/generate",
        headers=secret,
        json={
            "amount": "2",
            "allowedClaim": 3,
            "allowedClaims": 2.5,
            "reservedFor": "not-an-email",
            "validUntil": "2000-01-01T00:00:00Z",
            "type": "emoji",
        },
    )
    body = assert_error(response, 422, "validation_error")
    assert set(body["errors"]) == {
        "amount",
        "allowedClaim",
        "allowedClaims",
        "reservedFor",
        "validUntil",
        "type",
    }
    assert body["errors"]["allowedClaim"] == ["Unknown field."]


@pytest.mark.parametrize("amount", [True, 2.5, "2", None, 0, 10_001, -1])
def test_amount_must_be_an_integer_in_range(client, secret, amount):
    response = client.post("/codes/generate", json={"amount": amount}, headers=secret)
    assert "amount" in assert_error(response, 422, "validation_error")["errors"]


def test_missing_body_names_required_fields(client, secret):
    body = assert_error(client.post("/codes/send", headers=secret), 422, "validation_error")
    assert set(body["errors"]) == {"code", "emails"}


def test_oversized_body_is_413_in_the_error_shape(app, client, secret):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post(
        "/codes/send", headers=secret, json={"code": "x", "emails": [f"a{i}@example.com" for i in range(200)]}
    )
    assert_error(response, 413, "payload_too_large")


def test_unexpected_exception_is_500_logged_without_internals(client, secret, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals: connection string")

    monkeypatch.setattr(codes, "get_code", explode)
    with caplog.at_level(logging.ERROR):
        response = client.get("/codes/anything", headers=secret)
    body = assert_error(response, 500, "internal_error")
    assert "internals" not in response.get_data(as_text=True)
    assert "Reference:" in body["message"]
    assert any("secret internals" in (r.exc_text or "") or r.exc_info for r in caplog.records)
