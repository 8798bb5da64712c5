"""A project's webhook endpoints: register, list, remove, rotate the secret, enable again; the
project's switch for the mirrored product's ``lancero-signature`` header.

Services take a session, flush, and never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.errors import InvalidInput, ProjectNotFound, TooManyWebhooks, WebhookNotFound
from shared.models import Project, WebhookDelivery, WebhookEndpoint
from shared.transactions import begin_read, begin_write
from shared.webhooks.events import EVENT_TYPES
from shared.webhooks.signing import new_secret
from shared.webhooks.urls import Resolver, checked_url

MAX_ENDPOINTS = 16
# After a rotation the old secret signs too, for this long, so receivers can switch without a gap.
ROTATION_OVERLAP = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    id: int
    url: str
    events: list[str]
    failing_since: dt.datetime | None
    disabled_at: dt.datetime | None
    created_at: dt.datetime

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    @property
    def health(self) -> str:
        """``disabled`` (after failing for the whole retry window), ``failing`` (its last
        delivery failed), or ``healthy``."""
        if self.disabled_at is not None:
            return "disabled"
        return "failing" if self.failing_since is not None else "healthy"

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointRecord:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            events=list(endpoint.events),
            failing_since=endpoint.failing_since,
            disabled_at=endpoint.disabled_at,
            created_at=endpoint.created_at,
        )


@dataclass(frozen=True, slots=True)
class EndpointWithSecret:
    """An endpoint and its signing secret: answered once, when created or rotated."""

    endpoint: EndpointRecord
    secret: str


def checked_events(events: list[str] | None) -> list[str]:
    """The event types to subscribe to, in order, once each; all of them when not given."""
    if events is None:
        return list(EVENT_TYPES)
    unknown = [event for event in events if event not in EVENT_TYPES]
    if unknown or not events:
        raise InvalidInput({"events": [f"One or more of: {', '.join(EVENT_TYPES)}."]})
    return list(dict.fromkeys(events))


def add_endpoint(
    session: Session,
    project_id: int,
    url: str,
    events: list[str] | None = None,
    *,
    allow_private: bool,
    resolver: Resolver | None = None,
) -> EndpointWithSecret:
    """Register ``url`` for ``events`` (default: all) and make its signing secret."""
    errors: dict[str, list[str]] = {}
    try:
        url = checked_url(url, allow_private=allow_private, resolver=resolver)
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        events = checked_events(events)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    begin_write(session)
    # The project's row lock makes concurrent registrations count one after the other.
    locked = session.execute(select(Project.id).where(Project.id == project_id).with_for_update()).first()
    if locked is None:
        raise ProjectNotFound()
    count = session.execute(
        select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.project_id == project_id)
    ).scalar_one()
    if count >= MAX_ENDPOINTS:
        raise TooManyWebhooks(f"A project may have at most {MAX_ENDPOINTS} webhook endpoints.")
    endpoint = WebhookEndpoint(project_id=project_id, url=url, events=events, secret=new_secret())
    session.add(endpoint)
    session.flush()
    return EndpointWithSecret(EndpointRecord.of(endpoint), endpoint.secret)


def list_endpoints(session: Session, project_id: int) -> list[EndpointRecord]:
    begin_read(session)
    endpoints = session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.project_id == project_id).order_by(WebhookEndpoint.id)
    )
    return [EndpointRecord.of(endpoint) for endpoint in endpoints]


def endpoint_row(
    session: Session, project_id: int, endpoint_id: int, *, lock: bool = False
) -> WebhookEndpoint:
    """The project's endpoint, or WebhookNotFound (another project's endpoint too)."""
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.project_id == project_id
    )
    endpoint = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if endpoint is None:
        raise WebhookNotFound()
    return endpoint


def remove_endpoint(session: Session, project_id: int, endpoint_id: int) -> EndpointRecord:
    """Remove an endpoint with its delivery log; nothing more is sent to it."""
    begin_write(session)
    endpoint = endpoint_row(session, project_id, endpoint_id, lock=True)
    record = EndpointRecord.of(endpoint)
    session.delete(endpoint)
    session.flush()
    return record


def rotate_secret(session: Session, project_id: int, endpoint_id: int) -> EndpointWithSecret:
    """A new signing secret; the old one keeps signing beside it for ROTATION_OVERLAP."""
    begin_write(session)
    endpoint = endpoint_row(session, project_id, endpoint_id, lock=True)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    endpoint.secret = new_secret()
    session.flush()
    return EndpointWithSecret(EndpointRecord.of(endpoint), endpoint.secret)


def enable_endpoint(
    session: Session, project_id: int, endpoint_id: int, *, retry_window: dt.timedelta
) -> EndpointRecord:
    """Enable an endpoint again: what waited for it is due at once, with a fresh retry window."""
    begin_write(session)
    endpoint = endpoint_row(session, project_id, endpoint_id, lock=True)
    now = utcnow()
    endpoint.disabled_at = None
    endpoint.failing_since = None
    session.flush()
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .values(next_attempt_at=now, give_up_at=now + retry_window, updated_at=now)
    )
    return EndpointRecord.of(endpoint)


def lancero_signature(session: Session, project_id: int) -> bool:
    begin_read(session)
    enabled = session.execute(
        select(Project.webhook_lancero_signature).where(Project.id == project_id)
    ).scalar_one_or_none()
    if enabled is None:
        raise ProjectNotFound()
    return enabled


def set_lancero_signature(session: Session, project_id: int, enabled: bool) -> bool:
    """Whether deliveries also carry the secret itself in ``lancero-signature`` (weaker)."""
    begin_write(session)
    changed = session.execute(
        update(Project).where(Project.id == project_id).values(webhook_lancero_signature=enabled)
    )
    if changed.rowcount != 1:
        raise ProjectNotFound()
    return enabled
