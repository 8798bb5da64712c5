"""CORS: pages on a project's allowed origins claim with its public key; nothing else is CORS."""

from __future__ import annotations

import json

import pytest

from shared import origins
from shared.errors import InvalidInput
from tests.api.conftest import bearer

SHOP = "https://shop.example.com"


@pytest.fixture
def allow(session_factory):
    def set_origins(project, *allowed: str):
        with session_factory() as session:
            origins.set_allowed_origins(session, project.name, list(allowed))
            session.commit()

    return set_origins


def preflight(client, origin: str, path: str = "/codes/claim"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )


def cors_headers(response) -> dict:
    return {name: value for name, value in response.headers if name.lower().startswith("access-control-")}


def test_preflight_for_an_allowed_origin(client, project, allow):
    allow(project, SHOP)
    response = preflight(client, SHOP)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    allowed_headers = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed_headers
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in response.headers["Vary"]


def test_preflight_for_an_origin_nobody_allows_has_no_cors_headers(client, project, allow):
    allow(project, SHOP)
    for origin in (
        "https://evil.example.com",
        "http://shop.example.com",
        "https://shop.example.com:8443",
        "null",
        "https://shop.example.com.evil.example",
    ):
        assert cors_headers(preflight(client, origin)) == {}, origin


def test_a_claim_from_an_allowed_origin_is_readable(client, project, public, generate, allow):
    allow(project, SHOP)
    code = generate()[0]["code"]
    response = client.post(
        "/codes/claim", json={"code": code, "email": "a@example.com"}, headers={**public, "Origin": SHOP}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers["Vary"]
    # So is a refusal, so that the page can say why.
    refused = client.post(
        "/codes/claim", json={"code": "nope", "email": "a@example.com"}, headers={**public, "Origin": SHOP}
    )
    assert refused.status_code == 404
    assert refused.headers["Access-Control-Allow-Origin"] == SHOP


def test_a_claim_is_readable_only_by_the_origins_of_the_keys_project(
    client, project, make_project, public, allow
):
    other = make_project("other")
    allow(other, SHOP)
    # The preflight passes (another project allows the origin; a preflight carries no key)...
    assert preflight(client, SHOP).headers["Access-Control-Allow-Origin"] == SHOP
    # ...but the answer to this project's key is not readable from there.
    response = client.post(
        "/codes/claim", json={"code": "nope", "email": "a@example.com"}, headers={**public, "Origin": SHOP}
    )
    assert cors_headers(response) == {}
    own = client.post(
        "/codes/claim",
        json={"code": "nope", "email": "a@example.com"},
        headers={**bearer(other.keys.public_key), "Origin": SHOP},
    )
    assert own.headers["Access-Control-Allow-Origin"] == SHOP


def test_an_unauthenticated_answer_is_readable_by_an_allowed_origin(client, project, allow):
    allow(project, SHOP)
    response = client.post("/codes/claim", json={}, headers={"Origin": SHOP})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == SHOP


def test_any_origin(client, project, public, allow):
    allow(project, "*")
    response = client.post(
        "/codes/claim",
        json={"code": "nope", "email": "a@example.com"},
        headers={**public, "Origin": "https://anywhere.example"},
    )
    assert response.headers["Access-Control-Allow-Origin"] == "https://anywhere.example"


def test_no_other_route_sends_cors_headers(client, project, secret, generate, allow):
    allow(project, "*")
    code = generate()[0]["code"]
    origin = {"Origin": SHOP}
    responses = [
        client.get("/codes", headers={**secret, **origin}),
        client.get(f"/codes/{code}", headers={**secret, **origin}),
        client.post("/codes/generate", json={"amount": 1}, headers={**secret, **origin}),
        client.post("/claims/exchange", json={"token": "x"}, headers={**secret, **origin}),
        client.get("/healthz", headers=origin),
        preflight(client, SHOP, "/codes/generate"),
        preflight(client, SHOP, "/codes"),
    ]
    for response in responses:
        assert cors_headers(response) == {}, response.request.path


@pytest.mark.parametrize(
    "value, expected",
    [
        ("https://Shop.Example.com", "https://shop.example.com"),
        ("https://shop.example.com/", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("*", "*"),
    ],
)
def test_origins_are_normalized(value, expected):
    assert origins.normalize_origin(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "shop.example.com",
        "ftp://shop.example.com",
        "https://shop.example.com/path",
        "https://user:pw@shop.example.com",
        "https://shop.example.com?x=1",
        "https://",
        "null",
        "",
        "https://shop.example.com:99999",
    ],
)
def test_what_is_not_an_origin(value):
    with pytest.raises(InvalidInput):
        origins.normalize_origin(value)


def test_cli_set_origins(runner, project, client, public):
    result = runner.invoke(
        args=[
            "projects",
            "set-origins",
            project.name,
            "https://Shop.Example.com/",
            "http://localhost:3000",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1]) == {
        "name": project.name,
        "allowedOrigins": [SHOP, "http://localhost:3000"],
    }
    response = client.post(
        "/codes/claim",
        json={"code": "nope", "email": "a@example.com"},
        headers={**public, "Origin": "http://localhost:3000"},
    )
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"

    bad = runner.invoke(args=["projects", "set-origins", project.name, "https://ok.example", "not an origin"])
    assert bad.exit_code != 0
    assert "origins.1" in bad.output

    cleared = runner.invoke(args=["projects", "set-origins", project.name])
    assert cleared.exit_code == 0
    assert "may not be claimed from browsers" in cleared.output
    assert cors_headers(preflight(client, SHOP)) == {}

    missing = runner.invoke(args=["projects", "set-origins", "no-such-project", SHOP])
    assert missing.exit_code != 0 and "project_not_found" in missing.output


@pytest.mark.parametrize(
    "before,after",
    [
        (None, "Origin"),
        ("Accept-Encoding", "Accept-Encoding, Origin"),
        ("Accept-Encoding, origin", "Accept-Encoding, origin"),
        ("X-Origin-Hint", "X-Origin-Hint, Origin"),
    ],
)
def test_claim_answers_vary_on_origin_once_beside_what_they_already_vary_on(before, after):
    from flask import Response

    from api.cors import _vary_on_origin

    response = Response()
    if before:
        response.headers["Vary"] = before
    _vary_on_origin(response)
    assert response.headers.getlist("Vary") == [after]
