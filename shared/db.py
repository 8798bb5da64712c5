"""The declarative base, and engines and sessions for callers outside Flask (the bot, the worker).

SQLite is tuned so concurrent writers queue instead of failing with "database is locked": WAL
journal, ``synchronous=NORMAL``, a busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` so a
transaction takes the write lock when it starts rather than failing to upgrade half-way through.
Read-only work can opt out with :func:`read_only`, so readers never queue behind writers.

PostgreSQL: read-only work runs in autocommit (no BEGIN and ROLLBACK round trips, and prepared
statements survive, since psycopg forgets them on every ROLLBACK), and so does work made of
single-statement writes that asks for it with :func:`statement_transactions`. Inside
:func:`direct_statements` (the API's hot routes) the per-request :class:`HotStatement` s skip the
session altogether and run on one pooled connection in autocommit. A pooled connection is checked
on checkout without a round trip: an idle connection whose socket is readable was closed by the
server (a restart, an idle timeout), so the pool replaces it.
"""

from __future__ import annotations

import os
import select
import weakref
from collections.abc import Sequence
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import Engine, MetaData, create_engine, event, exc
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.expression import Executable

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


class _ContextVarSetting:
    """Sets a context variable for the ``with`` block (a class: the API enters these per request,
    and a generator-based context manager costs several times more)."""

    __slots__ = ("_token",)
    _variable: ContextVar
    _value: object

    def __enter__(self) -> None:
        self._token = self._variable.set(self._value)

    def __exit__(self, *_exc) -> None:
        self._variable.reset(self._token)


class read_only(_ContextVarSetting):  # lowercase: used like a function, as contextlib.suppress is
    """Connections opened in this context only read: nothing in it may write.

    SQLite starts their transactions as plain (deferred) reads; PostgreSQL runs them in
    autocommit, where each statement reads a fresh snapshot as under READ COMMITTED.
    """

    __slots__ = ()
    _variable = _sqlite_begin
    _value = "BEGIN"


_statement_transactions: ContextVar[bool] = ContextVar("statement_transactions", default=False)


class statement_transactions(_ContextVarSetting):
    """On PostgreSQL, connections opened in this context commit each statement on its own.

    Only for work whose every statement stands alone (a claim is one statement): it saves the
    BEGIN and COMMIT round trips, and a row lock ends with its statement rather than with the
    client's COMMIT one round trip later. SQLite transactions are unaffected.
    """

    __slots__ = ()
    _variable = _statement_transactions
    _value = True


class _AutocommitPool:
    """Idle PostgreSQL connections in autocommit, for :func:`direct_statements`, one engine's.

    Taking one is a pop from a list, giving it back an append: none of the SQLAlchemy pool's
    per-checkout work (events, the reset on return, the isolation level set and put back), which
    cost a hot request more CPU than its statements. Connections are opened as the engine opens
    its own, then kept here in autocommit; an idle one the server closed is replaced as in the
    engine's pool (``_closed_by_server``). At most ``size`` are kept idle, and all are closed when
    the engine is disposed. A forked child never uses (or closes) its parent's connections.
    """

    def __init__(self, engine: Engine, size: int):
        self.engine = engine
        self.size = size
        self._idle: list = []
        self._pid = os.getpid()
        self._generation = 0

    def _forget_if_forked(self) -> None:
        if self._pid != os.getpid():
            # A forked child: the parent's connections share its sockets. Closing them here, or
            # letting them be collected, would end the parent's sessions; they are kept, unused.
            _inherited.extend(self._idle)
            self._idle, self._pid = [], os.getpid()

    def take(self) -> tuple:
        """A connection, and the generation to give it back with."""
        self._forget_if_forked()
        while self._idle:
            try:
                connection = self._idle.pop()
            except IndexError:  # another thread took the last one
                break
            if not _closed_by_server(connection):
                return connection, self._generation
            connection.close()
        fairy = self.engine.raw_connection()
        connection = fairy.driver_connection
        fairy.detach()  # ours now: the engine's pool forgets it
        connection.autocommit = True
        return connection, self._generation

    def give_back(self, connection, generation: int) -> None:
        self._forget_if_forked()
        keep = (
            not connection.closed
            and connection.info.transaction_status == _IDLE
            and generation == self._generation
            and len(self._idle) < self.size
        )
        if keep:
            self._idle.append(connection)
        else:
            connection.close()

    def close(self, _engine=None) -> None:
        self._forget_if_forked()
        self._generation += 1
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE
_inherited: list = []
_autocommit_pools: weakref.WeakKeyDictionary[Engine, _AutocommitPool] = weakref.WeakKeyDictionary()


