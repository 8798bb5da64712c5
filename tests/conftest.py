"""Fixtures shared by every test package.

Every test that asks for ``database`` (directly or through ``session``, ``app``, ...) runs twice:
on SQLite and on PostgreSQL. PostgreSQL runs in a database of its own, created for this test run
at ``TEST_DATABASE_URL`` and dropped afterwards. When it is unreachable the PostgreSQL half is
skipped on a laptop, and fails the run under CI (``CI=true``).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from shared import clock
from shared.db import Base, make_engine, make_sessionmaker
from shared.projects import ProjectKeys, create_project

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class TestDatabase:
    backend: str
    url: str


def _create_pg_database() -> tuple[str, str]:
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


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory) -> Iterator[TestDatabase]:
    """A fresh, empty database with the schema, once per backend per test run."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "codes.sqlite3"
        db = TestDatabase("sqlite", f"sqlite:///{path}")
        _create_schema(db.url)
        yield db
        return
    try:
        admin, url = _create_pg_database()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is unreachable under CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    db = TestDatabase("postgresql", url)
    _create_schema(url)
    yield db
    _drop_pg_database(admin, url)


def _create_schema(url: str) -> None:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def engine_for():
    engines = {}

    def get(url: str):
        if url not in engines:
            engines[url] = make_engine(url)
        return engines[url]

    yield get
    for engine in engines.values():
        engine.dispose()


@pytest.fixture
def engine(database, engine_for):
    engine = engine_for(database.url)
    yield engine
    # Each test starts from empty tables.
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))


@pytest.fixture
def session_factory(engine):
    return make_sessionmaker(engine)


@pytest.fixture
def session(session_factory):
    with session_factory() as session:
        yield session
        session.rollback()


@dataclass(frozen=True)
class ProjectFixture:
    id: int
    name: str
    keys: ProjectKeys


@pytest.fixture
def make_project(session_factory):
    """Create a committed project and return its id, name and keys."""

    def make(name: str | None = None) -> ProjectFixture:
        with session_factory() as session:
            project, keys = create_project(session, name or f"project-{uuid.uuid4().hex[:8]}")
            session.commit()
            return ProjectFixture(project.id, project.name, keys)

    return make


@pytest.fixture
def project(make_project) -> ProjectFixture:
    return make_project("acme")


class FrozenClock:
    """A clock the test moves by hand; installed into ``shared.clock`` by the ``clock`` fixture."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock_at():
    """``clock_at(datetime)`` freezes the domain's clock there; restored after the test."""

    def freeze(start: dt.datetime) -> FrozenClock:
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        frozen = FrozenClock(start)
        clock.set_clock(frozen)
        return frozen

    yield freeze
    clock.set_clock(None)
