"""The declarative base and the engine setup (the shapes of a unit of work: shared/transactions.py).

SQLite is tuned so concurrent writers queue instead of failing with "database is locked": WAL
journal, ``synchronous=NORMAL``, a busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` so a
transaction takes the write lock when it starts rather than failing to upgrade half-way through;
a transaction marked read-only (``READ_ONLY_OPTION``) begins deferred instead.

A pooled PostgreSQL connection is checked on checkout without a round trip: an idle connection
whose socket is readable was closed by the server (a restart, an idle timeout), so the pool
replaces it.
"""

from __future__ import annotations

import select
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from shared.config import Settings

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

_DEFAULTS = Settings()


def read_only_connection(engine: Engine) -> Connection:
    """A Core connection for reading only (health probes, scripts): no write lock on SQLite,
    autocommit on PostgreSQL."""
    options: dict = {READ_ONLY_OPTION: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    return engine.connect().execution_options(**options)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def engine_options(
    url: str,
    *,
    busy_timeout: int = _DEFAULTS.sqlite_busy_timeout,
    pool_size: int = _DEFAULTS.db_pool_size,
    max_overflow: int = _DEFAULTS.db_max_overflow,
) -> dict:
    """Keyword arguments for ``create_engine`` (Flask-SQLAlchemy's SQLALCHEMY_ENGINE_OPTIONS too).

    ``hide_parameters``: a statement's parameters (key digests, token digests, email addresses)
    appear neither in SQLAlchemy's statement log nor in the text of its exceptions, so no
    traceback carries them into a log line.
    """
    if is_sqlite(url):
        return {
            "connect_args": {"timeout": busy_timeout, "check_same_thread": False},
            "hide_parameters": True,
        }
    # No pool_pre_ping: configure_engine checks connections on checkout without a round trip.
    return {"pool_size": pool_size, "max_overflow": max_overflow, "hide_parameters": True}


def ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def configure_engine(engine: Engine, *, busy_timeout: int = _DEFAULTS.sqlite_busy_timeout) -> Engine:
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


def make_engine(
    url: str,
    *,
    busy_timeout: int = _DEFAULTS.sqlite_busy_timeout,
    pool_size: int = _DEFAULTS.db_pool_size,
    max_overflow: int = _DEFAULTS.db_max_overflow,
) -> Engine:
    """An engine for callers outside Flask, configured like the API's."""
    ensure_sqlite_directory(url)
    engine = create_engine(
        url, **engine_options(url, busy_timeout=busy_timeout, pool_size=pool_size, max_overflow=max_overflow)
    )
    return configure_engine(engine, busy_timeout=busy_timeout)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
