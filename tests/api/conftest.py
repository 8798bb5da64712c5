"""HTTP fixtures: the app on the test database, a client, auth headers, and a real gunicorn server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from api import create_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(database, engine):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database.url, "TESTING": True})
    yield app
    from api.extensions import db

    with app.app_context():
        db.engine.dispose()


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, url: str, process: subprocess.Popen):
        self.url = url
        self.process = process

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(self.url + path, timeout=30, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)


@pytest.fixture(scope="session")
def live_server(database, tmp_path_factory):
    """gunicorn with several workers on the test database, on a free loopback port.

    One server per database for the whole run; tests that use it also ask for ``engine``, which
    empties the tables after each test.
    """
    port = _free_port()
    instance = tmp_path_factory.mktemp("instance")
    log_path = instance / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "INSTANCE_DIR": str(instance),
        "RATELIMIT_ENABLED": "false",
        "PYTHONPATH": str(ROOT),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "4",
                "--threads",
                "4",
                "--worker-class",
                "gthread",
                "--graceful-timeout",
                "2",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(url + "/openapi.json", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"gunicorn did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.1)
    yield LiveServer(url, process)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
