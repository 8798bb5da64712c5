"""Code services: generate, look up, list, claim, exchange a claim token, send and delete.

Every function takes a session, flushes, and never commits: the caller (an HTTP request, a bot
command, a CLI command) owns the transaction. After a DomainError the caller rolls back.

The claim is the one path that must never be wrong under concurrency. It is a conditional UPDATE
of the counter (``claims < allowed_claims`` and the validity window, checked by the database at
write time) plus an INSERT that a unique constraint guards against a second claim by the same
claimant, in one transaction; on PostgreSQL both are one statement. Only when that write fails
does Python read the row, to say why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    DateTime,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.clock import to_naive_utc, utcnow
from shared.codegen import CodeGenerator, is_in_space
from shared.db import HotStatement, is_postgresql
from shared.errors import (
    CodeAlreadyClaimed,
    CodeExpired,
    CodeFullyClaimed,
    CodeNotFound,
    CodeNotYetValid,
    CodeReserved,
    CodeSpaceExhausted,
    InvalidInput,
    TokenNotFound,
    Unauthenticated,
)
from shared.models import CODE_TYPES, Claim, Code, Delivery, Project
from shared.projects import KEY_DIGEST_COLUMNS, PresentedKey, check_key
from shared.records import (
    CODE_COLUMNS,
    ClaimRecord,
    ClaimResult,
    CodeRecord,
    DeleteResult,
    ExchangeResult,
    Page,
    SendResult,
    SkippedRecipient,
    encode_cursor,
    page_start,
)
from shared.validation import (
    MAX_GENERATE,
    MAX_SEND,
    clean_each,
    generate_errors,
    normalize_code,
    normalize_email,
)

TOKEN_LIFETIME = dt.timedelta(seconds=60)
CODE_STATUSES = ("active", "expired", "fully_claimed", "not_yet_valid")
_code_columns = [getattr(Code, name) for name in CODE_COLUMNS]


# --- generate ---------------------------------------------------------------------------------

_INSERT_COLUMNS = (
    "project_id, code, type, allowed_claims, claims, valid_from, valid_until, reserved_for, "
    "discord_guild_id, discord_role_id, created_at, updated_at"
)
_INSERT_VALUES = (
    ":project_id, {value}, :type, :allowed_claims, 0, :valid_from, :valid_until, :reserved_for, "
    ":discord_guild_id, :discord_role_id, :now, :now"
)
_BULK_INSERT = {
    # One statement for the whole batch: an array parameter (PostgreSQL) or a JSON array (SQLite).
    "postgresql": text(
        f"INSERT INTO codes ({_INSERT_COLUMNS}) "
        f"SELECT {_INSERT_VALUES.format(value='c')} FROM unnest(CAST(:codes AS text[])) AS c "
        "ON CONFLICT (project_id, code) DO NOTHING RETURNING id, code"
    ),
    "sqlite": text(
        f"INSERT INTO codes ({_INSERT_COLUMNS}) "
        f"SELECT {_INSERT_VALUES.format(value='value')} FROM json_each(:codes) WHERE true "
        "ON CONFLICT (project_id, code) DO NOTHING RETURNING id, code"
    ),
}
for _dialect, _statement in list(_BULK_INSERT.items()):
    _BULK_INSERT[_dialect] = HotStatement(
        _statement.bindparams(
            bindparam("valid_from", type_=DateTime()),
            bindparam("valid_until", type_=DateTime()),
            bindparam("now", type_=DateTime()),
        )
    )

# The types whose codes can collide with a new code of the key type.
_OVERLAPPING_TYPES = {
    "creative": ("creative",),
    "alphanumeric": ("alphanumeric", "numeric"),
    "numeric": ("numeric", "alphanumeric"),
}


def generate_codes(
    session: Session,
    project_id: int,
    *,
    amount: int,
    code_type: str = "creative",
    allowed_claims: int = 1,
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    reserved_for: str | None = None,
    discord_guild_id: int | None = None,
    discord_role_id: int | None = None,
    max_amount: int = MAX_GENERATE,
    generator: CodeGenerator | None = None,
) -> list[CodeRecord]:
    """Create ``amount`` new codes, all or none, unique within the project across all types."""
    now = utcnow()
    valid_from = to_naive_utc(valid_from) if valid_from is not None else None
    valid_until = to_naive_utc(valid_until) if valid_until is not None else None
    errors = generate_errors(
        amount=amount,
        code_type=code_type,
        allowed_claims=allowed_claims,
        valid_from=valid_from,
        valid_until=valid_until,
        now=now,
        max_amount=max_amount,
    )
    if reserved_for is not None:
        try:
            reserved_for = normalize_email(reserved_for, "reservedFor")
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    generator = generator or CodeGenerator()

    taken = _codes_in_space(session, project_id, code_type)
    space = generator.spaces[code_type]
    if amount > space - taken:
        raise CodeSpaceExhausted(
            f"Only {max(space - taken, 0)} unused {code_type} codes are left for this project."
        )
    # Numeric space can fill up: then draw from the free codes, known exactly.
    exclude: set[str] = set()
    if code_type == "numeric" and taken + amount > space // 2:
        exclude = set(
            session.scalars(
                select(Code.code).where(Code.project_id == project_id, func.length(Code.code) == 6)
            )
        )

    params = {
        "project_id": project_id,
        "type": code_type,
        "allowed_claims": allowed_claims,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "reserved_for": reserved_for,
        "discord_guild_id": discord_guild_id,
        "discord_role_id": discord_role_id,
        "now": now,
    }
    statement = _BULK_INSERT["postgresql" if is_postgresql(session) else "sqlite"]
    created: list[tuple[int, str]] = []
    # Another request may take the same codes at the same moment; ON CONFLICT skips them and the
    # next round draws replacements. Rounds are bounded: the space was checked to hold amount.
    for _ in range(8):
        missing = amount - len(created)
        if missing == 0:
            break
        candidates = generator.draw_distinct(code_type, missing, exclude=exclude)
        exclude.update(candidates)
        value = candidates if is_postgresql(session) else json.dumps(candidates)
        rows = statement.all(session, {**params, "codes": value})
        created.extend((row[0], row[1]) for row in rows)
    if len(created) < amount:
        raise CodeSpaceExhausted()
    return [
        CodeRecord(
            id=code_id,
            code=code,
            type=code_type,
            allowed_claims=allowed_claims,
            claims=0,
            valid_from=valid_from,
            valid_until=valid_until,
            reserved_for=reserved_for,
            discord_guild_id=discord_guild_id,
            discord_role_id=discord_role_id,
            created_at=now,
            updated_at=now,
        )
        for code_id, code in created
    ]


def _codes_in_space(session: Session, project_id: int, code_type: str) -> int:
    query = select(func.count()).select_from(Code).where(Code.project_id == project_id)
    if code_type == "alphanumeric":
        # Numeric codes are alphanumeric too: they take room in the alphanumeric space.
        query = query.where(Code.type.in_(_OVERLAPPING_TYPES[code_type]))
    else:
        # An alphanumeric code that happens to be all digits is rare (0.05%); the bounded draw
        # and ON CONFLICT absorb it.
        query = query.where(Code.type == code_type)
    return session.execute(query).scalar_one()


# --- read -------------------------------------------------------------------------------------

_select_code = select(*_code_columns)
_codes = Code.__table__
_projects = Project.__table__
_code_by_value = HotStatement(
    select(*(_codes.c[name] for name in CODE_COLUMNS)).where(
        _codes.c.project_id == bindparam("project_id"), _codes.c.code == bindparam("code")
    )
)


def get_code(session: Session, project_id: int, code: str) -> CodeRecord:
    value = normalize_code(code)
    row = _code_by_value.first(session, {"project_id": project_id, "code": value})
    if row is None:
        raise CodeNotFound()
    return CodeRecord(*row)


# The key's project and its code, in one statement: a row when the key is known, with the code's
# columns NULL when the project has no such code.
_code_with_key = {
    is_secret: HotStatement(
        select(_projects.c.id, _projects.c.name, *(_codes.c[name] for name in CODE_COLUMNS))
        .select_from(
            _projects.outerjoin(
                _codes, and_(_codes.c.project_id == _projects.c.id, _codes.c.code == bindparam("code"))
            )
        )
        .where(digest_column == bindparam("digest"))
    )
    for is_secret, digest_column in KEY_DIGEST_COLUMNS.items()
}


def get_code_with_key(session: Session, key: PresentedKey, code: str) -> CodeRecord:
    """:func:`get_code` in the project of a key not checked yet: the check and the lookup are one
    statement. Raises Unauthenticated for an unknown key (before CodeNotFound); confirms the key."""
    if key.api_key is not None:
        return get_code(session, key.api_key.project_id, code)
    value = normalize_code(code)
    row = _code_with_key[key.is_secret].first(session, {"digest": key.digest, "code": value})
    if row is None:
        raise Unauthenticated()
    key.confirm(row[0], row[1])
    if row[2] is None:
        raise CodeNotFound()
    return CodeRecord(*row[2:])


def _status_condition(status: str, now: dt.datetime):
    expired = and_(Code.valid_until.is_not(None), Code.valid_until <= now)
    live = or_(Code.valid_until.is_(None), Code.valid_until > now)
    full = Code.claims >= Code.allowed_claims
    open_ = Code.claims < Code.allowed_claims
    started = or_(Code.valid_from.is_(None), Code.valid_from <= now)
    return {
        "expired": expired,
        "fully_claimed": and_(live, full),
        "not_yet_valid": and_(live, open_, Code.valid_from > now),
        "active": and_(live, open_, started),
    }[status]


def list_codes(
    session: Session,
    project_id: int,
    *,
    limit: int = 20,
    cursor: str | None = None,
    code_type: str | None = None,
    status: str | None = None,
    reserved_for: str | None = None,
    prefix: str | None = None,
) -> Page[CodeRecord]:
    """The project's codes, newest first, a page at a time."""
    errors: dict[str, list[str]] = {}
    if code_type is not None and code_type not in CODE_TYPES:
        errors["type"] = [f"Must be one of: {', '.join(CODE_TYPES)}."]
    if status is not None and status not in CODE_STATUSES:
        errors["status"] = [f"Must be one of: {', '.join(CODE_STATUSES)}."]
    if reserved_for is not None:
        try:
            reserved_for = normalize_email(reserved_for, "reservedFor")
        except InvalidInput as exc:
            errors.update(exc.errors)
    before = page_start(limit, cursor, errors)
    if errors:
        raise InvalidInput(errors)

    query = _select_code.where(Code.project_id == project_id)
    if before is not None:
        query = query.where(Code.id < before)
    if code_type is not None:
        query = query.where(Code.type == code_type)
    if status is not None:
        query = query.where(_status_condition(status, utcnow()))
    if reserved_for is not None:
        query = query.where(Code.reserved_for == reserved_for)
    if prefix:
        escaped = prefix.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Code.code.like(f"{escaped}%", escape="\\"))
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
        raise InvalidInput(errors)
    record = get_code(session, project_id, code)
    query = select(Claim.id, Claim.email, Claim.discord_user_id, Claim.claimed_at).where(
        Claim.code_id == record.id
    )
    if before is not None:
        query = query.where(Claim.id < before)
    rows = session.execute(query.order_by(Claim.id.desc()).limit(limit + 1)).all()
    items = [ClaimRecord(email=r[1], discord_user_id=r[2], claimed_at=r[3]) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None
    return Page(items, next_cursor)


# --- claim ------------------------------------------------------------------------------------

_CLAIM_CONDITIONS = (
    "project_id = {project} AND code = :code AND claims < allowed_claims "
    "AND (valid_from IS NULL OR valid_from <= :now) "
    "AND (valid_until IS NULL OR valid_until > :now) "
    "AND (reserved_for IS NULL OR reserved_for = :email)"
)
_RETURNING = ", ".join(CODE_COLUMNS)
_CLAIM_TYPES = (bindparam("now", type_=DateTime()),)
_CLAIM_RESULT_TYPES = {
    "valid_from": DateTime(),
    "valid_until": DateTime(),
    "created_at": DateTime(),
    "updated_at": DateTime(),
}

# PostgreSQL: one statement. The INSERT runs only if the UPDATE took a claim; a second claim by
# the same claimant violates the unique constraint and undoes the whole statement.
_CLAIM_PG = HotStatement(
    text(
        "WITH taken AS ("
        " UPDATE codes SET claims = claims + 1, updated_at = :now"
        f" WHERE {_CLAIM_CONDITIONS.format(project=':project_id')}"
        f" RETURNING {_RETURNING}"
        "), inserted AS ("
        " INSERT INTO claims (code_id, project_id, email, discord_user_id, token_digest, claimed_at)"
        " SELECT id, :project_id, :email, :discord_user_id, :token_digest, :now FROM taken"
        " RETURNING id"
        f") SELECT {_RETURNING} FROM taken"
    )
    .bindparams(*_CLAIM_TYPES)
    .columns(**_CLAIM_RESULT_TYPES)
)

# The same, in the project of an API key checked in the same statement: a row when the key is
# known (the project's id and name), with the code's columns NULL when nothing was taken.
_CLAIM_WITH_KEY_PG = {
    is_secret: HotStatement(
        text(
            f"WITH project AS (SELECT id, name FROM projects WHERE {digest_column.name} = :digest),"
            " taken AS ("
            " UPDATE codes SET claims = claims + 1, updated_at = :now"
            f" WHERE {_CLAIM_CONDITIONS.format(project='(SELECT id FROM project)')}"
            f" RETURNING {_RETURNING}"
            "), inserted AS ("
            " INSERT INTO claims (code_id, project_id, email, discord_user_id, token_digest, claimed_at)"
            " SELECT taken.id, project.id, :email, :discord_user_id, :token_digest, :now"
            " FROM taken, project RETURNING id"
            ") SELECT project.id, project.name, "
            + ", ".join(f"taken.{name}" for name in CODE_COLUMNS)
            + " FROM project LEFT JOIN taken ON true"
        ).bindparams(*_CLAIM_TYPES)
    )
    for is_secret, digest_column in KEY_DIGEST_COLUMNS.items()
}

# SQLite: the same two writes as two statements; BEGIN IMMEDIATE already serialises writers.
_CLAIM_UPDATE_SQLITE = (
    text(
        "UPDATE codes SET claims = claims + 1, updated_at = :now"
        f" WHERE {_CLAIM_CONDITIONS.format(project=':project_id')}"
        f" RETURNING {_RETURNING}"
    )
    .bindparams(*_CLAIM_TYPES)
    .columns(**_CLAIM_RESULT_TYPES)
)
_CLAIM_INSERT_SQLITE = text(
    "INSERT INTO claims (code_id, project_id, email, discord_user_id, token_digest, claimed_at)"
    " VALUES (:code_id, :project_id, :email, :discord_user_id, :token_digest, :now)"
).bindparams(*_CLAIM_TYPES)


@dataclass(frozen=True, slots=True)
class _Claim:
    """A claim's cleaned inputs, its token and the parameters of its statements."""

    value: str
    email: str | None
    discord_user_id: int | None
    now: dt.datetime
    token: str
    params: dict

    @classmethod
    def prepare(cls, code: str, email: str | None, discord_user_id: int | None) -> _Claim:
        value = normalize_code(code)
        if email is not None:
            email = normalize_email(email)
        if email is None and discord_user_id is None:
            raise InvalidInput({"email": ["A claim needs an email address or a Discord member."]})
        now = utcnow()
        token = secrets.token_hex(16)
        params = {
            "code": value,
            "email": email,
            "discord_user_id": discord_user_id,
            "token_digest": hashlib.sha256(token.encode()).hexdigest(),
            "now": now,
        }
        return cls(value, email, discord_user_id, now, token, params)

    def result(self, code_row: Sequence) -> ClaimResult:
        return ClaimResult(
            token=self.token,
            code=CodeRecord(*code_row),
            email=self.email,
            discord_user_id=self.discord_user_id,
            claimed_at=self.now,
        )

    def refusal(self, session: Session, project_id: int) -> Exception:
        return _claim_refusal(session, project_id, self.value, self.email, self.discord_user_id, self.now)


def _already_claimed(error: IntegrityError) -> bool:
    return "email" in str(error.orig) or "discord_user_id" in str(error.orig)


def claim_code(
    session: Session,
    project_id: int,
    code: str,
    *,
    email: str | None = None,
    discord_user_id: int | None = None,
) -> ClaimResult:
    """Claim ``code`` for an email address, a Discord member, or both.

    Refusals, in this order: CodeNotFound, CodeReserved, CodeAlreadyClaimed, CodeNotYetValid,
    CodeExpired, CodeFullyClaimed.
    """
    return _claim_in_project(session, project_id, _Claim.prepare(code, email, discord_user_id))


def _claim_in_project(session: Session, project_id: int, claim: _Claim) -> ClaimResult:
    params = {**claim.params, "project_id": project_id}
    try:
        if is_postgresql(session):
            row = _CLAIM_PG.first(session, params)
        else:
            # A savepoint, so a refused INSERT also undoes the counter and the session stays usable.
            with session.begin_nested():
                row = session.execute(_CLAIM_UPDATE_SQLITE, params).first()
                if row is not None:
                    session.execute(_CLAIM_INSERT_SQLITE, {**params, "code_id": row.id})
    except IntegrityError as exc:
        if _already_claimed(exc):
            raise CodeAlreadyClaimed() from None
        raise
    if row is None:
        raise claim.refusal(session, project_id)
    return claim.result(row)


def claim_with_key(session: Session, key: PresentedKey, code: str, *, email: str) -> ClaimResult:
    """:func:`claim_code` in the project of a key not checked yet; on PostgreSQL the key's check
    and the claim are one statement. Raises Unauthenticated for an unknown key, before any refusal
    (and without touching a code); confirms a known one, except when the claimant had already
    claimed the code (the statement is undone as a whole)."""
    claim = _Claim.prepare(code, email, None)
    if key.api_key is not None or not is_postgresql(session):
        return _claim_in_project(session, check_key(session, key).project_id, claim)
    try:
        row = _CLAIM_WITH_KEY_PG[key.is_secret].first(session, {**claim.params, "digest": key.digest})
    except IntegrityError as exc:
        if _already_claimed(exc):
            raise CodeAlreadyClaimed() from None
        raise
    if row is None:
        raise Unauthenticated()
    project_id = key.confirm(row[0], row[1]).project_id
    if row[2] is None:
        raise claim.refusal(session, project_id)
    return claim.result(row[2:])


def _claim_refusal(session, project_id, value, email, discord_user_id, now) -> Exception:
    """Why the conditional UPDATE took nothing, in the documented order of checks."""
    row = session.execute(_select_code.where(Code.project_id == project_id, Code.code == value)).first()
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
    now = utcnow()
    used = session.execute(
        update(Claim)
        .where(
            Claim.token_digest == hashlib.sha256(token.strip().encode()).hexdigest(),
            Claim.project_id == project_id,
            Claim.token_used_at.is_(None),
            Claim.claimed_at >= now - TOKEN_LIFETIME,
        )
        .values(token_used_at=now)
        .returning(Claim.code_id, Claim.email, Claim.discord_user_id, Claim.claimed_at)
    ).first()
    if used is None:
        raise TokenNotFound()
    row = session.execute(_select_code.where(Code.id == used.code_id)).one()
    return ExchangeResult(
        email=used.email,
        discord_user_id=used.discord_user_id,
        code=CodeRecord.from_row(row),
        claimed_at=used.claimed_at,
    )


# --- send -------------------------------------------------------------------------------------


def send_code(session: Session, project_id: int, code: str, emails: list[str]) -> SendResult:
    """Queue a delivery of ``code`` to every recipient who could claim it; skip the others."""
    if not 1 <= len(emails) <= MAX_SEND:
        raise InvalidInput({"emails": [f"Must hold between 1 and {MAX_SEND} addresses."]})
    recipients = clean_each(emails, normalize_email, "emails")

    value = normalize_code(code)
    # Lock the code so a concurrent delete waits for the deliveries, or they wait for it.
    row = session.execute(
        _select_code.where(Code.project_id == project_id, Code.code == value).with_for_update()
    ).first()
    if row is None:
        raise CodeNotFound()
    record = CodeRecord.from_row(row)
    now = utcnow()
    if record.valid_until is not None and record.valid_until <= now:
        raise CodeExpired()
    if record.claims >= record.allowed_claims:
        raise CodeFullyClaimed()

    claimed = set(
        session.scalars(select(Claim.email).where(Claim.code_id == record.id, Claim.email.in_(recipients)))
    )
    skipped: list[SkippedRecipient] = []
    queued: list[str] = []
    for address in recipients:
        if record.reserved_for is not None and address != record.reserved_for:
            skipped.append(SkippedRecipient(address, "code_reserved"))
        elif address in claimed:
            skipped.append(SkippedRecipient(address, "code_already_claimed"))
        else:
            queued.append(address)
    ids: list[int] = []
    if queued:
        ids = list(
            session.scalars(
                insert(Delivery).returning(Delivery.id, sort_by_parameter_order=True),
                [
                    {
                        "project_id": project_id,
                        "code_id": record.id,
                        "code": record.code,
                        "email": address,
                        "status": "queued",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for address in queued
                ],
            )
        )
    return SendResult(received=len(recipients), notified=len(queued), skipped=skipped, delivery_ids=ids)


# --- delete -----------------------------------------------------------------------------------


def delete_code(session: Session, project_id: int, code: str) -> DeleteResult:
    """Delete a code with its claims and unsent deliveries; sent deliveries stay as a record."""
    value = normalize_code(code)
    row = session.execute(
        _select_code.where(Code.project_id == project_id, Code.code == value).with_for_update()
    ).first()
    if row is None:
        raise CodeNotFound()
    record = CodeRecord.from_row(row)
    holders: list[int] = []
    if record.discord_role_id is not None:
        holders = list(
            session.scalars(
                select(Claim.discord_user_id).where(
                    Claim.code_id == record.id, Claim.discord_user_id.is_not(None)
                )
            )
        )
    claims_deleted = session.execute(delete(Claim).where(Claim.code_id == record.id)).rowcount
    deliveries_removed = session.execute(
        delete(Delivery).where(Delivery.code_id == record.id, Delivery.status != "sent")
    ).rowcount
    session.execute(update(Delivery).where(Delivery.code_id == record.id).values(code_id=None))
    session.execute(delete(Code).where(Code.id == record.id))
    return DeleteResult(
        code=record,
        claims_deleted=claims_deleted,
        deliveries_removed=deliveries_removed,
        role_holders=holders,
    )


__all__ = [
    "claim_code",
    "delete_code",
    "exchange_token",
    "generate_codes",
    "get_code",
    "is_in_space",
    "list_claims",
    "list_codes",
    "send_code",
]
