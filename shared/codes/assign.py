"""Handing out codes from a batch, one per person: an email address or a Discord member.

A code can be handed out while it is in the batch, unassigned, unreserved, unclaimed and not
expired. Assigning it records the person and, for an email address, reserves the code for it (so
only they can claim it). The same person asking again gets the same code: idempotent by design.

Correctness is the database's: a partial unique index on (project, batch, person) makes a second
code for one person impossible, whatever the races. Taking a free code is one UPDATE of the oldest
free code (``ix_codes_unassigned``):

- PostgreSQL: one statement reads the code the person holds and, only if there is none, takes a
  free one with ``FOR UPDATE SKIP LOCKED``, so concurrent requests take different codes instead of
  queueing for one. Only when every free code is locked by requests still running does a second
  statement wait for them (one may fail, and its code is free again), so "exhausted" is only ever
  said of a batch that is. Outside a caller's transaction each statement runs in autocommit, atomic
  by itself, like a claim.
- SQLite: its single writer (``BEGIN IMMEDIATE``) serialises the read of the person's code and the
  UPDATE; nobody can come in between.

Two requests for one person that both find no code both take one; the unique index refuses the
second UPDATE (PostgreSQL waits for the first to commit), and the second request answers with the
first one's code. A request that found no free code reads the person's code once more before it
says "exhausted": a concurrent request for the same person may have taken the last one for them.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import Boolean, DateTime, bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.errors import BatchExhausted, BatchNotFound, InvalidInput
from shared.models import Code
from shared.records import CODE_COLUMNS, CODE_DATETIME_COLUMNS, AssignResult, CodeRecord
from shared.transactions import begin_atomic_statement, dialect_name
from shared.validation import normalize_batch, normalize_email

_COLUMNS = ", ".join(CODE_COLUMNS)
_DATETIMES = {name: DateTime() for name in CODE_DATETIME_COLUMNS}
_NOW = bindparam("now", type_=DateTime())
# ``ix_codes_unassigned`` holds exactly the batch's unassigned codes (the rest is filtered there).
_FREE = (
    "project_id = :project_id AND batch = :batch AND assigned_at IS NULL AND reserved_for IS NULL "
    "AND claims = 0 AND (valid_until IS NULL OR valid_until > :now)"
)
_SET = (
    "assigned_email = :email, assigned_discord_user_id = :discord_user_id, assigned_at = :now, "
    "reserved_for = :email, updated_at = :now"
)
_PERSON = {"email": "assigned_email", "discord_user_id": "assigned_discord_user_id"}


def _update(lock: str, *, unless: str = "") -> str:
    # The oldest free code first: the order ``ix_codes_unassigned`` holds, and no other index does,
    # so the plan never falls back to walking codes handed out already.
    return (
        f"UPDATE codes SET {_SET} WHERE {unless}id = (SELECT id FROM codes WHERE {_FREE} "
        f"ORDER BY created_at, id LIMIT 1 {lock}) AND assigned_at IS NULL RETURNING {_COLUMNS}"
    )


def _held(person: str) -> str:
    return (
        f"SELECT {_COLUMNS} FROM codes "
        f"WHERE project_id = :project_id AND batch = :batch AND {_PERSON[person]} = :{person}"
    )


def _statement(sql: str, **types):
    return text(sql).bindparams(_NOW).columns(**_DATETIMES, **types)


_HELD = {person: text(_held(person)).columns(**_DATETIMES) for person in _PERSON}
# PostgreSQL, one round trip: the person's code if they hold one, else a free one taken for them.
_HELD_OR_TAKEN = {
    person: _statement(
        f"WITH held AS ({_held(person)}), "
        f"taken AS ({_update('FOR UPDATE SKIP LOCKED', unless='NOT EXISTS (SELECT 1 FROM held) AND ')}) "
        f"SELECT *, false AS new FROM held UNION ALL SELECT *, true AS new FROM taken",
        new=Boolean(),
    )
    for person in _PERSON
}
_TAKE_WAITING = _statement(_update("FOR UPDATE"))
_TAKE_SQLITE = _statement(_update(""))
# A race with the same person ends after one more round; the bound is for what cannot happen.
_ROUNDS = 3


def assign_code(
    session: Session,
    project_id: int,
    batch: str,
    *,
    email: str | None = None,
    discord_user_id: int | None = None,
) -> AssignResult:
    """The code of ``batch`` handed to this email address or this Discord member (one of them):
    theirs already, or a free one now. Raises BatchNotFound (no code has this batch) or
    BatchExhausted."""
    errors: dict[str, list[str]] = {}
    try:
        batch = normalize_batch(batch)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if (email is None) == (discord_user_id is None):
        errors["email"] = ["Codes are handed out to an email address or to a Discord member (one of them)."]
    elif email is not None:
        try:
            email = normalize_email(email)
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    person = "email" if email is not None else "discord_user_id"
    params = {
        "project_id": project_id,
        "batch": batch,
        "email": email,
        "discord_user_id": discord_user_id,
        "now": utcnow(),
    }
    for _ in range(_ROUNDS):
        begin_atomic_statement(session)
        try:
            result = _held_or_taken(session, person, params)
        except IntegrityError as exc:
            if "assigned" not in str(exc.orig):
                raise
            continue  # this person was just given a code by a concurrent request: read it
        if result is not None:
            return result
        # No free code: a concurrent request for this person may have taken the last one for them.
        held = session.execute(_HELD[person], params).first()
        if held is not None:
            return AssignResult(CodeRecord.from_row(held), new=False)
        raise _why_none_left(session, project_id, batch)
    raise RuntimeError("assigning kept meeting a concurrent assignment that could not be read")


def _held_or_taken(session: Session, person: str, params: dict) -> AssignResult | None:
    """The person's code, or a free one taken for them; None when no code is free."""
    if dialect_name(session) != "postgresql":
        held = session.execute(_HELD[person], params).first()
        if held is not None:
            return AssignResult(CodeRecord.from_row(held), new=False)
        with _undone_alone_if_refused(session):
            row = session.execute(_TAKE_SQLITE, params).first()
        return AssignResult(CodeRecord.from_row(row), new=True) if row is not None else None
    # Each statement is atomic by itself (in autocommit, its own transaction): announced one by one.
    with _undone_alone_if_refused(session):
        row = session.execute(_HELD_OR_TAKEN[person], params).first()
    if row is not None:
        return AssignResult(CodeRecord.from_row(row), new=row.new)
    # Every free code is locked by requests still running: wait for them.
    begin_atomic_statement(session)
    with _undone_alone_if_refused(session):
        row = session.execute(_TAKE_WAITING, params).first()
    return AssignResult(CodeRecord.from_row(row), new=True) if row is not None else None


def _undone_alone_if_refused(session: Session):
    """A savepoint inside a transaction, so a refused UPDATE undoes only itself; in autocommit
    (PostgreSQL, no caller's transaction) the statement is its own transaction already."""
    options = session.connection().get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return contextlib.nullcontext()
    return session.begin_nested()


def _why_none_left(session: Session, project_id: int, batch: str) -> Exception:
    exists = session.execute(
        select(Code.id).where(Code.project_id == project_id, Code.batch == batch).limit(1)
    ).first()
    return BatchExhausted() if exists is not None else BatchNotFound()


_ANY_FREE = text(f"SELECT 1 FROM codes WHERE {_FREE} LIMIT 1").bindparams(_NOW)


def has_free_codes(session: Session, project_id: int, batch: str) -> bool:
    """Whether the batch still has a code to hand out (read where the session stands)."""
    params = {"project_id": project_id, "batch": normalize_batch(batch), "now": utcnow()}
    return session.execute(_ANY_FREE, params).first() is not None
