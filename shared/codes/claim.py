"""Claiming a code, and exchanging the claim's one-time token.

The claim is the one path that must never be wrong under concurrency. It is a conditional UPDATE
of the counter (``claims < allowed_claims``, the validity window and the reservation, checked by
the database at write time) plus an INSERT that a unique constraint guards against a second claim
by the same claimant, in one transaction. Only when that write takes nothing does Python read the
row, to say why.

A successful claim also writes its ``code.claimed`` webhook event (when the project has an
endpoint) with the same atomicity, so a committed claim always has its event and a refused or
rolled-back one never does. On PostgreSQL all three writes are one statement, atomic by itself,
so it needs no transaction of its own (``shared.transactions.begin_atomic_statement``): measured
side by side, a short transaction instead (BEGIN, the claim, the event, COMMIT) cost about 40% of
hot-claim throughput, the event in the statement nothing measurable (docs/performance.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets

from sqlalchemy import DateTime, bindparam, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.codes.lookup import CODE_BY_VALUE, select_code
from shared.errors import (
    CodeAlreadyClaimed,
    CodeExpired,
    CodeFullyClaimed,
    CodeNotFound,
    CodeNotYetValid,
    CodeReserved,
    DomainError,
    InvalidInput,
    TokenNotFound,
)
from shared.models import Claim, Code
from shared.records import CODE_COLUMNS, CODE_DATETIME_COLUMNS, ClaimResult, CodeRecord, ExchangeResult
from shared.transactions import begin_atomic_statement, begin_write, dialect_name
from shared.validation import is_storable, normalize_code, normalize_email
from shared.webhooks.events import (
    CLAIM_SOURCES,
    CODE_CLAIMED,
    claim_facts,
    code_snapshot,
    new_event_id,
    record_event,
)

TOKEN_LIFETIME = dt.timedelta(seconds=60)

_CLAIMABLE = (
    "project_id = :project_id AND code = :code AND claims < allowed_claims "
    "AND (valid_from IS NULL OR valid_from <= :now) "
    "AND (valid_until IS NULL OR valid_until > :now) "
    "AND (reserved_for IS NULL OR reserved_for = :email)"
)
_TAKE = f"UPDATE codes SET claims = claims + 1, updated_at = :now WHERE {_CLAIMABLE}"
_RECORD_COLUMNS = "code_id, project_id, email, discord_user_id, token_digest, claimed_at"
_CODE_COLUMNS = ", ".join(CODE_COLUMNS)
_DATETIMES = {name: DateTime() for name in CODE_DATETIME_COLUMNS}
_NOW = bindparam("now", type_=DateTime())

# PostgreSQL: one statement. The INSERTs run only if the UPDATE took a claim; a second claim by
# the same claimant violates the unique constraint and undoes the whole statement. The event (only
# while the project has an endpoint) holds the claim's facts and the code as the claim left it, in
# the snapshot form of shared.webhooks.events.
_CLAIM_POSTGRESQL = (
    text(
        f"WITH taken AS ({_TAKE} RETURNING {_CODE_COLUMNS}), "
        f"recorded AS (INSERT INTO claims ({_RECORD_COLUMNS})"
        " SELECT id, :project_id, :email, :discord_user_id, :token_digest, :now FROM taken RETURNING id), "
        "announced AS (INSERT INTO webhook_events (public_id, project_id, type, data, created_at)"
        " SELECT :event_id, :project_id, 'code.claimed',"
        " json_build_object('claim', CAST(:facts AS json), 'code', row_to_json(taken)), :now FROM taken"
        " WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE project_id = :project_id) RETURNING id) "
        f"SELECT {_CODE_COLUMNS} FROM taken"
    )
    .bindparams(_NOW)
    .columns(**_DATETIMES)
)
# SQLite: the same two writes as two statements, in a savepoint of a write transaction.
_TAKE_SQLITE = text(f"{_TAKE} RETURNING {_CODE_COLUMNS}").bindparams(_NOW).columns(**_DATETIMES)
_RECORD_SQLITE = text(
    f"INSERT INTO claims ({_RECORD_COLUMNS})"
    " VALUES (:code_id, :project_id, :email, :discord_user_id, :token_digest, :now)"
).bindparams(_NOW)


def claim_code(
    session: Session,
    project_id: int,
    code: str,
    *,
    email: str | None = None,
    discord_user_id: int | None = None,
    source: str = "api",
) -> ClaimResult:
    """Claim ``code`` for an email address, a Discord member, or both.

    ``source`` says where the claim was made (``api``, ``page`` or ``bot``), for its webhook
    event. Refusals, in this order: CodeNotFound, CodeReserved, CodeAlreadyClaimed,
    CodeNotYetValid, CodeExpired, CodeFullyClaimed. On PostgreSQL, outside a transaction the
    caller opened for writing, a successful claim (and its event) is committed by its own
    statement; anything that must commit with it needs ``begin_write`` before the claim. After a
    refusal the caller rolls back (inside a PostgreSQL transaction, a refused repeat claim has
    aborted it).
    """
    if source not in CLAIM_SOURCES:
        raise InvalidInput({"source": [f"One of: {', '.join(CLAIM_SOURCES)}."]})
    value = normalize_code(code)
    if email is not None:
        email = normalize_email(email)
    if email is None and discord_user_id is None:
        raise InvalidInput({"email": ["A claim needs an email address or a Discord member."]})
    now = utcnow()
    token = secrets.token_hex(16)
    facts = claim_facts(email=email, discord_user_id=discord_user_id, claimed_at=now, source=source)
    params = {
        "project_id": project_id,
        "code": value,
        "email": email,
        "discord_user_id": discord_user_id,
        "token_digest": token_digest(token),
        "now": now,
        "event_id": new_event_id(),
        "facts": json.dumps(facts),
    }
    try:
        row = _take_and_record(session, params)
    except IntegrityError as exc:
        if _is_second_claim(exc):
            raise CodeAlreadyClaimed() from None
        raise
    if row is None:
        raise _refusal(session, project_id, value, email=email, discord_user_id=discord_user_id, now=now)
    record = CodeRecord.from_row(row)
    if dialect_name(session) != "postgresql":
        record_event(
            session, project_id, CODE_CLAIMED, {"claim": facts, "code": code_snapshot(record)}, now=now
        )
    return ClaimResult(
        token=token,
        code=record,
        email=email,
        discord_user_id=discord_user_id,
        claimed_at=now,
    )


def _take_and_record(session: Session, params: dict):
    """The claimed code's row after the claim, or None when the conditional UPDATE took nothing."""
    begin_atomic_statement(session)
    if dialect_name(session) == "postgresql":
        return session.execute(_CLAIM_POSTGRESQL, params).first()
    # A savepoint, so a refused INSERT also undoes the counter and the session stays usable.
    with session.begin_nested():
        row = session.execute(_TAKE_SQLITE, params).first()
        if row is not None:
            session.execute(_RECORD_SQLITE, {**params, "code_id": row.id})
    return row


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _is_second_claim(error: IntegrityError) -> bool:
    """Whether the INSERT hit the unique (code, email) or (code, discord_user_id) constraint."""
    message = str(error.orig)
    return "email" in message or "discord_user_id" in message


