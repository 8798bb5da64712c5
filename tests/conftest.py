"""Fixtures shared by every test package.

Every test that asks for ``database`` (directly or through ``session``, ``app``, ...) runs twice:
on SQLite and on PostgreSQL. PostgreSQL runs in a database of its own, created for this test run
at ``TEST_DATABASE_URL`` and dropped afterwards. When it is unreachable the PostgreSQL half is
skipped on a laptop, and fails the run under CI (``CI=true``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete

from shared import clock
from shared.config import Settings
from shared.db import Base, make_engine, make_sessionmaker
from shared.projects import ProjectKeys, create_project
from tests.empty_databases import BACKENDS, empty_database

# The service reads its settings from the environment (PUBLIC_URL, REDIS_URL, ...). An operator's
# shell or a Makefile that exports one must not change what the tests see: each test sets its own.
for _setting in dataclasses.fields(Settings):
    os.environ.pop(_setting.name.upper(), None)


@dataclass(frozen=True)
class TestDatabase:
    backend: str
    url: str


@pytest.fixture(scope="session", params=BACKENDS)
def database(request, tmp_path_factory) -> Iterator[TestDatabase]:
    """A fresh database with the schema, once per backend per test run."""
    with empty_database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        _create_schema(url)
        yield TestDatabase(request.param, url)


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
