"""From events to deliveries, and deliveries through their attempts.

- ``dispatch`` fans each new event out: one delivery per endpoint of the project that subscribes
  to its type (an endpoint never hears of its own ``delivery.failed``). Disabled endpoints get
  theirs too; they wait until the endpoint is enabled again.
- ``take`` marks due deliveries ``sending`` with a lease and counts the attempt, in one short
  transaction, with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite's BEGIN IMMEDIATE
  serialises takers), so two workers never take the same attempt. ``attempts`` is a fencing
  token: a worker settles only where ``status = 'sending' AND attempts = <what it took>``.
- ``settle`` records the attempt in the log and what comes next: success, a retry after an
  exponential, jittered delay, or ``failed`` once the retry window (about three days) is over,
  which writes a ``delivery.failed`` event. An endpoint failing for a whole window is disabled.
- ``requeue_expired`` gives back what a dead worker held once its lease ran out: at least once,
  never lost (receivers deduplicate by event id).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from shared.models import Project, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from shared.webhooks.events import DELIVERY_FAILED, record_event
from shared.webhooks.payloads import StoredEvent

LEASE_EXPIRED = "The worker stopped while sending (its lease ran out)."
PURGE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Job:
    """A delivery a worker took, with what its POST needs."""

    delivery_id: int
    attempts: int
    give_up_at: dt.datetime
    project_id: int
    endpoint_id: int
    url: str
    secrets: list[str]
    lancero_signature: bool
    event: StoredEvent


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one POST got: a status code, or the error that kept it from getting one."""

    status_code: int | None
    error: str | None
    duration_ms: int
    started_at: dt.datetime

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def reason(self) -> str:
        return self.error or f"HTTP {self.status_code}"


def dispatch(session: Session, *, now: dt.datetime, limit: int, retry_window: dt.timedelta) -> int:
    """Make the deliveries of up to ``limit`` new events; how many events were dispatched."""
    events = session.execute(
        select(WebhookEvent.id, WebhookEvent.project_id, WebhookEvent.type)
        .where(WebhookEvent.dispatched_at.is_(None))
        .order_by(WebhookEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not events:
        return 0
    ids = [event.id for event in events]
    endpoints = defaultdict(list)
    for endpoint in session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.project_id, WebhookEndpoint.events).where(
            WebhookEndpoint.project_id.in_({event.project_id for event in events})
        )
    ):
        endpoints[endpoint.project_id].append(endpoint)
    failed_endpoint = {
        event_id: data.get("endpoint_id")
        for event_id, data in session.execute(
            select(WebhookEvent.id, WebhookEvent.data).where(
                WebhookEvent.id.in_(ids), WebhookEvent.type == DELIVERY_FAILED
            )
        )
    }
    deliveries = [
        {
            "event_id": event.id,
            "endpoint_id": endpoint.id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "give_up_at": now + retry_window,
            "created_at": now,
            "updated_at": now,
        }
        for event in events
        for endpoint in endpoints[event.project_id]
        if event.type in endpoint.events and failed_endpoint.get(event.id) != endpoint.id
    ]
    if deliveries:
        session.execute(insert(WebhookDelivery), deliveries)
    session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(ids)).values(dispatched_at=now))
    return len(events)


def requeue_expired(session: Session, *, now: dt.datetime) -> int:
    """Queue again the ``sending`` deliveries whose worker's lease ran out, logging the attempt."""
    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.attempts)
        .where(WebhookDelivery.status == "sending", WebhookDelivery.lease_expires_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_([row.id for row in rows]), WebhookDelivery.status == "sending")
        .values(
            status="pending",
            last_error=LEASE_EXPIRED,
            next_attempt_at=now,
            lease_expires_at=None,
            updated_at=now,
        )
    )
    session.execute(
        insert(WebhookAttempt),
        [
            {
                "delivery_id": row.id,
                "attempt": row.attempts,
                "started_at": now,
                "duration_ms": 0,
                "error": LEASE_EXPIRED,
                "next_attempt_at": now,
            }
            for row in rows
        ],
    )
    return len(rows)


