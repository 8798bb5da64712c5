"""The shapes a unit of work takes (a read, one atomic statement, a write transaction) on both
databases, the guard against writing outside a write transaction, and PostgreSQL's checkout check."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from shared.db import make_engine, read_only_connection
from shared.models import Project
from shared.transactions import WriteOutsideTransaction, begin_atomic_statement, begin_read, begin_write

postgresql_only = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


INSERT_TEXT = text(
    "INSERT INTO projects (name, public_key_digest, secret_key_digest, allowed_origins, created_at)"
    " VALUES (:name, :name || '-pk', :name || '-sk', '[]', CURRENT_TIMESTAMP)"
)


def project_row(name: str) -> dict:
    return {"name": name, "public_key_digest": f"{name}-pk", "secret_key_digest": f"{name}-sk"}


def names(engine) -> list[str]:
    """What another session sees, committed (a read: it never waits for a writer's lock)."""
    with Session(engine) as other:
        begin_read(other)
        return other.execute(select(Project.name).order_by(Project.name)).scalars().all()


def test_a_write_transaction_commits_its_statements_together_or_not_at_all(session, engine):
    begin_write(session)
    session.execute(insert(Project), [project_row("one"), project_row("two")])
    assert names(engine) == []
    session.rollback()
    assert names(engine) == []
    begin_write(session)
    session.execute(insert(Project), [project_row("one"), project_row("two")])
    session.commit()
    assert names(engine) == ["one", "two"]


def test_a_write_after_a_read_ends_the_read_and_runs_in_a_transaction(session, engine):
    begin_read(session)
    assert session.execute(select(Project.name)).all() == []
    begin_write(session)
    session.execute(insert(Project).values(**project_row("pending")))
    assert names(engine) == [], "nothing is visible before the commit"
    session.rollback()
    assert names(engine) == []


@pytest.mark.parametrize("write", ["core", "orm"])
def test_writing_in_a_read_is_refused_before_anything_is_written(session, engine, write):
    begin_read(session)
    session.execute(select(Project.id)).all()
    with pytest.raises(WriteOutsideTransaction):
        if write == "core":
            session.execute(insert(Project).values(**project_row("sneaky")))
        else:
            session.add(Project(**project_row("sneaky"), allowed_origins=[]))
            session.flush()
    session.rollback()
    assert names(engine) == []


def test_a_read_takes_no_write_lock_so_writers_go_on(session, engine):
    begin_read(session)
    assert session.execute(select(Project.name)).all() == []
    # On SQLite a BEGIN IMMEDIATE reader would make this writer wait out the busy timeout.
    with engine.begin() as other:
        other.execute(insert(Project).values(**project_row("written")))
    assert names(engine) == ["written"]


@postgresql_only
def test_on_postgresql_a_read_sees_each_statement_fresh_without_a_transaction(session, engine):
    begin_read(session)
    assert session.execute(select(Project.name)).scalars().all() == []
    with engine.begin() as other:
        other.execute(insert(Project).values(**project_row("meanwhile")))
    assert session.execute(select(Project.name)).scalars().all() == ["meanwhile"]
    status = session.connection().connection.driver_connection.info.transaction_status
    assert status == 0, "IDLE: no BEGIN was sent"


@postgresql_only
def test_on_postgresql_one_statement_outside_a_transaction_commits_by_itself(session, engine):
    begin_atomic_statement(session)
    session.execute(
        text(
            "INSERT INTO projects (name, public_key_digest, secret_key_digest, allowed_origins, created_at)"
            " VALUES ('at-once', 'a-pk', 'a-sk', '[]', CURRENT_TIMESTAMP)"
        )
    )
    assert names(engine) == ["at-once"], "committed before the session commits"
    session.rollback()
    assert names(engine) == ["at-once"]


def test_one_statement_inside_a_write_transaction_joins_it(session, engine):
    begin_write(session)
    session.execute(insert(Project).values(**project_row("first")))
    begin_atomic_statement(session)
    session.execute(
        text(
            "INSERT INTO projects (name, public_key_digest, secret_key_digest, allowed_origins, created_at)"
            " VALUES ('second', 's-pk', 's-sk', '[]', CURRENT_TIMESTAMP)"
        )
    )
    session.rollback()
    assert names(engine) == [], "both undone together"


@postgresql_only
def test_the_autocommit_of_a_read_ends_with_its_session(session_factory, engine):
    with session_factory() as reader:
        begin_read(reader)
        reader.execute(select(Project.id)).all()
        reader.commit()
    with session_factory() as writer:
        writer.execute(insert(Project).values(**project_row("later")))
        assert names(engine) == [], "a pooled connection comes back in its default isolation"
        writer.rollback()


@postgresql_only
def test_an_idle_connection_the_server_closed_is_replaced_without_an_error(database, engine):
    pooled = make_engine(database.url, pool_size=1, max_overflow=0)
    try:
        with pooled.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # Autocommit: pg_stat_activity is a snapshot per transaction.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + 5
            alive = text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid")
            while admin.execute(alive, {"pid": pid}).first():
                assert time.monotonic() < deadline
                time.sleep(0.02)
        with pooled.connect() as connection:
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        pooled.dispose()


@postgresql_only
def test_a_write_after_an_atomic_statement_that_committed_alone_is_refused(session, engine):
    begin_atomic_statement(session)
    session.execute(INSERT_TEXT.bindparams(name="alone"))
    with pytest.raises(WriteOutsideTransaction):
        begin_write(session)
    with pytest.raises(WriteOutsideTransaction):
        session.execute(insert(Project).values(**project_row("second")))
    session.rollback()
    assert names(engine) == ["alone"], "what was announced as one statement is all that was written"


def test_a_text_write_in_a_read_is_refused(session, engine):
    begin_read(session)
    with pytest.raises(WriteOutsideTransaction):
        session.execute(INSERT_TEXT.bindparams(name="sneaky"))
    session.rollback()
    assert names(engine) == []


def test_a_read_only_connection_takes_no_write_lock(engine):
    with read_only_connection(engine) as reader:
        reader.execute(select(Project.id)).all()
        with engine.begin() as writer:
            writer.execute(insert(Project).values(**project_row("while-reading")))
    assert names(engine) == ["while-reading"]
