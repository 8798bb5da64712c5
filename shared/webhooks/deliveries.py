"""An endpoint's delivery log, manual retries, and events looked up by id (``construct``)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.errors import (
    DeliveryInProgress,
    WebhookDeliveryNotFound,
    WebhookDisabled,
    WebhookEventNotFound,
)
from shared.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from shared.records import Page, encode_cursor, invalid_page_request, page_start
from shared.transactions import begin_read, begin_write
from shared.webhooks.endpoints import endpoint_row
from shared.webhooks.payloads import StoredEvent


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    attempt: int
    started_at: dt.datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    next_attempt_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    succeeded_at: dt.datetime | None
    created_at: dt.datetime
    log: list[AttemptRecord]


_DELIVERY = select(
    WebhookDelivery.id,
    WebhookEvent.public_id,
    WebhookEvent.type,
    WebhookDelivery.status,
    WebhookDelivery.attempts,
    WebhookDelivery.next_attempt_at,
    WebhookDelivery.last_status_code,
    WebhookDelivery.last_error,
    WebhookDelivery.succeeded_at,
    WebhookDelivery.created_at,
).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)


def _records(session: Session, rows) -> list[DeliveryRecord]:
    ids = [row[0] for row in rows]
    log: dict[int, list[AttemptRecord]] = defaultdict(list)
    if ids:
        attempts = session.execute(
            select(
                WebhookAttempt.delivery_id,
                WebhookAttempt.attempt,
                WebhookAttempt.started_at,
                WebhookAttempt.duration_ms,
                WebhookAttempt.status_code,
                WebhookAttempt.error,
                WebhookAttempt.next_attempt_at,
            )
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.id)
        )
        for delivery_id, *values in attempts:
            log[delivery_id].append(AttemptRecord(*values))
    return [DeliveryRecord(*row, log=log[row[0]]) for row in rows]


def list_deliveries(
    session: Session, project_id: int, endpoint_id: int, *, limit: int = 20, cursor: str | None = None
) -> Page[DeliveryRecord]:
    """The endpoint's deliveries, newest first, each with the log of its attempts."""
    errors: dict[str, list[str]] = {}
    before = page_start(limit, cursor, errors)
    if errors:
        raise invalid_page_request(errors)
    begin_read(session)
    endpoint_row(session, project_id, endpoint_id)
    query = _DELIVERY.where(WebhookDelivery.endpoint_id == endpoint_id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    rows = session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)).all()
    items = _records(session, rows[:limit])
    return Page(items, encode_cursor(items[-1].id) if len(rows) > limit else None)


def retry_delivery(
    session: Session, project_id: int, endpoint_id: int, delivery_id: int, *, retry_window: dt.timedelta
) -> DeliveryRecord:
    """Send a delivery again now (a replay, whatever became of it), with a fresh retry window.
    Receivers see the same event id, so they can tell a replay from a new event."""
    begin_write(session)
    endpoint = endpoint_row(session, project_id, endpoint_id)
    if endpoint.disabled_at is not None:
        raise WebhookDisabled()
    delivery = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id)
        .with_for_update()
    ).one_or_none()
    if delivery is None:
        raise WebhookDeliveryNotFound()
    if delivery.status == "sending":
        raise DeliveryInProgress()
    now = utcnow()
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.give_up_at = now + retry_window
    delivery.updated_at = now
    session.flush()
    rows = session.execute(_DELIVERY.where(WebhookDelivery.id == delivery_id)).all()
    return _records(session, rows)[0]


def find_event(session: Session, project_id: int, public_id: str) -> StoredEvent:
    """The project's event with this id (``POST /webhooks/construct``)."""
    begin_read(session)
    row = session.execute(
        select(WebhookEvent.public_id, WebhookEvent.type, WebhookEvent.data, WebhookEvent.created_at).where(
            WebhookEvent.public_id == public_id.strip().lower(), WebhookEvent.project_id == project_id
        )
    ).first()
    if row is None:
        raise WebhookEventNotFound()
    return StoredEvent(*row)
