"""The outbox: deliveries in the database, taken and settled by the worker.

A delivery goes ``queued`` -> ``sending`` -> ``sent`` | ``failed`` | ``cancelled``, or back to
``queued`` to wait for a retry. The rules that keep mail from being lost or sent twice:

- A worker takes a batch with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite's
  ``BEGIN IMMEDIATE`` serialises takers instead), marks it ``sending`` with a lease and counts the
  attempt, all in one short transaction.
- ``attempts`` is a fencing token: every take increments it, and a worker settles a delivery
  only where ``status = 'sending' AND attempts = <the value it took>``. A worker whose lease ran
  out and whose delivery was taken again can no longer send it or write over the other's result.
- Each message is sent inside a transaction that holds the delivery's row lock, checked first,
  and records the outcome before the lock is released. Deleting the code (which deletes unsent
  deliveries) waits for that message, or removes the row before it is sent; it never slips in
  between the check and the send.
- A worker that dies leaves ``sending`` rows behind; once their lease runs out they are queued
  again (or ``failed`` when they used up their attempts, so a message that kills the worker
  cannot do so forever).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from shared.codes import refuse_unsendable
from shared.codes.lookup import select_code
from shared.errors import CodeExpired, CodeFullyClaimed
from shared.mail.message import MailContent, MailTemplates
from shared.models import Claim, Code, Delivery, Project
from shared.pages import claim_url_template
from shared.records import CodeRecord

LEASE_EXPIRED = "The worker stopped while sending (its lease ran out)."


@dataclass(frozen=True, slots=True)
class Job:
    """A delivery a worker took, with what its message needs."""

    delivery_id: int
    attempts: int
    code_id: int | None
    created_at: dt.datetime
    content: MailContent


def requeue_expired(session: Session, *, now: dt.datetime, max_attempts: int) -> int:
    """Queue again the ``sending`` deliveries whose worker's lease ran out."""
    ids = list(
        session.scalars(
            select(Delivery.id)
            .where(Delivery.status == "sending", Delivery.lease_expires_at <= now)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return 0
    exhausted = Delivery.attempts >= max_attempts
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == "sending")
        .values(
            status=case((exhausted, "failed"), else_="queued"),
            last_error=LEASE_EXPIRED,
            next_attempt_at=now,
            lease_expires_at=None,
            updated_at=now,
        )
    )
    return len(ids)


def take_batch(
    session: Session, *, now: dt.datetime, limit: int, lease: dt.timedelta, public_url: str | None = None
) -> list[Job]:
    """Mark up to ``limit`` due deliveries ``sending`` for this worker and return them.

    A project without a claim URL of its own links to its claim page under ``public_url``.
    """
    ids = list(
        session.scalars(
            select(Delivery.id)
            .where(Delivery.status == "queued", Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    # The status check is redundant with the row locks; it keeps a take correct without them.
    ids = list(
        session.scalars(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.status == "queued")
            .values(
                status="sending",
                attempts=Delivery.attempts + 1,
                lease_expires_at=now + lease,
                updated_at=now,
            )
            .returning(Delivery.id)
        )
    )
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.attempts,
            Delivery.code_id,
            Delivery.created_at,
            Delivery.code,
            Delivery.email,
            Project.name.label("project"),
            Project.claim_url,
            Project.mail_subject_template,
            Project.mail_text_template,
            Project.mail_html_template,
            Code.valid_from,
            Code.valid_until,
            Code.reserved_for,
            Project.slug,
        )
        .join(Project, Project.id == Delivery.project_id)
        .outerjoin(Code, Code.id == Delivery.code_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.next_attempt_at, Delivery.id)
    ).all()
    return [
        Job(
            delivery_id=row.id,
            attempts=row.attempts,
            code_id=row.code_id,
            created_at=row.created_at,
            content=MailContent(
                code=row.code,
                email=row.email,
                project=row.project,
                claim_url=claim_url_template(row.claim_url, row.slug, public_url),
                templates=MailTemplates(
                    subject=row.mail_subject_template,
                    text=row.mail_text_template,
                    html=row.mail_html_template,
                ),
                valid_from=row.valid_from,
                valid_until=row.valid_until,
                reserved_for=row.reserved_for,
            ),
        )
        for row in rows
    ]


def lock_for_sending(session: Session, job: Job) -> bool:
    """Lock the delivery until the transaction ends; false when it is no longer this worker's
    to send (its code was deleted, or its lease ran out and it was taken again)."""
    held = session.scalars(
        select(Delivery.id)
        .where(
            Delivery.id == job.delivery_id, Delivery.status == "sending", Delivery.attempts == job.attempts
        )
        .with_for_update()
    ).first()
    return held is not None


def reason_to_cancel(session: Session, job: Job, now: dt.datetime) -> str | None:
    """Why sending the code is pointless now: it expired, was used up, or the recipient has it."""
    row = session.execute(select_code.where(Code.id == job.code_id)).first()
    if row is None:
        return "The code was deleted before it could be sent."
    try:
        refuse_unsendable(CodeRecord.from_row(row), now)
    except CodeExpired:
        return "The code expired before it could be sent."
    except CodeFullyClaimed:
        return "The code had no claims left when it was due to be sent."
    claimed = session.scalars(
        select(Claim.id).where(Claim.code_id == job.code_id, Claim.email == job.content.email).limit(1)
    ).first()
    if claimed is not None:
        return "The recipient had already claimed the code."
    return None


def _settle(session: Session, job: Job, **values) -> bool:
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == job.delivery_id, Delivery.status == "sending", Delivery.attempts == job.attempts
        )
        .values(lease_expires_at=None, **values)
    )
    return result.rowcount == 1


def mark_sent(session: Session, job: Job, now: dt.datetime) -> bool:
    return _settle(session, job, status="sent", sent_at=now, last_error=None, updated_at=now)


def mark_failed(session: Session, job: Job, error: str, now: dt.datetime) -> bool:
    return _settle(session, job, status="failed", last_error=error[:2000], updated_at=now)


def mark_retry(session: Session, job: Job, error: str, now: dt.datetime, retry_at: dt.datetime) -> bool:
    return _settle(
        session, job, status="queued", last_error=error[:2000], next_attempt_at=retry_at, updated_at=now
    )


def mark_cancelled(session: Session, job: Job, reason: str, now: dt.datetime) -> bool:
    # Nothing was attempted: the attempt counted when it was taken is given back.
    return _settle(
        session, job, status="cancelled", last_error=reason, attempts=Delivery.attempts - 1, updated_at=now
    )


def release(session: Session, jobs: list[Job], now: dt.datetime) -> int:
    """Give untried deliveries back to the queue, due at once, their attempt not counted."""
    released = 0
    for job in jobs:
        released += _settle(session, job, status="queued", attempts=Delivery.attempts - 1, updated_at=now)
    return released
