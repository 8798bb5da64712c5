"""The application factory: configuration in layers, and the names other modules rely on."""

from __future__ import annotations

from api import create_app, endpoints


def test_config_overrides_come_last(tmp_path, monkeypatch):
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "2048")
    monkeypatch.setenv("RATELIMIT_CLAIM_PER_IP", "7 per minute")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
            "RATELIMIT_CLAIM_PER_IP": "3/second",
        }
    )
    assert app.config["MAX_CONTENT_LENGTH"] == 2048, "from the environment"
    assert app.config["RATELIMIT_CLAIM_PER_IP"] == "3/second", "the override wins"
    assert app.config["SETTINGS"].ratelimit_claim_per_ip == "7 per minute"


def test_the_endpoints_singled_out_by_limits_and_cors_exist(app_without_database):
    for name in (endpoints.CLAIM, endpoints.GENERATE, endpoints.SEND):
        assert name in app_without_database.view_functions, name


def test_every_route_answers_in_one_error_shape_without_a_database(app_without_database):
    client = app_without_database.test_client()
    for method, path, status in (("get", "/nowhere", 404), ("put", "/codes/claim", 405)):
        body = getattr(client, method)(path).get_json()
        assert body["success"] is False and body["code"] == status
