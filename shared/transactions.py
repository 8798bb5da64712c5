"""The shapes a unit of work takes. Each domain function says which one its work needs:

- :func:`begin_read`: only reads. SQLite starts a deferred transaction (no write lock, so readers
  never queue behind writers); PostgreSQL runs in autocommit (SQLAlchemy's documented
  ``isolation_level="AUTOCOMMIT"`` execution option: no BEGIN and COMMIT round trips), where each
  statement sees a fresh snapshot, as under READ COMMITTED.
- :func:`begin_atomic_statement`: the next write is ONE statement, atomic by itself (a PostgreSQL
  claim). It joins a write transaction the caller opened; otherwise, on PostgreSQL, it commits on
  its own, and nothing else may be written in the same unit. On SQLite it is a write transaction.
- :func:`begin_write`: several statements that must commit together. A read still open ends first
  (it wrote nothing); after an atomic statement committed on its own, it refuses, since what follows
  could no longer commit with it. Call it at the start of the unit of work.

The caller still commits or rolls back at the edge, as always.

A guard installed on every SQLAlchemy ``Session`` of the process (session events) makes the rule
hold: an INSERT, UPDATE or DELETE (built with SQLAlchemy, or a ``text()`` statement), or an ORM flush,
in a read or in autocommit raises :class:`WriteOutsideTransaction`, unless it is the one statement
announced by ``begin_atomic_statement``. So a second write added to a service can never silently lose
its atomicity: the tests fail instead.
"""

from __future__ import annotations

import re

from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.sql.elements import TextClause

from shared.db import READ_ONLY_OPTION

_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}
# Keys of Session.info: the transaction in which an atomic statement was announced, and the one in
# which such a statement committed on its own.
_ANNOUNCED = "codes_atomic_statement_announced"
_COMMITTED_ALONE = "codes_atomic_statement_committed"
_TEXT_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b|^\s*WITH\b.*\b(INSERT|UPDATE|DELETE)\b", re.I | re.S)


class WriteOutsideTransaction(RuntimeError):
    """A programming error: a write in a read or among autocommitted statements."""


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


def begin_atomic_statement(session: Session) -> None:
    """Announce one writing statement, atomic by itself (see the module)."""
    session = _the_session(session)
    if dialect_name(session) != "postgresql":
        begin_write(session)
        return
    if not session.in_transaction():
        session.connection(execution_options=_AUTOCOMMIT)
    if not _in_transaction_that_writes(session):
        session.info[_ANNOUNCED] = session.get_transaction()


def begin_write(session: Session) -> None:
    """Make sure the statements that follow run in one transaction that may write."""
    session = _the_session(session)
    if session.in_transaction() and not _in_transaction_that_writes(session):
        if session.info.get(_COMMITTED_ALONE) is session.get_transaction():
            raise WriteOutsideTransaction(
                "An atomic statement already committed on its own in this unit of work: call "
                "begin_write at the start of the unit, so that everything commits together."
            )
        session.commit()  # a read: nothing is pending
    if not session.in_transaction():
        session.connection()


def _in_transaction_that_writes(session: Session) -> bool:
    options = session.connection().get_execution_options()
    return not options.get(READ_ONLY_OPTION) and options.get("isolation_level") != "AUTOCOMMIT"


def _check_write(session: Session) -> None:
    if not session.in_transaction() or _in_transaction_that_writes(session):
        return
    transaction = session.get_transaction()
    if session.info.get(_ANNOUNCED) is transaction:
        del session.info[_ANNOUNCED]  # one statement, once
        session.info[_COMMITTED_ALONE] = transaction
        return
    raise WriteOutsideTransaction(
        "This session is in a read or in autocommit: call shared.transactions.begin_write(session) "
        "at the start of the unit of work, so that its writes commit together."
    )


def _writes(statement) -> bool:
    text = getattr(statement, "element", statement)  # a text().columns(...) wraps its TextClause
    return isinstance(text, TextClause) and bool(_TEXT_WRITE.match(text.text))


@event.listens_for(Session, "do_orm_execute")
def _writes_need_a_write_transaction(state) -> None:
    if state.is_insert or state.is_update or state.is_delete or _writes(state.statement):
        _check_write(state.session)


@event.listens_for(Session, "before_flush")
def _flushes_need_a_write_transaction(session: Session, _context, _instances) -> None:
    if session.new or session.dirty or session.deleted:
        _check_write(session)
