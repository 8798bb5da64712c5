"""The declarative base, engine setup, and the shapes a unit of work can take.

SQLite is tuned so concurrent writers queue instead of failing with "database is locked": WAL
journal, ``synchronous=NORMAL``, a busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` so a
transaction takes the write lock when it starts rather than failing to upgrade half-way through.

Each domain function says what its work needs, and the session's transaction takes that shape:

- :func:`begin_read`: only reads. SQLite starts a deferred transaction (no write lock, so readers
  never queue behind writers); PostgreSQL runs in autocommit (SQLAlchemy's documented
  ``isolation_level="AUTOCOMMIT"`` execution option: no BEGIN and COMMIT round trips), where each
  statement sees a fresh snapshot, as under READ COMMITTED.
- :func:`begin_statement`: one writing statement that is atomic on its own (a PostgreSQL claim).
  It joins a transaction the caller already has; otherwise it runs in autocommit, so the row lock
  it takes ends with the statement.
- :func:`begin_write`: several statements that must commit together. A read still open in the
  session ends first (it wrote nothing), and a real transaction begins.

The caller still commits or rolls back at the edge, as always.

A pooled PostgreSQL connection is checked on checkout without a round trip: an idle connection
whose socket is readable was closed by the server (a restart, an idle timeout), so the pool
replaces it.
"""

from __future__ import annotations

import select
from pathlib import Path

from sqlalchemy import Engine, MetaData, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# An execution option of our own (SQLAlchemy passes unknown options through to events): a
# transaction that only reads. SQLite then begins it deferred instead of BEGIN IMMEDIATE.
READ_ONLY_OPTION = "codes_read_only"
_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def _the_session(session: Session | scoped_session) -> Session:
    # Flask-SQLAlchemy hands the domain its scoped_session, which does not proxy in_transaction().
    return session() if isinstance(session, scoped_session) else session


def begin_read(session: Session) -> None:
    """Start the session's work as a read, unless it already began something."""
    session = _the_session(session)
    if session.in_transaction():
        return
    if dialect_name(session) == "postgresql":
        session.connection(execution_options={**_AUTOCOMMIT, READ_ONLY_OPTION: True})
    else:
        session.connection(execution_options={READ_ONLY_OPTION: True})


def begin_statement(session: Session) -> None:
    """Prepare for one writing statement, atomic by itself (see the module); on SQLite, a write."""
    session = _the_session(session)
    if dialect_name(session) != "postgresql":
        begin_write(session)
    elif not session.in_transaction():
        session.connection(execution_options=_AUTOCOMMIT)


def begin_write(session: Session) -> None:
    """Make sure the statements that follow run in one transaction that may write."""
    session = _the_session(session)
    if session.in_transaction() and not _in_transaction_that_writes(session):
        session.commit()  # a read, or autocommitted statements: nothing is pending
    if not session.in_transaction():
        session.connection()


def _in_transaction_that_writes(session: Session) -> bool:
    options = session.connection().get_execution_options()
    return not options.get(READ_ONLY_OPTION) and options.get("isolation_level") != "AUTOCOMMIT"


class WriteOutsideTransaction(RuntimeError):
    """A programming error: a write in a read or among autocommitted statements (see begin_write)."""


def _refuse_write(session: Session) -> None:
    if session.in_transaction() and not _in_transaction_that_writes(session):
        raise WriteOutsideTransaction(
            "This session is in a read or in autocommit: call shared.db.begin_write(session) "
            "before writing, so the writes commit together."
        )


@event.listens_for(Session, "do_orm_execute")
def _writes_need_a_write_transaction(state) -> None:
    # Every INSERT, UPDATE or DELETE built with SQLAlchemy (ORM or Core) passes here; the text()
    # statements of the claim and of generate declare their shape themselves.
    if state.is_insert or state.is_update or state.is_delete:
        _refuse_write(state.session)


@event.listens_for(Session, "before_flush")
def _flushes_need_a_write_transaction(session: Session, _context, _instances) -> None:
    if session.new or session.dirty or session.deleted:
        _refuse_write(session)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def engine_options(url: str, *, busy_timeout: int = 30, pool_size: int = 5, max_overflow: int = 10) -> dict:
    """Keyword arguments for ``create_engine`` (Flask-SQLAlchemy's SQLALCHEMY_ENGINE_OPTIONS too)."""
    if is_sqlite(url):
        return {"connect_args": {"timeout": busy_timeout, "check_same_thread": False}}
    # No pool_pre_ping: configure_engine checks connections on checkout without a round trip.
    return {"pool_size": pool_size, "max_overflow": max_overflow}


def ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def configure_engine(engine: Engine, *, busy_timeout: int = 30) -> Engine:
    """Install the SQLite pragmas and its BEGIN, or PostgreSQL's checkout check."""
    if engine.dialect.name == "postgresql":
        event.listen(engine, "checkout", _replace_if_closed_by_server)
    elif engine.dialect.name == "sqlite":
        _configure_sqlite(engine, busy_timeout)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event, below, issue BEGIN itself (SQLAlchemy's documented
        # recipe for pysqlite's transaction handling).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout) * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        reading = connection.get_execution_options().get(READ_ONLY_OPTION)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def _replace_if_closed_by_server(dbapi_connection, _record, _proxy) -> None:
    if _closed_by_server(dbapi_connection):
        # The pool discards the connection and checks out another.
        raise exc.DisconnectionError("the server closed this pooled connection")


def _closed_by_server(dbapi_connection) -> bool:
    """Whether an idle connection's socket has something to read: a closed one reads as EOF."""
    if dbapi_connection.closed or getattr(dbapi_connection, "broken", False):
        return True
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def make_engine(url: str, *, busy_timeout: int = 30, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """An engine for callers outside Flask, configured like the API's."""
    ensure_sqlite_directory(url)
    engine = create_engine(
        url, **engine_options(url, busy_timeout=busy_timeout, pool_size=pool_size, max_overflow=max_overflow)
    )
    return configure_engine(engine, busy_timeout=busy_timeout)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