def take(session: Session, *, now: dt.datetime, limit: int, lease: dt.timedelta) -> list[Job]:
    """Mark up to ``limit`` due deliveries of enabled endpoints ``sending`` and return them."""
    ids = list(
        session.scalars(
            select(WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.disabled_at.is_(None),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
    )
    if not ids:
        return []
    # The status check is redundant with the row locks; it keeps a take correct without them.
    ids = list(
        session.scalars(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == "pending")
            .values(
                status="sending",
                attempts=WebhookDelivery.attempts + 1,
                lease_expires_at=now + lease,
                updated_at=now,
            )
            .returning(WebhookDelivery.id)
        )
    )
    rows = session.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.attempts,
            WebhookDelivery.give_up_at,
            WebhookEndpoint.project_id,
            WebhookEndpoint.id,
            WebhookEndpoint.url,
            WebhookEndpoint.secret,
            WebhookEndpoint.previous_secret,
            WebhookEndpoint.previous_secret_expires_at,
            Project.webhook_lancero_signature,
            WebhookEvent.public_id,
            WebhookEvent.type,
            WebhookEvent.data,
            WebhookEvent.created_at,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(Project, Project.id == WebhookEndpoint.project_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
    ).all()
    jobs = []
    for row in rows:
        secrets = [row.secret]
        if row.previous_secret and row.previous_secret_expires_at and row.previous_secret_expires_at > now:
            secrets.append(row.previous_secret)
        jobs.append(
            Job(
                delivery_id=row[0],
                attempts=row[1],
                give_up_at=row[2],
                project_id=row[3],
                endpoint_id=row[4],
                url=row[5],
                secrets=secrets,
                lancero_signature=row[9],
                event=StoredEvent(row[10], row[11], row[12], row[13]),
            )
        )
    return jobs


def settle(
    session: Session,
    job: Job,
    outcome: Outcome,
    *,
    now: dt.datetime,
    retry_at: dt.datetime,
    retry_window: dt.timedelta,
) -> str | None:
    """Record one attempt; ``succeeded``, ``pending`` (retry at ``retry_at``) or ``failed``, or
    None when the delivery is no longer this worker's (its lease ran out and it was taken again)."""
    if outcome.ok:
        status, next_attempt_at = "succeeded", None
    elif retry_at > job.give_up_at:
        status, next_attempt_at = "failed", None
    else:
        status, next_attempt_at = "pending", retry_at
    settled = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == job.delivery_id,
            WebhookDelivery.status == "sending",
            WebhookDelivery.attempts == job.attempts,
        )
        .values(
            status=status,
            next_attempt_at=next_attempt_at,
            lease_expires_at=None,
            last_status_code=outcome.status_code,
            last_error=None if outcome.ok else outcome.reason[:2000],
            succeeded_at=now if outcome.ok else None,
            updated_at=now,
        )
    )
    if settled.rowcount != 1:
        return None
    session.execute(
        insert(WebhookAttempt).values(
            delivery_id=job.delivery_id,
            attempt=job.attempts,
            started_at=outcome.started_at,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            error=outcome.error[:500] if outcome.error else None,
            next_attempt_at=next_attempt_at,
        )
    )
    endpoint = WebhookEndpoint.__table__.c
    if outcome.ok:
        session.execute(
            update(WebhookEndpoint).where(endpoint.id == job.endpoint_id).values(failing_since=None)
        )
        return status
    session.execute(
        update(WebhookEndpoint)
        .where(endpoint.id == job.endpoint_id)
        .values(failing_since=func.coalesce(endpoint.failing_since, now))
    )
    disabled = session.execute(
        update(WebhookEndpoint)
        .where(
            endpoint.id == job.endpoint_id,
            endpoint.disabled_at.is_(None),
            endpoint.failing_since <= now - retry_window,
        )
        .values(disabled_at=now)
    ).rowcount
    if (status == "failed" or disabled) and job.event.type != DELIVERY_FAILED:
        record_event(
            session,
            job.project_id,
            DELIVERY_FAILED,
            {
                "endpoint_id": job.endpoint_id,
                "url": job.url,
                "event_id": job.event.public_id,
                "event_type": job.event.type,
                "attempts": job.attempts,
                "last_status_code": outcome.status_code,
                "last_error": outcome.reason,
                "endpoint_disabled": bool(disabled),
            },
            now=now,
        )
    return status


def release(session: Session, jobs: list[Job], now: dt.datetime) -> int:
    """Give untried deliveries back, due at once, their attempt not counted."""
    released = 0
    for job in jobs:
        released += session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == job.delivery_id,
                WebhookDelivery.status == "sending",
                WebhookDelivery.attempts == job.attempts,
            )
            .values(
                status="pending", attempts=WebhookDelivery.attempts - 1, lease_expires_at=None, updated_at=now
            )
        ).rowcount
    return released


def purge(session: Session, *, before: dt.datetime) -> int:
    """Delete up to PURGE_BATCH events older than ``before``, with their deliveries and log."""
    ids = list(
        session.scalars(
            select(WebhookEvent.id)
            .where(WebhookEvent.created_at < before)
            .order_by(WebhookEvent.id)
            .limit(PURGE_BATCH)
        )
    )
    if ids:
        session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))
    return len(ids)
