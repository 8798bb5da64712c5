"""Fixtures for deployment tests: empty databases (no schema) and an app bound to one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.empty_databases import BACKENDS, empty_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path) -> Iterator[str]:
    """A URL of a brand-new database without any table, on each backend."""
    with empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def migrations_app(empty_database_url):
    """The API app on an empty database, for running migrations in-process."""
    from api import create_app
    from api.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "TESTING": True})
    yield app
    with app.app_context():
        db.engine.dispose()


def subprocess_env(**overrides: str) -> dict[str, str]:
    """The environment for a child process that runs this project's code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.update(overrides)
    return env
