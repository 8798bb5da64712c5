"""HTTP fixtures: the app on the test database, a client, auth headers, and a real gunicorn server."""

from __future__ import annotations

import pytest

from api import create_app
from tests.support import Gunicorn, subprocess_env


@pytest.fixture
def app(database, engine):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database.url, "TESTING": True})
    yield app
    from api.extensions import db

    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app_without_database(tmp_path):
    """The app for what never reaches a database (the OpenAPI document, the factory): one run,
    not one per database backend."""
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.sqlite3'}", "TESTING": True}
    )


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_app(database, engine):
    """``make_app(**config)``: another app on the test database, with config overrides."""
    apps = []

    def make(**config):
        app = create_app({"SQLALCHEMY_DATABASE_URI": database.url, "TESTING": True, **config})
        apps.append(app)
        return app

    yield make
    from api.extensions import db

    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def secret(project) -> dict[str, str]:
    """Headers with the project's secret key."""
    return bearer(project.keys.secret_key)


@pytest.fixture
def public(project) -> dict[str, str]:
    """Headers with the project's public key."""
    return bearer(project.keys.public_key)


@pytest.fixture
def generate(client, secret):
    """Generate codes through the API and return their objects."""

    def make(**body):
        body.setdefault("amount", 1)
        response = client.post("/codes/generate", json=body, headers=secret)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["data"]

    return make


@pytest.fixture(scope="session")
def live_server(database, tmp_path_factory):
    """gunicorn with several workers on the test database, on a free loopback port.

    One server per database for the whole run; tests that use it also ask for ``engine``, which
    empties the tables after each test.
    """
    instance = tmp_path_factory.mktemp("instance")
    env = subprocess_env(DATABASE_URL=database.url, INSTANCE_DIR=str(instance), RATELIMIT_ENABLED="false")
    args = ("--workers", "4", "--threads", "4", "--worker-class", "gthread")
    with Gunicorn(env=env, log_path=instance / "gunicorn.log", args=args) as server:
        yield server
