"""Events as receivers see them: the body we POST, and the mirrored product's shapes that
``POST /webhooks/construct`` answers.

The body (Standard Webhooks' recommended fields, plus ``event`` for the mirrored product's
clients, which exchange it through ``POST /webhooks/construct``)::

    {"id": "<event id>", "event": "<event id>", "type": "code.claimed",
     "timestamp": "2026-11-26T17:45:00.012Z", "data": {...}}

Codes have the API's code object shape (``api.render.code_json``; a test holds them equal).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from shared.clock import isoformat_z
from shared.records import CODE_COLUMNS, CODE_DATETIME_COLUMNS, CodeRecord
from shared.webhooks.events import CODE_CLAIMED, CODE_CREATED, CODE_DELETED, DELIVERY_FAILED

# The mirrored product's names for the events it has.
LANCERO_EVENTS = {CODE_CLAIMED: "CODE_CLAIM", CODE_CREATED: "CODE_CREATION"}


@dataclass(frozen=True, slots=True)
class StoredEvent:
    public_id: str
    type: str
    data: dict
    created_at: dt.datetime


def _datetime(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value is not None else None


def code_record(snapshot: dict) -> CodeRecord:
    # Snapshots written before codes had batches lack the batch columns: they were null.
    values = {name: snapshot.get(name) for name in CODE_COLUMNS}
    for name in CODE_DATETIME_COLUMNS:
        values[name] = _datetime(values[name])
    return CodeRecord(*(values[name] for name in CODE_COLUMNS))


def code_object(snapshot: dict, now: dt.datetime) -> dict:
    record = code_record(snapshot)
    return {
        "code": record.code,
        "type": record.type,
        "allowedClaims": record.allowed_claims,
        "claims": record.claims,
        "validFrom": isoformat_z(record.valid_from),
        "validUntil": isoformat_z(record.valid_until),
        "reservedFor": {"email": record.reserved_for} if record.reserved_for else None,
        "status": record.status(now),
        "createdAt": isoformat_z(record.created_at),
        "updatedAt": isoformat_z(record.updated_at),
        "batch": record.batch,
        "assignedTo": _assigned_to(record),
    }


def _assigned_to(record: CodeRecord) -> dict | None:
    if record.assigned_at is None:
        return None
    return {
        "email": record.assigned_email,
        "discordUserId": _discord_user(record.assigned_discord_user_id),
        "assignedAt": isoformat_z(record.assigned_at),
    }


def _discord_user(value: int | None) -> str | None:
    # Discord ids pass 2**53: strings, as the API gives them.
    return str(value) if value is not None else None


def event_data(event: StoredEvent) -> dict:
    """The ``data`` of the body, by event type."""
    data, at = event.data, event.created_at
    if event.type == CODE_CREATED:
        return {"codes": [code_object(code, at) for code in data["codes"]]}
    if event.type == CODE_CLAIMED:
        claim = data["claim"]
        return {
            "code": code_object(data["code"], at),
            "email": claim["email"],
            "discordUserId": _discord_user(claim["discord_user_id"]),
            "claimedAt": isoformat_z(_datetime(claim["claimed_at"])),
            "source": claim["source"],
        }
    if event.type == CODE_DELETED:
        return {"code": code_object(data["code"], at), "claimsDeleted": data["claims_deleted"]}
    if event.type == DELIVERY_FAILED:
        return {
            "webhookId": data["endpoint_id"],
            "url": data["url"],
            "eventId": data["event_id"],
            "eventType": data["event_type"],
            "attempts": data["attempts"],
            "lastStatusCode": data["last_status_code"],
            "lastError": data["last_error"],
            "webhookDisabled": data["endpoint_disabled"],
        }
    raise ValueError(f"unknown event type {event.type!r}")


def body(event: StoredEvent) -> bytes:
    """The exact bytes POSTed (and signed)."""
    document = {
        "id": event.public_id,
        "event": event.public_id,
        "type": event.type,
        "timestamp": isoformat_z(event.created_at),
        "data": event_data(event),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def constructed(event: StoredEvent) -> dict:
    """What ``POST /webhooks/construct`` answers: ``{"event": "CODE_CLAIM", "data": ...}`` in the
    mirrored product's shapes; events it has no name for keep ours."""
    data = event_data(event)
    if event.type == CODE_CLAIMED:
        lead = {"email": data["email"]}
        if data["discordUserId"] is not None:
            lead["discordUserId"] = data["discordUserId"]
        return {
            "event": LANCERO_EVENTS[event.type],
            "data": {
                "lead": lead,
                "customer": dict(lead),
                "code": data["code"],
                "claimedAt": data["claimedAt"],
            },
        }
    if event.type == CODE_CREATED:
        # Its clients expect one code per event; ours has every code of the request.
        return {"event": LANCERO_EVENTS[event.type], "data": data["codes"][0], "codes": data["codes"]}
    return {"event": event.type, "data": data}
