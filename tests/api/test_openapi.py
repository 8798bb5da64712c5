"""The OpenAPI document describes every route, body, response and error."""

from __future__ import annotations

import pytest

ROUTES = {
    ("/codes", "get"),
    ("/codes/{code}", "get"),
    ("/codes/code/{code}", "get"),
    ("/codes/{code}/claims", "get"),
    ("/codes/generate", "post"),
    ("/codes/claim", "post"),
    ("/codes/send", "post"),
    ("/codes/delete", "post"),
    ("/codes/delete", "delete"),
    ("/claims/exchange", "post"),
}


@pytest.fixture
def spec(app_without_database):
    response = app_without_database.test_client().get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_every_route_is_documented_with_a_summary(spec):
    documented = {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "delete", "put", "patch"}
    }
    assert documented >= ROUTES
    for path, method in ROUTES:
        assert spec["paths"][path][method]["summary"]


def test_every_route_documents_its_errors_in_the_error_shape(spec):
    error = spec["components"]["schemas"]["Error"]
    assert {"success", "code", "error", "message", "time"} <= set(error["required"])
    for path, method in ROUTES:
        responses = spec["paths"][path][method]["responses"]
        assert "200" in responses
        assert "401" in responses, (path, method)


def test_bodies_are_described_with_their_fields(spec):
    generate = spec["paths"]["/codes/generate"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    name = generate["$ref"].rsplit("/", 1)[-1]
    fields = spec["components"]["schemas"][name]["properties"]
    assert {"amount", "validFrom", "validUntil", "allowedClaims", "reservedFor", "type"} <= set(fields)
    assert spec["components"]["schemas"][name]["additionalProperties"] is False


def test_bearer_authentication_is_declared(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}


def test_docs_page_is_served(app_without_database):
    response = app_without_database.test_client().get("/docs")
    assert response.status_code == 200 and b"swagger" in response.data.lower()
