"""Exporting codes and claims as CSV, streamed: memory stays the same for ten rows or ten million.

The rows come through a server-side cursor (``yield_per``; on PostgreSQL in a read transaction of
its own, ``shared.db.begin_streaming_read``) and leave as CSV text a thousand rows at a time. The
filters are checked when the export is asked for, before the first row: a bad filter is an
``InvalidInput``, never a file cut short.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.clock import isoformat_z, utcnow
from shared.codes.lookup import codes_filter, get_code, select_code
from shared.errors import InvalidInput
from shared.models import Claim, Code
from shared.records import CodeRecord
from shared.transactions import begin_streaming_read
from shared.validation import normalize_batch

ROWS_PER_CHUNK = 1000
CODE_COLUMNS = (
    "code",
    "type",
    "status",
    "allowedClaims",
    "claims",
    "validFrom",
    "validUntil",
    "reservedFor",
    "batch",
    "assignedEmail",
    "assignedDiscordUserId",
    "assignedAt",
    "createdAt",
)
CLAIM_COLUMNS = ("code", "email", "discordUserId", "claimedAt")


def codes_csv(
    session: Session,
    project_id: int,
    *,
    code_type: str | None = None,
    status: str | None = None,
    reserved_for: str | None = None,
    batch: str | None = None,
) -> Iterator[str]:
    """The project's codes that pass the listing's filters, oldest first, as CSV text chunks."""
    errors: dict[str, list[str]] = {}
    condition = codes_filter(
        project_id, code_type=code_type, status=status, reserved_for=reserved_for, batch=batch, errors=errors
    )
    if errors:
        raise InvalidInput(errors)
    query = select_code.where(condition).order_by(Code.id)
    now = utcnow()
    return _csv(CODE_COLUMNS, (code_row(CodeRecord.from_row(r), now) for r in _streamed(session, query)))


def code_row(record: CodeRecord, now) -> tuple:
    """A code as one CSV row, in the order of ``CODE_COLUMNS``."""
    return (
        record.code,
        record.type,
        record.status(now),
        record.allowed_claims,
        record.claims,
        isoformat_z(record.valid_from) or "",
        isoformat_z(record.valid_until) or "",
        record.reserved_for or "",
        record.batch or "",
        record.assigned_email or "",
        record.assigned_discord_user_id or "",
        isoformat_z(record.assigned_at) or "",
        isoformat_z(record.created_at),
    )


def claims_csv(
    session: Session, project_id: int, *, code: str | None = None, batch: str | None = None
) -> Iterator[str]:
    """Who claimed the project's codes (one code's, a batch's, or all), oldest first, as CSV text.

    An unknown ``code`` is ``CodeNotFound`` at once.
    """
    query = (
        select(Code.code, Claim.email, Claim.discord_user_id, Claim.claimed_at)
        .join(Code, Code.id == Claim.code_id)
        .where(Claim.project_id == project_id)
        .order_by(Claim.id)
    )
    if code is not None:
        query = query.where(Claim.code_id == get_code(session, project_id, code).id)
    if batch is not None:
        query = query.where(Code.batch == normalize_batch(batch))
    rows = (
        (r.code, r.email or "", r.discord_user_id or "", isoformat_z(r.claimed_at))
        for r in _streamed(session, query)
    )
    return _csv(CLAIM_COLUMNS, rows)


def _streamed(session: Session, query) -> Iterator:
    begin_streaming_read(session)
    yield from session.execute(query, execution_options={"yield_per": ROWS_PER_CHUNK})


def _csv(header: tuple[str, ...], rows: Iterable[tuple]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for count, row in enumerate(rows, 1):
        writer.writerow(row)
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
