"""GET /healthz and GET /readyz: no key, never rate limited, the standard envelopes."""

from __future__ import annotations

from pathlib import Path

import flask_migrate
import pytest

from api import create_app
from api.health import migration_heads
from tests.empty_databases import BACKENDS, empty_database

HEAD = migration_heads(str(Path(__file__).resolve().parents[2] / "migrations"))


def test_healthz_answers_without_a_key(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "data": {"status": "ok"}}


def test_readyz_refuses_a_schema_made_without_migrations(client):
    # The test database's tables come from create_all: no alembic_version, so not ready.
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["success"] is False
    assert body["code"] == 503
    assert body["error"] == "schema_not_current"
    assert "flask --app wsgi db upgrade" in body["message"]
    assert set(body) == {"success", "code", "error", "message", "time"}


@pytest.fixture(scope="module", params=BACKENDS)
def migrated_url(request, tmp_path_factory):
    """A database built by the migrations (what `flask db upgrade` leaves), per backend."""
    with empty_database(request.param, tmp_path_factory.mktemp("ready")) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        with app.app_context():
            flask_migrate.upgrade()
        _dispose(app)
        yield url


def _dispose(app):
    from api.extensions import db

    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def migrated_app(migrated_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": migrated_url, "TESTING": True})
    yield app
    _dispose(app)


def test_readyz_is_ready_at_the_newest_migration(migrated_app):
    response = migrated_app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "success": True,
        "data": {
            "status": "ready",
            "database": "ok",
            "migration": {"current": list(HEAD), "head": list(HEAD)},
        },
    }


def test_readyz_is_not_ready_behind_the_newest_migration(migrated_app):
    client = migrated_app.test_client()
    with migrated_app.app_context():
        flask_migrate.stamp(revision="base")
    try:
        response = client.get("/readyz")
    finally:
        with migrated_app.app_context():
            flask_migrate.stamp(revision="heads")
    assert response.status_code == 503
    assert response.get_json()["error"] == "schema_not_current"
    assert client.get("/readyz").status_code == 200


def test_readyz_is_not_ready_when_the_database_does_not_answer():
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://codes@127.0.0.1:1/codes", "TESTING": True}
    )
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "database_unavailable"
    assert "127.0.0.1" not in body["message"]
    # Liveness does not depend on the database.
    assert client.get("/healthz").status_code == 200


def test_probes_are_never_rate_limited(database, engine):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database.url,
            "TESTING": True,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_PER_IP": "2 per minute",
            "RATELIMIT_KEY_PREFIX": "health-test",
        }
    )
    client = app.test_client()
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503  # no migrations here; never 429
    # The limit is live: any other route runs out after two requests.
    statuses = [client.get("/codes").status_code for _ in range(3)]
    assert statuses[-1] == 429
    _dispose(app)


def test_probes_are_documented_without_security(client):
    spec = client.get("/openapi.json").get_json()
    for path in ("/healthz", "/readyz"):
        assert spec["paths"][path]["get"]["security"] == []
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]
