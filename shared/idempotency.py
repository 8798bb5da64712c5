"""Idempotency keys (Stripe's model): a retried write replays the response of the first attempt.

A request that carries a key first calls :func:`begin`. The first request with a given key (per
project) inserts the row: a unique constraint makes that insert the atomic "in progress" marker,
so of any number of concurrent duplicates exactly one runs. It then records its response with
:func:`finish`, or gives the key back with :func:`release` when its result must not be replayed
(a failure the client should be able to retry with the same key).

A later request with the same key and the same fingerprint gets the stored response; with another
fingerprint, :class:`IdempotencyKeyReused`; while the first still runs, :class:`RequestInProgress`.
A running request holds the key for a lease only: if it died, the next duplicate after the lease
takes the key over, so no key stays stuck. Keys expire after their TTL and are purged.

Like every service here these functions flush and never commit; but the caller must commit
:func:`begin` before doing the work, so that concurrent duplicates see the marker.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.errors import IdempotencyKeyReused, RequestInProgress
from shared.models import IdempotencyKey
from shared.transactions import begin_write

DEFAULT_TTL = dt.timedelta(hours=24)
DEFAULT_LEASE = dt.timedelta(seconds=60)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Acquired:
    """This request holds the key: run it, then :func:`finish` or :func:`release` with the token."""

    token: str


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The response of the first request with this key, to be replayed byte for byte."""

    status: int
    body: str


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and body (as canonical JSON if it is JSON)."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    return hashlib.sha256(f"{method.upper()} {path}\n".encode() + canonical).hexdigest()


def _insert(session: Session):
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(IdempotencyKey)


def begin(
    session: Session,
    project_id: int,
    key: str,
    request_fingerprint: str,
    *,
    ttl: dt.timedelta = DEFAULT_TTL,
    lease: dt.timedelta = DEFAULT_LEASE,
) -> Acquired | StoredResponse:
    """Take ``key`` for this request, or say why not. Commit before running the request."""
    begin_write(session)
    token = secrets.token_hex(16)
    # A few rounds at most: each one either decides or saw the row change under it.
    for _ in range(4):
        now = utcnow()
        inserted = session.execute(
            _insert(session)
            .values(
                project_id=project_id,
                key=key,
                fingerprint=request_fingerprint,
                lock_token=token,
                locked_until=now + lease,
                created_at=now,
                expires_at=now + ttl,
            )
            .on_conflict_do_nothing(index_elements=["project_id", "key"])
            .returning(IdempotencyKey.id)
        ).first()
        if inserted is not None:
            return Acquired(token)

        row = session.execute(
            select(
                IdempotencyKey.id,
                IdempotencyKey.fingerprint,
                IdempotencyKey.response_status,
                IdempotencyKey.response_body,
                IdempotencyKey.locked_until,
                IdempotencyKey.expires_at,
            ).where(IdempotencyKey.project_id == project_id, IdempotencyKey.key == key)
        ).first()
        if row is None:
            continue  # released between our insert and our read: insert again
        if row.expires_at <= now:
            # An expired key is a new key; only one of several racing requests renews it.
            if _take_over(
                session,
                row.id,
                token,
                IdempotencyKey.expires_at <= now,
                fingerprint=request_fingerprint,
                response_status=None,
                response_body=None,
                locked_until=now + lease,
                created_at=now,
                expires_at=now + ttl,
            ):
                return Acquired(token)
            continue
        if row.fingerprint != request_fingerprint:
            raise IdempotencyKeyReused()
        if row.response_status is not None:
            return StoredResponse(row.response_status, row.response_body or "")
        if row.locked_until is not None and row.locked_until > now:
            raise RequestInProgress()
        # The request holding the key outlived its lease (it died, most likely): take it over.
        if _take_over(
            session,
            row.id,
            token,
            IdempotencyKey.response_status.is_(None),
            IdempotencyKey.locked_until <= now,
            locked_until=now + lease,
        ):
            return Acquired(token)
    raise RequestInProgress()


def _take_over(session: Session, row_id: int, token: str, *conditions, **values) -> bool:
    result = session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row_id, *conditions)
        .values(lock_token=token, **values)
    )
    return result.rowcount == 1


def finish(session: Session, project_id: int, key: str, token: str, status: int, body: str) -> bool:
    """Store the response to replay. False if the lease was lost to another request meanwhile."""
    begin_write(session)
    result = session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.project_id == project_id,
            IdempotencyKey.key == key,
            IdempotencyKey.lock_token == token,
            IdempotencyKey.response_status.is_(None),
        )
        .values(response_status=status, response_body=body, lock_token=None, locked_until=None)
    )
    return result.rowcount == 1


def release(session: Session, project_id: int, key: str, token: str) -> None:
    """Give the key back unused: the next request with it runs as if it were the first."""
    begin_write(session)
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.project_id == project_id,
            IdempotencyKey.key == key,
            IdempotencyKey.lock_token == token,
            IdempotencyKey.response_status.is_(None),
        )
    )


def purge_expired(session: Session, *, now: dt.datetime | None = None) -> int:
    """Delete the keys past their TTL; returns how many went."""
    begin_write(session)
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or utcnow())))
    return result.rowcount
