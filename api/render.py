"""Domain records to JSON bodies, in the shapes the response schemas document."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from flask import Response, current_app, stream_with_context

from shared.clock import isoformat_z, utcnow
from shared.records import ClaimRecord, CodeRecord

# Codes generated together share their timestamps: 10,000 of them need only a few formatted.
_timestamp = functools.lru_cache(maxsize=1024)(isoformat_z)


def code_json(record: CodeRecord, now=None) -> dict:
    return {
        "code": record.code,
        "type": record.type,
        "allowedClaims": record.allowed_claims,
        "claims": record.claims,
        "validFrom": _timestamp(record.valid_from),
        "validUntil": _timestamp(record.valid_until),
        "reservedFor": {"email": record.reserved_for} if record.reserved_for else None,
        "status": record.status(now or utcnow()),
        "createdAt": _timestamp(record.created_at),
        "updatedAt": _timestamp(record.updated_at),
        "batch": record.batch,
        "assignedTo": _assigned_to(record),
    }


def _assigned_to(record: CodeRecord) -> dict | None:
    if record.assigned_at is None:
        return None
    discord_id = record.assigned_discord_user_id
    return {
        "email": record.assigned_email,
        "discordUserId": str(discord_id) if discord_id is not None else None,
        "assignedAt": _timestamp(record.assigned_at),
    }


def claim_json(record: ClaimRecord) -> dict:
    return {
        "email": record.email,
        "discordUserId": str(record.discord_user_id) if record.discord_user_id else None,
        "claimedAt": isoformat_z(record.claimed_at),
    }


def success(data) -> Response:
    """The success envelope, HTTP 200."""
    return current_app.json.response({"success": True, "data": data})


def csv_download(chunks: Iterator[str], filename: str) -> Response:
    """A CSV file streamed as ``chunks`` come (the request's session stays open until the last)."""
    response = current_app.response_class(stream_with_context(chunks), status=200, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
