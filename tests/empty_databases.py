"""Brand-new databases without any table, for tests of migrations and readiness."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

BACKENDS = ("sqlite", "postgresql")


def _create_pg_database() -> tuple[str, str]:
    """A new database on the server at TEST_DATABASE_URL: (admin URL, its URL)."""
    import psycopg

    base = make_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG))
    name = f"codes_test_{uuid.uuid4().hex[:12]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin, base.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(admin: str, url: str) -> None:
    import psycopg

    name = make_url(url).database
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def empty_database(backend: str, directory: Path) -> Iterator[str]:
    """The URL of a new, empty database; PostgreSQL's is dropped afterwards.

    An unreachable PostgreSQL skips the test on a laptop and fails it under CI, like the
    ``database`` fixture.
    """
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'empty.sqlite3'}"
        return
    try:
        admin, url = _create_pg_database()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is unreachable under CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    try:
        yield url
    finally:
        _drop_pg_database(admin, url)
