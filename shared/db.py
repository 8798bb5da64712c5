"""The declarative base, and engines and sessions for callers outside Flask (the bot, the worker).

SQLite is tuned so concurrent writers queue instead of failing with "database is locked": WAL
journal, ``synchronous=NORMAL``, a busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` so a
transaction takes the write lock when it starts rather than failing to upgrade half-way through.
Read-only work can opt out with :func:`read_only`, so readers never queue behind writers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_sqlite_begin: ContextVar[str] = ContextVar("sqlite_begin", default="BEGIN IMMEDIATE")


@contextlib.contextmanager
def read_only() -> Iterator[None]:
    """Start SQLite transactions in this context as plain (deferred) reads."""
    token = _sqlite_begin.set("BEGIN")
    try:
        yield
    finally:
        _sqlite_begin.reset(token)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def engine_options(url: str, *, busy_timeout: int = 30, pool_size: int = 5, max_overflow: int = 10) -> dict:
    """Keyword arguments for ``create_engine`` (Flask-SQLAlchemy's SQLALCHEMY_ENGINE_OPTIONS too)."""
    if is_sqlite(url):
        return {"connect_args": {"timeout": busy_timeout, "check_same_thread": False}}
    return {"pool_size": pool_size, "max_overflow": max_overflow, "pool_pre_ping": True}


def ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def configure_engine(engine: Engine, *, busy_timeout: int = 30) -> Engine:
    """Install the SQLite pragmas and BEGIN IMMEDIATE on ``engine``; nothing for other databases."""
    if engine.dialect.name != "sqlite":
        return engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event, below, issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout) * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql(_sqlite_begin.get())

    return engine


def make_engine(url: str, *, busy_timeout: int = 30, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """An engine for callers outside Flask, configured like the API's."""
    ensure_sqlite_directory(url)
    engine = create_engine(
        url, **engine_options(url, busy_timeout=busy_timeout, pool_size=pool_size, max_overflow=max_overflow)
    )
    return configure_engine(engine, busy_timeout=busy_timeout)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
