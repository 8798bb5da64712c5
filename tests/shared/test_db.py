"""Hot statements and the connections they run on: the same answers as an ordinary execution,
and, on PostgreSQL inside ``direct_statements``, a pooled autocommit connection of their own that
survives what the server does to it."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import NullPool

from shared.db import (
    HotStatement,
    configure_engine,
    direct_statements,
    make_engine,
    make_sessionmaker,
    read_only,
    statement_transactions,
)
from shared.models import Project

BACKEND_PID = HotStatement(text("SELECT pg_backend_pid()"))
PROJECT_NAMES = HotStatement(select(Project.name).order_by(Project.name))
ADD_PROJECT = HotStatement(
    text(
        "INSERT INTO projects (name, public_key_digest, secret_key_digest, allowed_origins, created_at)"
        " VALUES (:name, :public, :secret, '[]', CURRENT_TIMESTAMP) RETURNING name"
    )
)


def add_project(session, name: str):
    return ADD_PROJECT.first(session, {"name": name, "public": f"{name}-public", "secret": f"{name}-secret"})


@pytest.fixture
def own_engine(database, engine):
    """An engine of this test's own, so that disposing it leaves the others alone."""
    own = make_engine(database.url)
    yield own
    own.dispose()


# Direct statements are a PostgreSQL path; elsewhere they change nothing (tested on SQLite).
postgresql_only = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture
def postgres_engine(own_engine):
    return own_engine


def backend_pid(engine) -> int:
    with read_only(), direct_statements(engine), make_sessionmaker(engine)() as session:
        return BACKEND_PID.first(session, {})[0]


def terminate(engine, pid: int) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert is_gone(engine, pid)


def is_connected(engine, pid: int) -> bool:
    with engine.connect() as connection:
        found = connection.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
        return found.first() is not None


def is_gone(engine, pid: int) -> bool:
    """Whether the server ended that connection's backend (it notices a closed socket at once,
    and takes a moment to clean up)."""
    deadline = time.monotonic() + 5
    while is_connected(engine, pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_hot_statements_answer_as_ordinary_executions(own_engine):
    sessions = make_sessionmaker(own_engine)
    with sessions() as session:
        add_project(session, "beta")
        add_project(session, "alpha")
        assert (
            PROJECT_NAMES.all(session, {})
            == session.execute(select(Project.name).order_by(Project.name)).all()
        )
        assert [tuple(row) for row in PROJECT_NAMES.all(session, {})] == [("alpha",), ("beta",)]
        with pytest.raises(IntegrityError) as duplicate:
            add_project(session, "alpha")
        assert duplicate.value.orig is not None


def test_outside_direct_statements_they_run_in_the_sessions_transaction(own_engine):
    sessions = make_sessionmaker(own_engine)
    with sessions() as session:
        add_project(session, "undone")
        assert session.in_transaction()
        session.rollback()
        assert PROJECT_NAMES.all(session, {}) == []


@sqlite_only
def test_on_sqlite_direct_statements_change_nothing(own_engine):
    sessions = make_sessionmaker(own_engine)
    with statement_transactions(), direct_statements(own_engine), sessions() as session:
        add_project(session, "in-session")
        assert session.in_transaction()
        session.rollback()
        assert PROJECT_NAMES.all(session, {}) == []


@postgresql_only
def test_direct_statements_commit_on_their_own_without_the_session(postgres_engine):
    sessions = make_sessionmaker(postgres_engine)
    with statement_transactions(), direct_statements(postgres_engine), sessions() as session:
        add_project(session, "committed")
        assert not session.in_transaction(), "the session was never used"
        with postgres_engine.connect() as other:
            assert other.execute(select(Project.name)).scalars().all() == ["committed"]
        # The session, on its own connection, sees it as well.
        assert session.execute(select(Project.name)).scalars().all() == ["committed"]


@postgresql_only
def test_one_connection_per_context_taken_back_and_reused(postgres_engine):
    sessions = make_sessionmaker(postgres_engine)
    with read_only(), direct_statements(postgres_engine), sessions() as session:
        first = BACKEND_PID.first(session, {})[0]
        assert BACKEND_PID.first(session, {})[0] == first
        with postgres_engine.connect() as connection:
            session_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert session_pid != first, "not the engine pool's connection"
    assert backend_pid(postgres_engine) == first


@postgresql_only
def test_an_idle_connection_the_server_closed_is_replaced(postgres_engine):
    before = backend_pid(postgres_engine)
    terminate(postgres_engine, before)
    after = backend_pid(postgres_engine)
    assert after != before


@postgresql_only
def test_a_connection_that_breaks_mid_request_is_not_given_back(postgres_engine):
    sessions = make_sessionmaker(postgres_engine)
    with read_only(), direct_statements(postgres_engine), sessions() as session:
        pid = BACKEND_PID.first(session, {})[0]
        terminate(postgres_engine, pid)
        with pytest.raises(DBAPIError) as broken:
            BACKEND_PID.first(session, {})
        assert broken.value.connection_invalidated
    assert backend_pid(postgres_engine) not in (pid, None)


@postgresql_only
def test_disposing_the_engine_closes_its_idle_connections(postgres_engine):
    pid = backend_pid(postgres_engine)
    assert is_connected(postgres_engine, pid)
    postgres_engine.dispose()
    assert is_gone(postgres_engine, pid)
    assert backend_pid(postgres_engine) != pid


@postgresql_only
def test_a_connection_in_use_when_the_engine_is_disposed_is_closed_when_given_back(postgres_engine):
    sessions = make_sessionmaker(postgres_engine)
    with read_only(), direct_statements(postgres_engine), sessions() as session:
        pid = BACKEND_PID.first(session, {})[0]
        postgres_engine.dispose()
    assert is_gone(postgres_engine, pid)


@postgresql_only
def test_a_forked_child_opens_its_own_connections_and_leaves_the_parents_alone(postgres_engine):
    parent = backend_pid(postgres_engine)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and exits at once
        try:
            os.write(write, str(backend_pid(postgres_engine)).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        in_child = int(pipe.read() or 0)
    assert in_child not in (0, parent)
    assert backend_pid(postgres_engine) == parent, "the parent's connection still works"


@postgresql_only
def test_an_engine_that_pools_nothing_keeps_no_idle_connection_either(database, engine):
    unpooled = configure_engine(create_engine(database.url, poolclass=NullPool))
    try:
        first = backend_pid(unpooled)
        assert is_gone(engine, first)
        assert backend_pid(unpooled) != first
    finally:
        unpooled.dispose()