def _refusal(
    session: Session,
    project_id: int,
    value: str,
    *,
    email: str | None,
    discord_user_id: int | None,
    now: dt.datetime,
) -> DomainError:
    """Why the conditional UPDATE took nothing, in the documented order of checks."""
    row = session.execute(CODE_BY_VALUE, {"project_id": project_id, "code": value}).first()
    if row is None:
        return CodeNotFound()
    record = CodeRecord.from_row(row)
    if record.reserved_for is not None and record.reserved_for != email:
        return CodeReserved()
    claimant = []
    if email is not None:
        claimant.append(Claim.email == email)
    if discord_user_id is not None:
        claimant.append(Claim.discord_user_id == discord_user_id)
    already = session.execute(
        select(Claim.id).where(Claim.code_id == record.id, or_(*claimant)).limit(1)
    ).first()
    if already is not None:
        return CodeAlreadyClaimed()
    if record.valid_from is not None and record.valid_from > now:
        return CodeNotYetValid()
    if record.valid_until is not None and record.valid_until <= now:
        return CodeExpired()
    return CodeFullyClaimed()


def exchange_token(session: Session, project_id: int, token: str) -> ExchangeResult:
    """Verify a claim token from a page: once, within 60 seconds, for the project that claimed."""
    if not is_storable(token):  # no token holds one of these characters: it cannot match, or be hashed
        raise TokenNotFound()
    now = utcnow()
    begin_write(session)
    used = session.execute(
        update(Claim)
        .where(
            Claim.token_digest == token_digest(token.strip()),
            Claim.project_id == project_id,
            Claim.token_used_at.is_(None),
            Claim.claimed_at >= now - TOKEN_LIFETIME,
        )
        .values(token_used_at=now)
        .returning(Claim.code_id, Claim.email, Claim.discord_user_id, Claim.claimed_at)
    ).first()
    if used is None:
        raise TokenNotFound()
    row = session.execute(select_code.where(Code.__table__.c.id == used.code_id)).one()
    return ExchangeResult(
        email=used.email,
        discord_user_id=used.discord_user_id,
        code=CodeRecord.from_row(row),
        claimed_at=used.claimed_at,
    )
