"""Finding codes: one by its value, the project's codes a page at a time, and who claimed one."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.errors import CodeNotFound, InvalidInput
from shared.models import CODE_TYPES, Claim, Code
from shared.records import (
    CODE_COLUMNS,
    CODE_STATUSES,
    ClaimRecord,
    CodeRecord,
    Page,
    encode_cursor,
    invalid_page_request,
    page_start,
)
from shared.transactions import begin_read, begin_write
from shared.validation import normalize_batch, normalize_code, normalize_email

_codes = Code.__table__
select_code = select(*(_codes.c[name] for name in CODE_COLUMNS))
# One code by project and normalized value, built once (nearly every request runs it): bind
# ``project_id`` and ``code``. Writers take the row lock with CODE_BY_VALUE_FOR_UPDATE.
CODE_BY_VALUE = select_code.where(
    _codes.c.project_id == bindparam("project_id"), _codes.c.code == bindparam("code")
)
CODE_BY_VALUE_FOR_UPDATE = CODE_BY_VALUE.with_for_update()


def get_code(session: Session, project_id: int, code: str) -> CodeRecord:
    """The project's code, matched ignoring case and surrounding whitespace."""
    value = normalize_code(code)
    begin_read(session)
    row = session.execute(CODE_BY_VALUE, {"project_id": project_id, "code": value}).first()
    if row is None:
        raise CodeNotFound()
    return CodeRecord.from_row(row)


def lock_code(session: Session, project_id: int, code: str) -> CodeRecord:
    """The project's code, its row locked for this write transaction (a delete waits for a send, or
    the other way round)."""
    value = normalize_code(code)
    begin_write(session)
    row = session.execute(CODE_BY_VALUE_FOR_UPDATE, {"project_id": project_id, "code": value}).first()
    if row is None:
        raise CodeNotFound()
    return CodeRecord.from_row(row)


def status_condition(status: str, now: dt.datetime):
    """The SQL form of ``CodeRecord.status(now) == status``."""
    live = or_(Code.valid_until.is_(None), Code.valid_until > now)
    open_ = Code.claims < Code.allowed_claims
    return {
        "expired": and_(Code.valid_until.is_not(None), Code.valid_until <= now),
        "fully_claimed": and_(live, Code.claims >= Code.allowed_claims),
        "not_yet_valid": and_(live, open_, Code.valid_from > now),
        "active": and_(live, open_, or_(Code.valid_from.is_(None), Code.valid_from <= now)),
    }[status]


def codes_filter(
    project_id: int,
    *,
    code_type: str | None = None,
    status: str | None = None,
    reserved_for: str | None = None,
    batch: str | None = None,
    errors: dict[str, list[str]],
):
    """The condition that selects the project's codes by the listing's filters (the listing's
    and the export's); what is wrong with a filter is added to ``errors``."""
    conditions = [Code.project_id == project_id]
    if code_type is not None:
        if code_type not in CODE_TYPES:
            errors["code_type"] = [f"Must be one of: {', '.join(CODE_TYPES)}."]
        conditions.append(Code.type == code_type)
    if status is not None:
        if status not in CODE_STATUSES:
            errors["status"] = [f"Must be one of: {', '.join(CODE_STATUSES)}."]
        else:
            conditions.append(status_condition(status, utcnow()))
    if reserved_for is not None:
        try:
            conditions.append(Code.reserved_for == normalize_email(reserved_for, "reserved_for"))
        except InvalidInput as exc:
            errors.update(exc.errors)
    if batch is not None:
        try:
            conditions.append(Code.batch == normalize_batch(batch))
        except InvalidInput as exc:
            errors.update(exc.errors)
    return and_(*conditions)


def list_codes(
    session: Session,
    project_id: int,
    *,
    limit: int = 20,
    cursor: str | None = None,
    code_type: str | None = None,
    status: str | None = None,
    reserved_for: str | None = None,
    batch: str | None = None,
    prefix: str | None = None,
) -> Page[CodeRecord]:
    """The project's codes, newest first, a page at a time."""
    errors: dict[str, list[str]] = {}
    before = page_start(limit, cursor, errors)
    query = select_code.where(
        codes_filter(
            project_id,
            code_type=code_type,
            status=status,
            reserved_for=reserved_for,
            batch=batch,
            errors=errors,
        )
    )
    if errors:
        raise invalid_page_request(errors)
    if before is not None:
        query = query.where(Code.id < before)
    if prefix:
        escaped = prefix.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Code.code.like(f"{escaped}%", escape="\\"))
    begin_read(session)
    rows = session.execute(query.order_by(Code.id.desc()).limit(limit + 1)).all()
    items = [CodeRecord.from_row(row) for row in rows[:limit]]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
    return Page(items, next_cursor)


def list_claims(
    session: Session, project_id: int, code: str, *, limit: int = 20, cursor: str | None = None
) -> Page[ClaimRecord]:
    """Who claimed a code, newest first."""
    errors: dict[str, list[str]] = {}
    before = page_start(limit, cursor, errors)
    if errors:
        raise invalid_page_request(errors)
    record = get_code(session, project_id, code)
    query = select(Claim.id, Claim.email, Claim.discord_user_id, Claim.claimed_at).where(
        Claim.code_id == record.id
    )
    if before is not None:
        query = query.where(Claim.id < before)
    rows = session.execute(query.order_by(Claim.id.desc()).limit(limit + 1)).all()
    items = [
        ClaimRecord(email=row.email, discord_user_id=row.discord_user_id, claimed_at=row.claimed_at)
        for row in rows[:limit]
    ]
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page(items, next_cursor)
