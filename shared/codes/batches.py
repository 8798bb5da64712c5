"""A project's batches with how far their codes went: one grouped count, a page of names at a time.

A batch exists while codes carry its name; it needs no creating and goes with its last code.
"""

from __future__ import annotations

import base64
import binascii

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.errors import BatchNotFound, InvalidInput
from shared.models import Code
from shared.records import MAX_PAGE, BatchRecord, Page, invalid_page_request
from shared.transactions import begin_read
from shared.validation import normalize_batch


def _counts(now):
    live = or_(Code.valid_until.is_(None), Code.valid_until > now)
    available = and_(Code.assigned_at.is_(None), Code.reserved_for.is_(None), Code.claims == 0, live)
    return (
        Code.batch,
        func.count().label("total"),
        func.count().filter(Code.claims == 0).label("unclaimed"),
        func.count().filter(Code.assigned_at.is_not(None)).label("assigned"),
        func.count().filter(Code.claims > 0).label("claimed"),
        func.count().filter(available).label("available"),
    )


def _record(row) -> BatchRecord:
    return BatchRecord(
        name=row.batch,
        total=row.total,
        unclaimed=row.unclaimed,
        assigned=row.assigned,
        claimed=row.claimed,
        available=row.available,
    )


def list_batches(
    session: Session, project_id: int, *, limit: int = 20, cursor: str | None = None
) -> Page[BatchRecord]:
    """The project's batches by name, with their counts."""
    errors: dict[str, list[str]] = {}
    if not 1 <= limit <= MAX_PAGE:
        errors["limit"] = [f"Must be between 1 and {MAX_PAGE}."]
    after = _decode(cursor, errors) if cursor else None
    if errors:
        raise invalid_page_request(errors)
    query = select(*_counts(utcnow())).where(Code.project_id == project_id, Code.batch.is_not(None))
    if after is not None:
        query = query.where(Code.batch > after)
    begin_read(session)
    rows = session.execute(query.group_by(Code.batch).order_by(Code.batch).limit(limit + 1)).all()
    items = [_record(row) for row in rows[:limit]]
    return Page(items, _encode(items[-1].name) if len(rows) > limit else None)


def get_batch(session: Session, project_id: int, name: str) -> BatchRecord:
    """One batch with its counts; BatchNotFound when no code carries the name."""
    name = normalize_batch(name)
    begin_read(session)
    row = session.execute(
        select(*_counts(utcnow()))
        .where(Code.project_id == project_id, Code.batch == name)
        .group_by(Code.batch)
    ).first()
    if row is None:
        raise BatchNotFound()
    return _record(row)


def batch_names(session: Session, project_id: int, prefix: str = "", *, limit: int = 25) -> list[str]:
    """The project's batch names that start with ``prefix`` (suggestions while a name is typed)."""
    begin_read(session)
    query = select(Code.batch).where(Code.project_id == project_id, Code.batch.is_not(None))
    if prefix.strip():
        escaped = prefix.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Code.batch.like(f"{escaped}%", escape="\\"))
    return list(session.scalars(query.group_by(Code.batch).order_by(Code.batch).limit(limit)))


def _encode(name: str) -> str:
    return base64.urlsafe_b64encode(f"b1:{name}".encode()).decode().rstrip("=")


def _decode(cursor: str, errors: dict[str, list[str]]) -> str | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        version, _, name = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        if version == "b1" and name:
            return normalize_batch(name)
    except (ValueError, binascii.Error, UnicodeError, InvalidInput):
        pass
    errors["cursor"] = ["Not a valid cursor."]
    return None