class _DirectConnection:
    """The connection of one :func:`direct_statements` context, taken on first use."""

    __slots__ = ("engine", "_pool", "_connection", "_generation")

    def __init__(self, pool: _AutocommitPool):
        self.engine = pool.engine
        self._pool = pool
        self._connection = None

    def driver_connection(self):
        if self._connection is None:
            self._connection, self._generation = self._pool.take()
        return self._connection

    def invalidate(self) -> None:
        """The connection broke: close it rather than give it back."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.give_back(connection, self._generation)


_direct: ContextVar[_DirectConnection | None] = ContextVar("direct_connection", default=None)


class direct_statements:
    """On PostgreSQL, :class:`HotStatement` s in this context run on a connection of their own.

    It is one connection for the whole context, in autocommit, taken when the first one runs from
    the engine's own small pool of such connections (``_AutocommitPool``): no session, no
    transaction, none of the session's bookkeeping around a checkout. Only inside
    :func:`read_only` or :func:`statement_transactions`, where the session's own statements commit
    one by one too, so a hot statement sees what they wrote and they see what it wrote.
    Elsewhere (SQLite, or an engine not set up by :func:`configure_engine`) nothing changes.
    """

    __slots__ = ("_pool", "_connection", "_token")

    def __init__(self, engine: Engine):
        self._pool = _autocommit_pools.get(engine)

    def __enter__(self) -> None:
        self._connection = None
        if self._pool is not None:
            self._connection = _DirectConnection(self._pool)
            self._token = _direct.set(self._connection)

    def __exit__(self, *_exc) -> None:
        if self._connection is not None:
            _direct.reset(self._token)
            self._connection.release()


def is_postgresql(session: Session) -> bool:
    """Whether ``session`` talks to PostgreSQL (without resolving its bind on the hot routes)."""
    if _direct.get() is not None:
        return True
    return session.get_bind().dialect.name == "postgresql"


def _reading() -> bool:
    return _sqlite_begin.get() == "BEGIN"


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
    """Install the SQLite pragmas and BEGIN IMMEDIATE, or PostgreSQL's checkout check and reads."""
    if engine.dialect.name == "postgresql":
        return _configure_postgresql(engine)
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


def _configure_postgresql(engine: Engine) -> Engine:
    if engine.dialect.driver == "psycopg":
        # As many idle as the engine's pool keeps; none for a pool that keeps none (NullPool).
        size = engine.pool.size() if hasattr(engine.pool, "size") else 0
        pool = _autocommit_pools[engine] = _AutocommitPool(engine, size=size)
        event.listen(engine, "engine_disposed", pool.close)

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, _record, _proxy):
        if _closed_by_server(dbapi_connection):
            # The pool discards the connection and checks out another.
            raise exc.DisconnectionError("the server closed this pooled connection")

    @event.listens_for(engine, "engine_connect")
    def _on_connect(connection):
        if _reading() or _statement_transactions.get():
            connection.execution_options(isolation_level="AUTOCOMMIT")

    return engine


def _closed_by_server(dbapi_connection) -> bool:
    """Whether an idle connection's socket has something to read: a closed one reads as EOF."""
    if dbapi_connection.closed or getattr(dbapi_connection, "broken", False):
        return True
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


class HotStatement:
    """A fixed statement that (nearly) every request runs: an API key lookup, a claim.

    On PostgreSQL it runs on psycopg's connection beneath the session (the same connection and
    transaction), or inside :func:`direct_statements` on that context's connection, as SQL compiled
    once: SQLAlchemy's per-execution work (cache key, parameter
    processing, result metadata built from the cursor description) costs more CPU than the
    statement itself, and psycopg prepares it on the server after a few runs. Errors are wrapped
    as SQLAlchemy's (an ``IntegrityError`` with ``.orig``) exactly as a normal execution would be.
    Elsewhere it is an ordinary execution. Rows are tuples in the statement's column order.
    """

    def __init__(self, statement: Executable):
        self.statement = statement
        # Per dialect, weakly: an engine that goes away (tests make many) takes its SQL with it.
        self._compiled: weakref.WeakKeyDictionary[Dialect, str] = weakref.WeakKeyDictionary()

    def first(self, session: Session, params: dict) -> Sequence | None:
        return self._execute(session, params, every_row=False)

    def all(self, session: Session, params: dict) -> list[Sequence]:
        return self._execute(session, params, every_row=True)

    def _execute(self, session: Session, params: dict, *, every_row: bool):
        direct = _direct.get()
        if direct is not None:
            dialect = direct.engine.dialect
            driver_connection = direct.driver_connection()
        else:
            connection = session.connection()
            dialect = connection.dialect
            if dialect.driver != "psycopg":
                result = connection.execute(self.statement, params)
                return result.all() if every_row else result.first()
            driver_connection = connection.connection.driver_connection
        sql = self._compiled.get(dialect)
        if sql is None:
            sql = self._compiled[dialect] = self.statement.compile(dialect=dialect).string
        dbapi = dialect.loaded_dbapi
        try:
            cursor = driver_connection.execute(sql, params)
            return cursor.fetchall() if every_row else cursor.fetchone()
        except dbapi.Error as error:
            invalidated = direct is not None and dialect.is_disconnect(error, driver_connection, None)
            if invalidated:
                direct.invalidate()
            raise exc.DBAPIError.instance(
                sql, params, error, dbapi.Error, dialect=dialect, connection_invalidated=invalidated
            ) from error


def make_engine(url: str, *, busy_timeout: int = 30, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """An engine for callers outside Flask, configured like the API's."""
    ensure_sqlite_directory(url)
    engine = create_engine(
        url, **engine_options(url, busy_timeout=busy_timeout, pool_size=pool_size, max_overflow=max_overflow)
    )
    return configure_engine(engine, busy_timeout=busy_timeout)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
