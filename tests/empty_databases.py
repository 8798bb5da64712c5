"""Brand-new databases without any table, for tests of migrations and readiness."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _create_pg_database, _drop_pg_database

BACKENDS = ("sqlite", "postgresql")


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
