"""Fixtures for deployment tests: empty databases (no schema) and an app bound to one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.empty_databases import BACKENDS, empty_database


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
