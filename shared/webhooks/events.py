"""Events: written by the change that causes them, in its own transaction (a transactional outbox).

A claim that commits always has its event and a rolled-back one never does; the worker later fans
each event out to the project's endpoints (``shared.webhooks.outbox``). An event is written only
while the project has at least one endpoint, so projects without webhooks pay one indexed
``EXISTS`` and nothing else.

``data`` is a snapshot in the domain's own terms (snake_case, ISO timestamps); the wire shapes
are made from it when it is sent (``shared.webhooks.payloads``).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, DateTime, bindparam, exists, insert, select
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.models import WebhookEndpoint, WebhookEvent
from shared.records import CODE_COLUMNS, CodeRecord

CODE_CREATED = "code.created"
CODE_CLAIMED = "code.claimed"
CODE_DELETED = "code.deleted"
DELIVERY_FAILED = "delivery.failed"
EVENT_TYPES = (CODE_CREATED, CODE_CLAIMED, CODE_DELETED, DELIVERY_FAILED)
# Where a claim was made: the REST API, the hosted claim page, the Discord bot.
CLAIM_SOURCES = ("api", "page", "bot")

_events = WebhookEvent.__table__
_endpoints = WebhookEndpoint.__table__
_LISTENING = exists().where(_endpoints.c.project_id == bindparam("project_id"))
# Built once; the values are bound at execution.
_RECORD = insert(_events).from_select(
    ["public_id", "project_id", "type", "data", "created_at"],
    select(
        bindparam("public_id"),
        bindparam("project_id"),
        bindparam("type"),
        bindparam("data", type_=JSON()),
        bindparam("created_at", type_=DateTime()),
    ).where(_LISTENING),
)


def new_event_id() -> str:
    return str(uuid.uuid4())


def is_listening(session: Session, project_id: int) -> bool:
    """Whether the project has a webhook endpoint (so its changes write events)."""
    return session.execute(select(_LISTENING), {"project_id": project_id}).scalar_one()


def record_event(
    session: Session, project_id: int, event_type: str, data: dict, *, now: dt.datetime | None = None
) -> None:
    """Write an event in the session's write transaction, if the project has an endpoint."""
    session.execute(
        _RECORD,
        {
            "public_id": new_event_id(),
            "project_id": project_id,
            "type": event_type,
            "data": data,
            "created_at": now or utcnow(),
        },
    )


def _plain(value):
    return value.isoformat() if isinstance(value, dt.datetime) else value


def code_snapshot(record: CodeRecord) -> dict:
    """A code as events store it: its columns, timestamps in ISO 8601."""
    return {name: _plain(getattr(record, name)) for name in CODE_COLUMNS}


def claim_facts(
    *, email: str | None, discord_user_id: int | None, claimed_at: dt.datetime, source: str
) -> dict:
    return {
        "email": email,
        "discord_user_id": discord_user_id,
        "claimed_at": claimed_at.isoformat(),
        "source": source,
    }
